package identity_test

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var benchEvents = flag.Int("events", 200_000, "log size for BenchmarkProcess")

var benchPG = flag.Bool("pg", false, "run BenchmarkProcess on PostgreSQL (OMNIROI_TEST_PG)")

var benchBatch = flag.Int("batch", 0, "events per transaction (BatchSize and CatchUpBatchSize; 0: defaults)")

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
		if err := identity.NewProcessor(db, identity.Options{BatchSize: *benchBatch, CatchUpBatchSize: *benchBatch}).Rebuild(ctx); err != nil {
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

var benchDBFile = flag.String("dbfile", "", "BenchmarkCatchUpFile: an omniroi.db holding events only (e.g. a demo load with the derived tables emptied)")

// BenchmarkCatchUpFile measures CatchUp over a copy of a real event log, such as the demo's
// 942k events, which the generated log of BenchmarkProcess does not resemble closely:
//
//	go test -run '^$' -bench CatchUpFile -benchtime 1x ./internal/identity/ -args -dbfile /path/omniroi.db
func BenchmarkCatchUpFile(b *testing.B) {
	if *benchDBFile == "" {
		b.Skip("needs -dbfile")
	}
	ctx := context.Background()
	var n int64
	var elapsed, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		if err := copyFile(*benchDBFile, filepath.Join(dir, "omniroi.db")); err != nil {
			b.Fatal(err)
		}
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if n, err = db.MaxEventSeq(ctx); err != nil {
			b.Fatal(err)
		}
		t0, cpu0 := time.Now(), cpuTime()
		b.StartTimer()
		err = identity.NewProcessor(db, identity.Options{BatchSize: *benchBatch, CatchUpBatchSize: *benchBatch, OwnHosts: []string{"crumbandco.example"}}).CatchUp(ctx)
		b.StopTimer()
		elapsed += time.Since(t0)
		cpu += cpuTime() - cpu0
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
