//go:build unix

package rollup_test

import (
	"context"
	"maps"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// BenchmarkPeriodDemo compares the Overview's revenue by channel and by location for a
// period read from the daily rollups (rollup.ForPeriod) with the scan of the period's
// orders it replaces, on a demo store (the rollup is built first when the store predates
// it):
//
//	go run ./cmd/omniroi demo --no-serve --data /tmp/demo20k
//	OMNIROI_ROLLUP_DEMO=/tmp/demo20k go test -run '^$' -bench PeriodDemo -benchtime 20x ./internal/rollup/
//
// cpu-ms/op is the process's user + system CPU time per operation.
func BenchmarkPeriodDemo(b *testing.B) {
	dir := os.Getenv("OMNIROI_ROLLUP_DEMO")
	if dir == "" {
		b.Skip("set OMNIROI_ROLLUP_DEMO to a demo data directory (omniroi demo --no-serve --data DIR)")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	cur, err := workspace.Currency(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	if ok, err := rollup.Current(ctx, db, loc); err != nil {
		b.Fatal(err)
	} else if !ok {
		t0 := time.Now()
		if err := db.Write(ctx, func(tx *store.Tx) error { return rollup.Rebuild(ctx, tx, loc) }); err != nil {
			b.Fatal(err)
		}
		b.Logf("built the rollup in %s", time.Since(t0).Round(time.Millisecond))
	}
	var last int64
	if err := db.QueryRow(ctx, `SELECT MAX(ts) FROM orders`).Scan(&last); err != nil {
		b.Fatal(err)
	}
	y, m, d := time.UnixMilli(last).In(loc).Date()
	to := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	for _, p := range []struct {
		name string
		from time.Time
	}{{"7d", to.AddDate(0, 0, -7)}, {"30d", to.AddDate(0, 0, -30)}, {"90d", to.AddDate(0, 0, -90)}, {"all", time.Time{}}} {
		var want, got map[string][2]int64
		b.Run(p.name+"/orders", func(b *testing.B) {
			measure(b, func() {
				var err error
				if want, err = orderScan(ctx, db, p.from, to, cur); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(p.name+"/rollup", func(b *testing.B) {
			measure(b, func() {
				per, err := rollup.ForPeriod(ctx, db, rollup.Query{From: p.from, To: to, Loc: loc})
				if err != nil {
					b.Fatal(err)
				}
				got = map[string][2]int64{}
				for _, r := range per.Rows {
					if r.Currency == cur && r.Orders > 0 {
						for _, k := range []string{"channel " + r.Channel, "location " + r.Location} {
							x := got[k]
							got[k] = [2]int64{x[0] + r.Orders, money.SatAdd(x[1], r.RevenueMinor)}
						}
					}
				}
			})
			if !b.Failed() && want != nil && !maps.Equal(got, want) {
				b.Errorf("the rollup and the order scan disagree:\n%v\n%v", got, want)
			}
		})
	}
}

func measure(b *testing.B, op func()) {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	c0 := cpu()
	for range b.N {
		op()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpu()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// orderScan is the Overview's former query: the period's purchases in the business
// currency summed by the order's channel and by its location.
func orderScan(ctx context.Context, db *store.DB, from, to time.Time, cur string) (map[string][2]int64, error) {
	col, lo := "ts", int64(-1<<62)
	if !from.IsZero() {
		lo = from.UnixMilli()
	}
	if from.IsZero() || to.Sub(from) > 120*24*time.Hour {
		col = "+ts"
	}
	rows, err := db.Query(ctx, `SELECT revenue_minor, channel, location FROM orders WHERE `+col+` >= ? AND `+col+` < ? AND currency = ? AND revenue_minor >= 0`, lo, to.UnixMilli(), cur)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var rev int64
		var ch, where string
		if err := rows.Scan(&rev, &ch, &where); err != nil {
			return nil, err
		}
		for _, k := range []string{"channel " + ch, "location " + where} {
			x := out[k]
			out[k] = [2]int64{x[0] + 1, money.SatAdd(x[1], rev)}
		}
	}
	return out, rows.Err()
}
