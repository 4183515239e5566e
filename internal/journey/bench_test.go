package journey

import (
	"context"
	"testing"

	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkJourneyRuns: go test -bench JourneyRuns -benchtime 1x ./internal/journey/
func BenchmarkJourneyRuns(b *testing.B) {
	for range b.N {
		b.StopTimer()
		db := storetest.SQLite(b)
		b.StartTimer()
		res, err := Bench(context.Background(), db, BenchOptions{Runs: 20000})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.RunsPerMinute, "runs/min")
		b.ReportMetric(res.Entry.Seconds(), "entry-s")
		b.ReportMetric(res.Timers.Seconds(), "timers-s")
		b.ReportMetric(res.Dispatch.Seconds(), "dispatch-s")
	}
}

func TestBenchSmall(t *testing.T) {
	db := storetest.SQLite(t)
	res, err := Bench(context.Background(), db, BenchOptions{Runs: 300, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sends != 300 {
		t.Fatalf("%+v", res)
	}
}
