package pathstore_test

import (
	"context"
	"errors"
	"fmt"
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
			touch := func(i int) pathstore.Touch {
				return pathstore.Touch{Customer: int64(1 + i%5000), TS: day + int64(i)*10, Seq: int64(i + 1),
					Name: "Product Viewed", Channel: "Paid Search", Campaign: "spring"}
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
