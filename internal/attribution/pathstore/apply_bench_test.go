package pathstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var errRollback = errors.New("roll back")

// BenchmarkApplyDayRow is the processor's edit of today's row under sustained ingest: a
// day's row already holding stored touches of 5,000 customers, and a batch of 1,000 new
// touches for them. Each iteration runs in a transaction that is rolled back, so the row
// keeps its size.
func BenchmarkApplyDayRow(b *testing.B) {
	for _, stored := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.SQLite(b)
			day := t0.UnixMilli()
			// Each touch has strings of its own, as events decoded by the collector do.
			names := []string{"Page Viewed", "Product Viewed", "Product Added"}
			touch := func(i int) pathstore.Touch {
				return pathstore.Touch{Customer: int64(1 + i%5000), TS: day + int64(i)*10, Seq: int64(i + 1),
					Name: strings.Clone(names[i%3]), Channel: strings.Clone("Paid Search"), Campaign: strings.Clone("spring")}
			}
			var seed pathstore.Change
			for i := range stored {
				seed.Touches = append(seed.Touches, touch(i))
			}
			if err := db.Write(ctx, func(tx *store.Tx) error { return pathstore.Apply(ctx, tx, seed) }); err != nil {
				b.Fatal(err)
			}
			var batch pathstore.Change
			for i := stored; i < stored+1000; i++ {
				batch.Touches = append(batch.Touches, touch(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, n := cpuTime(), 0
			for b.Loop() {
				n++
				err := db.Write(ctx, func(tx *store.Tx) error {
					if err := pathstore.Apply(ctx, tx, batch); err != nil {
						return err
					}
					return errRollback
				})
				if !errors.Is(err, errRollback) {
					b.Fatal(err)
				}
			}
			// The machine is shared: CPU time per batch is the steadier figure.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkApplyCachedDay is the processor's edits of one day under sustained ingest, as
// serve makes them: 50 batches of 1,000 touches of 5,000 customers, each committed, with
// the rows kept decoded between batches (RowCache), so that the day's row grows to 50,000
// touches. Each touch has strings of its own, as the collector's events do. One
// iteration is the whole day (a new day each time); cpu-µs/batch is per batch.
func BenchmarkApplyCachedDay(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	names := []string{"Page Viewed", "Product Viewed", "Product Added"}
	cache := &pathstore.RowCache{}
	const batches, per = 50, 1000
	b.ReportAllocs()
	cpu0, n, seq := cpuTime(), 0, int64(0)
	for d := 0; b.Loop(); d++ {
		day := t0.UnixMilli() + int64(d)*pathstore.DayMS
		for k := range batches {
			ch := pathstore.Change{Cache: cache}
			for i := k * per; i < (k+1)*per; i++ {
				seq++
				ch.Touches = append(ch.Touches, pathstore.Touch{Customer: int64(1 + i%5000), TS: day + int64(i)*10, Seq: seq,
					Name: strings.Clone(names[i%3]), Channel: strings.Clone("Paid Search"), Campaign: strings.Clone("spring")})
			}
			if err := db.Write(ctx, func(tx *store.Tx) error { return pathstore.Apply(ctx, tx, ch) }); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/batch")
}
