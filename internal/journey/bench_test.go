package journey

import (
	"context"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkJourneyRuns: go test -run XXX -bench JourneyRuns -benchtime 1x ./internal/journey/
// (postgres too when OMNIROI_TEST_PG is set).
func BenchmarkJourneyRuns(b *testing.B) {
	for _, c := range []struct {
		name  string
		open  func(testing.TB) *store.DB
		smart bool
	}{{"sqlite", storetest.SQLite, false}, {"sqlite-smart", storetest.SQLite, true}, {"postgres", storetest.Postgres, false}} {
		smart := c.smart
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				db := c.open(b)
				b.StartTimer()
				res, err := Bench(context.Background(), db, BenchOptions{Runs: 20000, Smart: smart})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.RunsPerMinute, "runs/min")
				b.ReportMetric(res.Entry.Seconds(), "entry-s")
				b.ReportMetric(res.Timers.Seconds(), "timers-s")
				b.ReportMetric(res.Dispatch.Seconds(), "dispatch-s")
			}
		})
	}
}

func TestBenchSmall(t *testing.T) {
	t.Parallel()
	for _, smart := range []bool{false, true} {
		db := storetest.SQLite(t)
		res, err := Bench(context.Background(), db, BenchOptions{Runs: 150, Batch: 50, Smart: smart})
		if err != nil {
			t.Fatal(err)
		}
		if res.Sends != 150 {
			t.Fatalf("smart %v: %+v", smart, res)
		}
	}
}
