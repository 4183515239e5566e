package collect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

const ajsBundle = "testdata/analytics-next/analytics-next-1.84.3.umd.js"

// TestAnalyticsJSBrowser loads Segment's analytics.js (analytics-next) in headless
// Chromium from a page on another origin, pointed at omniroi with cdnURL only: it must
// fetch the settings from us, pass CORS, and send identify, track and page.
func TestAnalyticsJSBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browsertest.Need(t)
	chromium := browsertest.Path()

	for _, mode := range []struct{ name, loadOptions, route string }{
		{"one request per call", `{}`, "/v1/t"},
		// analytics.js's batching delivery posts to /v1/b with the write key in the body.
		{"batching", `{integrations: {"Segment.io": {deliveryStrategy: {strategy: "batching", config: {size: 3, timeout: 200}}}}}`, "/v1/b"},
	} {
		t.Run(mode.name, func(t *testing.T) { runAnalyticsJS(t, chromium, mode.loadOptions, mode.route) })
	}
}

func runAnalyticsJS(t *testing.T, chromium, loadOptions, route string) {
	f := newFixture(t, storetest.SQLite(t), collect.Options{})
	var mu sync.Mutex
	paths := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		f.h.ServeHTTP(w, r)
	}))
	defer api.Close()
	page := fmt.Sprintf(`<!doctype html><html><body><div id="out">loading</div>
<script src="/analytics.js"></script>
<script>
(async () => {
  try {
    const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({writeKey: %q, cdnURL: %q}, %s);
    await Promise.all([
      analytics.identify("u-browser", {email: "ana@example.com"}),
      analytics.track("Browser Test", {n: 1}),
      analytics.page("Home"),
    ]);
    document.getElementById("out").textContent = "sent";
  } catch (e) { document.getElementById("out").textContent = "error " + e; }
})();
</script></body></html>`, f.key, api.URL, loadOptions)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, page)
		case "/analytics.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, ajsBundle)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=20000", "--dump-dom", site.URL+"/")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `<div id="out">sent</div>`) {
		t.Fatalf("analytics.js did not finish sending:\n%s", out)
	}
	evs := f.events(t)
	got := map[string]string{}
	for _, e := range evs {
		got[e.Type] = e.Name
		if e.UserID != "u-browser" || e.AnonymousID == "" || !strings.Contains(string(e.Body), `"library":{"name":"analytics.js"`) {
			t.Errorf("stored %s event: user %q anon %q body %s", e.Type, e.UserID, e.AnonymousID, e.Body)
		}
		if d := time.Since(e.Timestamp); d < 0 || d > 2*time.Minute {
			t.Errorf("%s timestamp %v", e.Type, e.Timestamp)
		}
	}
	if len(evs) != 3 || got["track"] != "Browser Test" || got["page"] != "Home" {
		t.Fatalf("stored %d events: %v", len(evs), got)
	}
	mu.Lock()
	defer mu.Unlock()
	if paths["POST "+route] == 0 || paths["GET /v1/projects/"+f.key+"/settings"] == 0 {
		t.Fatalf("requests %v: want settings loaded and events posted to %s", paths, route)
	}
}
