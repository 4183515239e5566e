package collect_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestPreflightAllowsRetryHeader: analytics.js adds X-Retry-Count to a request it sends
// again; a preflight that does not allow the header makes the browser drop every retry,
// and with it the events that needed one.
func TestPreflightAllowsRetryHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), collect.Options{})
	req, _ := http.NewRequest("OPTIONS", f.srv.URL+"/v1/t", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-retry-count")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "content-type", "x-retry-count"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("preflight allows %q, not %s", allowed, h)
		}
	}
}
