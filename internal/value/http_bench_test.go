package value

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
)

// BenchmarkHTTPDemo times the value API on a loaded store:
//
//	OMNIROI_BENCH_DATA=DIR go test -run '^$' -bench HTTPDemo ./internal/value
//
// "cold" is the first request after a change (load, acquisitions, fits, scores),
// the others are served from the cache (a state check and JSON encoding).
func BenchmarkHTTPDemo(b *testing.B) {
	dir := os.Getenv("OMNIROI_BENCH_DATA")
	if dir == "" {
		b.Skip("OMNIROI_BENCH_DATA names a data directory with a loaded store (e.g. omniroi demo --no-serve --data DIR)")
	}
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	get := func(b *testing.B, h http.Handler, path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			get(b, NewHTTPHandler(db), "/api/v1/clv")
		}
	})
	h := NewHTTPHandler(db)
	get(b, h, "/api/v1/clv")
	for _, p := range []string{"/api/v1/clv", "/api/v1/customers/101357/value", "/api/v1/segments", "/api/v1/cohorts", "/api/v1/economics"} {
		b.Run("warm"+p, func(b *testing.B) {
			for b.Loop() {
				get(b, h, p)
			}
		})
	}
}
