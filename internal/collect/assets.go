package collect

import (
	"embed"
	"io/fs"
	"net/http"
	"regexp"
)

// The analytics.js snippet loads its bundle from {cdn}/analytics.js/v1/{writeKey}/analytics.min.js,
// finds its write key in that path (or in analytics._writeKey), fetches its settings from
// {cdn}/v1/projects/{writeKey}/settings and its lazily loaded parts from
// {cdn}/analytics-next/bundles/. omniroi serves all of it, so a site's snippet points at
// omniroi alone (Snippet).

//go:embed ajs/*.js
var ajsFS embed.FS

// AnalyticsJSVersion is the version of the analytics.js bundle omniroi serves.
const AnalyticsJSVersion = "1.84.3"

var chunkName = regexp.MustCompile(`^[A-Za-z0-9-]+\.bundle\.[0-9a-f]+\.js$`)

func (h *Handler) registerAssets(mux *http.ServeMux) {
	mux.HandleFunc("GET /analytics.js/v1/{writeKey}/analytics.min.js", func(w http.ResponseWriter, r *http.Request) {
		serveAJS(w, r, "standalone.js")
	})
	mux.HandleFunc("GET /analytics-next/bundles/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if !chunkName.MatchString(name) {
			http.NotFound(w, r)
			return
		}
		serveAJS(w, r, name)
	})
}

func serveAJS(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(ajsFS, "ajs/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}
