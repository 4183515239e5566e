package identity_test

import (
	"context"
	"flag"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var benchEvents = flag.Int("events", 200_000, "log size for BenchmarkProcess")

var benchPG = flag.Bool("pg", false, "run BenchmarkProcess on PostgreSQL (OMNIROI_TEST_PG)")

var benchBatch = flag.Int("batch", 0, "processor batch size for BenchmarkProcess (0: default)")

// BenchmarkProcess measures processing throughput (events/s) of a full replay of a
// 200,000-event log (-events N) on SQLite:
//
//	go test -run '^$' -bench Process -benchtime 3x ./internal/identity/ [-args -events 1000000 -batch 10000]
func BenchmarkProcess(b *testing.B) {
	n := *benchEvents
	db := storetest.SQLite(b)
	if *benchPG {
		db = storetest.Postgres(b)
	}
	evs := genEvents(n, 42)
	for start := 0; start < n; start += 5000 {
		insert(b, db, evs[start:min(start+5000, n)]...)
	}
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := identity.NewProcessor(db, identity.Options{BatchSize: *benchBatch}).Rebuild(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// The machine is shared: events per CPU-second of this process is the steadier figure.
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
