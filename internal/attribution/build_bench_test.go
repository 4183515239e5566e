package attribution

import (
	"context"
	"os"
	"testing"

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

// OMNIROI_ATTR_DEMO=/tmp/attr-roi go test -run x -bench BuildPathsDemo ./internal/attribution/
func BenchmarkBuildPathsDemo(b *testing.B) {
	db := demoDB(b)
	var sum Summary
	cpu0 := processCPU()
	for b.Loop() {
		var err error
		if _, sum, err = BuildPaths(context.Background(), db, PathOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(sum.Events), "events")
	b.ReportMetric(float64(sum.Conversions), "conversions")
	b.ReportMetric(float64(sum.NullPaths), "nulls")
	b.Logf("%+v", sum)
}
