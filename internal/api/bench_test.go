package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkRouter measures what the route table adds to an API request: the token lookup
// and role check, and the second dispatch when a route's handler is a domain package's
// own mux (as for attribution, value and journeys):
//
//	go test -run '^$' -bench Router -benchtime 20000x ./internal/api/
func BenchmarkRouter(b *testing.B) {
	db := storetest.SQLite(b)
	_, secret, err := api.CreateRoleToken(context.Background(), db, "bench", auth.RoleViewer)
	if err != nil {
		b.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	inner := http.NewServeMux()
	inner.Handle("GET /api/v1/x/{name}", ok)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"handler", ok}, {"sub-mux", inner}} {
		router, err := api.NewRouter(db, []api.Route{{Pattern: "GET /api/v1/x/{name}", Perm: auth.PermReadReports, Handler: c.h}})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/v1/x/y", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			for b.Loop() {
				rec := httptest.NewRecorder()
				router.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
	b.Run("mux-only", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/api/v1/x/y", nil)
		for b.Loop() {
			inner.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
}
