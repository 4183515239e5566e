package collect_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestSettingsCacheSafety: a settings object that echoes the request's Host must not be
// stored by a shared cache (a forged Host would poison it for every visitor); one built
// from --public-url may be, and ignores the Host.
func TestSettingsCacheSafety(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		opt    collect.Options
		host   string // apiHost expected in the body
		public bool
	}{
		{"echoes Host", collect.Options{}, "evil.example/v1", false},
		{"host configured, scheme echoed", collect.Options{APIHost: "track.example.com/v1"}, "track.example.com/v1", false},
		{"public URL", collect.Options{APIHost: "track.example.com/v1", APIProtocol: "https"}, "track.example.com/v1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, storetest.SQLite(t), c.opt)
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/projects/"+f.key+"/settings", nil)
			req.Host = "evil.example"
			r := do(t, req)
			if r.status != 200 {
				t.Fatalf("settings: %d %s", r.status, r.raw)
			}
			seg := r.body["integrations"].(map[string]any)["Segment.io"].(map[string]any)
			if seg["apiHost"] != c.host {
				t.Errorf("apiHost %v, want %s", seg["apiHost"], c.host)
			}
			cc := r.header.Get("Cache-Control")
			var vary []string
			for _, v := range r.header.Values("Vary") {
				for _, x := range strings.Split(v, ",") {
					vary = append(vary, strings.TrimSpace(x))
				}
			}
			if c.public {
				if !strings.HasPrefix(cc, "public") {
					t.Errorf("Cache-Control %q, want public", cc)
				}
				return
			}
			if !strings.HasPrefix(cc, "private") {
				t.Errorf("Cache-Control %q, want private", cc)
			}
			if c.opt.APIHost == "" && !slices.Contains(vary, "Host") {
				t.Errorf("Vary %v lacks Host", vary)
			}
			if c.opt.APIProtocol == "" && !slices.Contains(vary, "X-Forwarded-Proto") {
				t.Errorf("Vary %v lacks X-Forwarded-Proto", vary)
			}
		})
	}
}
