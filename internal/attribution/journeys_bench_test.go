package attribution

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/testenv"
)

// demoDB opens a loaded demo data directory named by OMNIROI_ATTR_DEMO (made with
// `omniroi demo --no-serve --data DIR`); benchmarks on real-size data skip without it.
func demoDB(b *testing.B) *store.DB {
	dir := os.Getenv("OMNIROI_ATTR_DEMO")
	testenv.Need(b, "set OMNIROI_ATTR_DEMO to a loaded demo data directory", dir != "")
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// OMNIROI_ATTR_DEMO=/tmp/attr-roi go test -run x -bench BuildJourneysDemo ./internal/attribution/
func BenchmarkBuildJourneysDemo(b *testing.B) {
	db := demoDB(b)
	var sum Summary
	cpu0 := processCPU()
	for b.Loop() {
		var err error
		if _, sum, err = BuildJourneys(context.Background(), db, JourneyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(sum.Events), "events")
	b.ReportMetric(float64(sum.Conversions), "conversions")
	b.ReportMetric(float64(sum.NullJourneys), "nulls")
	b.Logf("%+v", sum)
}

// OMNIROI_ATTR_DEMO=/tmp/attr-roi go test -run x -bench HTTPCachedDemo ./internal/attribution/
func BenchmarkHTTPCachedDemo(b *testing.B) {
	h := NewHTTPHandler(demoDB(b))
	url := "/api/v1/attribution?model=all&from=2026-10-01&to=2026-11-01"
	first := time.Now()
	serve := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	}
	serve()
	miss := time.Since(first)
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
	b.ReportMetric(miss.Seconds(), "miss-s")
}
