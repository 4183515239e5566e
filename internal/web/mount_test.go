package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	omniserver "github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestMountOnServer mounts the dashboard the way `omniroi serve` does and checks that the
// collection API and /healthz keep their routes.
func TestMountOnServer(t *testing.T) {
	db := storetest.SQLite(t)
	s, err := omniserver.New(db, omniserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Mux.Handle("/", h) // panics on a pattern conflict
	ts := httptest.NewServer(s.Mux)
	defer ts.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	resp, err = c.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("/: %d %s, want the login redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The collection API answers for itself (no write key: not the dashboard's login).
	resp, err = c.Post(ts.URL+"/v1/batch", "application/json", strings.NewReader(`{"batch":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther || resp.Header.Get("Location") != "" {
		t.Errorf("/v1/batch went to the dashboard: %d", resp.StatusCode)
	}
}
