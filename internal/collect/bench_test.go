package collect_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

const benchEvent = `{"type":"track","event":"Product Viewed","userId":"user-%d","anonymousId":"anon-5f0f3f8e-%d","messageId":"msg-%d-%d","timestamp":"2026-03-01T11:59:58.123Z","properties":{"product_id":"sku-1234","price":19.99,"currency":"EUR","category":"bread"},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","page":{"path":"/p/sourdough","url":"https://bakery.example/p/sourdough","referrer":"https://www.google.com/"},"campaign":{"source":"google","medium":"cpc","name":"spring"}}}`

// BenchmarkGroupCommit measures the committer's share per event: one durable
// transaction of 1,000 normalised events (SQLite, synchronous=FULL), as the handler
// writes them.
func BenchmarkGroupCommit(b *testing.B) {
	for _, size := range []int{250, 1000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			db := openBenchDB(b)
			if err := db.PrepareFastInsert(context.Background()); err != nil {
				b.Fatal(err)
			}
			cp, err := db.StartCheckpointer(250 * time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			defer cp.Stop()
			in := &event.Input{ReceivedAt: time.Now()}
			evs := make([]event.Event, size)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cpuTime()
			n := 0
			for b.Loop() {
				for i := range evs {
					n++
					ev, err := in.Normalize(fmt.Appendf(nil, benchEvent, n%5000, n, b.N, n))
					if err != nil {
						b.Fatal(err)
					}
					ev.SourceID = 1
					evs[i] = ev
				}
				err := db.Write(ctx, func(tx *store.Tx) error {
					if err := store.LockEventLog(ctx, tx); err != nil {
						return err
					}
					_, err := db.InsertEventsFast(ctx, tx, evs)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := cp.Tail(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/event")
		})
	}
}

// openBenchDB opens SQLite; OMNIROI_BENCH_PAGE_SIZE creates the file with another page
// size first (an experiment for store.openSQLite).
func openBenchDB(b *testing.B) *store.DB {
	ps := os.Getenv("OMNIROI_BENCH_PAGE_SIZE")
	if ps == "" {
		return storetest.SQLite(b)
	}
	dir := b.TempDir()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "omniroi.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA page_size=" + ps + "; CREATE TABLE x(a); DROP TABLE x"); err != nil {
		b.Fatal(err)
	}
	raw.Close()
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// cpuTime is the process's user+system CPU time: on a shared machine wall time says
// more about the neighbours than about us.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestInsertEventsFast checks the prepared-chunk insert against odd group sizes and
// duplicates (it runs inside every group commit).
func TestInsertEventsFast(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	if err := db.PrepareFastInsert(ctx); err != nil {
		t.Fatal(err)
	}
	in := &event.Input{ReceivedAt: time.Now()}
	mk := func(from, n int) []event.Event {
		evs := make([]event.Event, n)
		for i := range evs {
			ev, err := in.Normalize(fmt.Appendf(nil, benchEvent, i, i, 0, from+i))
			if err != nil {
				t.Fatal(err)
			}
			ev.SourceID = 1
			evs[i] = ev
		}
		return evs
	}
	insert := func(evs []event.Event) int {
		var n int
		err := db.Write(ctx, func(tx *store.Tx) error {
			var err error
			n, err = db.InsertEventsFast(ctx, tx, evs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := insert(mk(0, 613)); n != 613 { // 2×250 + 2×50 + 1×10 + 3×1
		t.Fatalf("inserted %d of 613", n)
	}
	if n := insert(mk(600, 20)); n != 7 { // 13 of them are stored already
		t.Fatalf("inserted %d new of 20 (7 new)", n)
	}
	if n, err := db.MaxEventSeq(ctx); err != nil || n != 620 {
		t.Fatalf("max seq %d %v, want 620", n, err)
	}
}
