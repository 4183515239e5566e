package pathstore_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

type M = map[string]any

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// genEvents makes a messy shop: people on several devices who identify late (so customers
// merge), campaign and Direct visits around midnight, order events with campaigns, orders
// sent again with a later time and another amount, partial and full refunds (some before
// their order arrives), and an Order Refunded touch.
func genEvents(r *rand.Rand, people int) []M {
	var out []M
	ts := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	pages := []M{
		{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=Brand"},
		{"url": "https://shop.example/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring"},
		{"url": "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=may"},
		{"url": "https://shop.example/blog", "referrer": "https://www.google.com/"},
		{"url": "https://shop.example/"},
	}
	orderN := 0
	for p := range people {
		devices := 1 + r.IntN(3)
		user := fmt.Sprintf("u%d", p)
		at := time.Duration(r.IntN(20*24)) * time.Hour
		var orders []string
		for e := range 3 + r.IntN(12) {
			dev := fmt.Sprintf("a%d-%d", p, r.IntN(devices))
			at += time.Duration(r.IntN(3)) * time.Duration(1+r.IntN(40)) * time.Minute
			if r.IntN(4) == 0 {
				at += time.Duration(r.IntN(72)) * time.Hour
			}
			base := M{"anonymousId": dev, "timestamp": ts(at)}
			if e > 2 && r.IntN(3) == 0 {
				base["userId"] = user // identifies: merges this device's customer into the user's
			}
			ev := M{}
			for k, v := range base {
				ev[k] = v
			}
			switch k := r.IntN(10); {
			case k < 5:
				ev["type"] = "page"
				ev["name"] = "Home"
				ev["context"] = M{"page": pages[r.IntN(len(pages))]}
			case k < 7:
				ev["type"] = "track"
				ev["event"] = []string{"Product Viewed", "Product Added", "Signed Up", "Order Refunded"}[r.IntN(4)]
			case k < 9 || len(orders) == 0:
				orderN++
				id := fmt.Sprintf("o%d", orderN)
				if len(orders) > 0 && r.IntN(4) == 0 {
					id = orders[r.IntN(len(orders))] // sent again: the later one wins
				}
				orders = append(orders, id)
				ev["type"] = "track"
				ev["event"] = "Order Completed"
				ev["userId"] = user
				ev["properties"] = M{"order_id": id, "revenue": float64(100+r.IntN(9000)) / 100, "currency": "EUR"}
				if r.IntN(2) == 0 {
					ev["context"] = M{"campaign": M{"source": "newsletter", "medium": "email", "name": "june"}}
				}
			default:
				ev["type"] = "track"
				ev["event"] = "Order Refunded"
				ev["userId"] = user
				props := M{"order_id": orders[r.IntN(len(orders))], "currency": "EUR"}
				if r.IntN(2) == 0 {
					props["revenue"] = float64(r.IntN(2000)) / 100
				}
				ev["properties"] = props
			}
			out = append(out, ev)
		}
	}
	return out
}

// stored returns the table's rows as encoded bytes by key, and their summaries.
func stored(t *testing.T, db *store.DB) (map[[2]int64][]byte, map[[2]int64][]byte) {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT block, day, data, summary, touches, orders FROM paths`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	data, sums := map[[2]int64][]byte{}, map[[2]int64][]byte{}
	for rows.Next() {
		var k [2]int64
		var d, s []byte
		var nt, no int
		if err := rows.Scan(&k[0], &k[1], &d, &s, &nt, &no); err != nil {
			t.Fatal(err)
		}
		r, err := pathstore.DecodeRow(k[0], k[1], d)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Touches) != nt || len(r.Orders) != no {
			t.Errorf("row %v: counts %d/%d, holds %d/%d", k, nt, no, len(r.Touches), len(r.Orders))
		}
		data[k], sums[k] = d, s
	}
	return data, sums
}

// fromScratch computes every row from the processor's tables.
func fromScratch(t *testing.T, db *store.DB) (map[[2]int64][]byte, map[[2]int64][]byte) {
	t.Helper()
	ctx := context.Background()
	data, sums := map[[2]int64][]byte{}, map[[2]int64][]byte{}
	var lo, hi int64
	if err := db.QueryRow(ctx, `SELECT COALESCE(MIN(customer_id), 0), COALESCE(MAX(customer_id), 0) FROM activity`).Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	for b := pathstore.BlockOf(lo); b <= pathstore.BlockOf(hi)+1; b++ {
		rows, err := pathstore.Compute(ctx, db, b, pathstore.MinDay, pathstore.MaxDay)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			k := [2]int64{b, rows[i].Day}
			data[k] = rows[i].Encode()
			sums[k] = pathstore.SummaryBytes(&rows[i])
		}
	}
	return data, sums
}

func sameRows(t *testing.T, what string, got, want map[[2]int64][]byte) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("row %v missing", k))
		} else if !bytes.Equal(g, w) {
			gr, _ := pathstore.DecodeRow(k[0], k[1], g)
			wr, _ := pathstore.DecodeRow(k[0], k[1], w)
			diffs = append(diffs, fmt.Sprintf("row %v differs:\n got  %+v\n want %+v", k, gr, wr))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("row %v should not exist", k))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Fatalf("%s: %d of %d rows differ:\n%s", what, len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 5)], "\n"))
	}
}

// TestIncrementalEqualsFromScratch: events in random orders, processed in batches of
// random sizes (customers merging across batches, orders replaced and refunded before and
// after they arrive), leave the table byte for byte what Compute derives from the
// processor's tables; so does a rebuild, and so does an erasure.
func TestIncrementalEqualsFromScratch(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			// Odd seeds: blocks of 8 customer ids, so merges and orders cross blocks.
			if seed%2 == 1 {
				defer pathstore.SetBlockBits(3)()
			}
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				r := rand.New(rand.NewPCG(seed, 11))
				evs := genEvents(r, 60)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				for len(evs) > 0 {
					n := min(len(evs), 1+r.IntN(40))
					identitytest.Insert(t, db, "web", t0.Add(90*24*time.Hour), evs[:n]...)
					identitytest.CatchUp(t, db)
					evs = evs[n:]
				}
				var merges, orders, refunds int
				ctx := context.Background()
				_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM customer_merges`).Scan(&merges)
				_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM orders`).Scan(&orders)
				_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM refunds`).Scan(&refunds)
				if merges == 0 || orders < 50 || refunds == 0 {
					t.Fatalf("the generator made %d merges, %d orders, %d refunds: not the mess this test needs", merges, orders, refunds)
				}
				gotD, gotS := stored(t, db)
				wantD, wantS := fromScratch(t, db)
				if len(wantD) < 20 {
					t.Fatalf("only %d rows", len(wantD))
				}
				sameRows(t, "incremental", gotD, wantD)
				sameRows(t, "incremental summaries", gotS, wantS)

				if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
					t.Fatal(err)
				}
				gotD, _ = stored(t, db)
				sameRows(t, "rebuild", gotD, wantD)

				// An erasure: the customer's rows in the processor's tables and their entries go.
				var cid int64
				if err := db.QueryRow(ctx, `SELECT customer_id FROM orders ORDER BY customer_id LIMIT 1`).Scan(&cid); err != nil {
					t.Fatal(err)
				}
				err := db.Write(ctx, func(tx *store.Tx) error {
					for _, q := range []string{`DELETE FROM refunds WHERE order_id IN (SELECT order_id FROM orders WHERE customer_id = ?)`,
						`DELETE FROM orders WHERE customer_id = ?`, `DELETE FROM activity WHERE customer_id = ?`} {
						if _, err := tx.Exec(ctx, q, cid); err != nil {
							return err
						}
					}
					n, err := pathstore.EraseCustomers(ctx, tx, []int64{cid})
					if n == 0 && err == nil {
						err = fmt.Errorf("nothing erased for customer %d", cid)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				gotD, _ = stored(t, db)
				wantD, _ = fromScratch(t, db)
				sameRows(t, "erasure", gotD, wantD)
			})
		})
	}
}

// TestBuildAll: a store processed before the table existed gets it built by the processor
// before its next batch, equal to the incremental result.
func TestBuildAll(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(9, 11))
		identitytest.Load(t, db, "web", t0.Add(90*24*time.Hour), genEvents(r, 30)...)
		want, _ := stored(t, db)
		if len(want) == 0 {
			t.Fatal("no rows")
		}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM paths`); err != nil {
				return err
			}
			return pathstore.Invalidate(ctx, tx)
		}); err != nil {
			t.Fatal(err)
		}
		if ok, err := pathstore.Ready(ctx, db); err != nil || ok {
			t.Fatalf("ready %v %v after invalidation", ok, err)
		}
		identitytest.Load(t, db, "web", t0.Add(90*24*time.Hour), M{"type": "page", "anonymousId": "late", "timestamp": t0.Add(time.Hour).Format(time.RFC3339)})
		if ok, err := pathstore.Ready(ctx, db); err != nil || !ok {
			t.Fatalf("ready %v %v after the processor ran", ok, err)
		}
		got, _ := stored(t, db)
		wantNow, _ := fromScratch(t, db)
		sameRows(t, "built", got, wantNow)
		if len(got) != len(want)+1 && len(got) != len(want) {
			t.Errorf("%d rows, had %d", len(got), len(want))
		}
	})
}

// TestRefundRule: the refunds paths hold per order are what the refund rule takes back
// (commerce.Orders reads them the same way), both kept batch by batch and computed from
// scratch: a partial refund in another currency than its order's counts for nothing,
// refunds never take back more than the order, a full refund takes the rest.
func TestRefundRule(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
		order := func(id string, h int, revenue float64) M {
			return M{"type": "track", "event": "Order Completed", "userId": "ann", "timestamp": ts(h),
				"properties": M{"order_id": id, "revenue": revenue, "currency": "EUR"}}
		}
		refund := func(id string, h int, p M) M {
			p["order_id"] = id
			return M{"type": "track", "event": "Order Refunded", "userId": "ann", "timestamp": ts(h), "properties": p}
		}
		identitytest.Load(t, db, "web", t0.Add(90*24*time.Hour),
			M{"type": "page", "userId": "ann", "timestamp": ts(0), "context": M{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc"}}},
			order("A", 1, 100), refund("A", 2, M{"amount": 30, "currency": "USD"}), refund("A", 3, M{"amount": 20, "currency": "EUR"}),
			order("B", 4, 50), refund("B", 5, M{"amount": 40, "currency": "EUR"}), refund("B", 6, M{"amount": 40, "currency": "EUR"}),
			order("C", 7, 60), refund("C", 8, M{"amount": 10, "currency": "EUR"}), refund("C", 9, M{}),
		)
		want := map[string]int64{"A": 2000, "B": 5000, "C": 6000} // the dollars count for nothing; B capped; C in full
		os, err := commerce.Orders(ctx, db, t0, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range os {
			if o.RefundedMinor != want[o.OrderID] {
				t.Errorf("commerce: order %s refunded %d, want %d", o.OrderID, o.RefundedMinor, want[o.OrderID])
			}
		}
		check := func(how string, data map[[2]int64][]byte) {
			t.Helper()
			got := map[string]int64{}
			for k, d := range data {
				r, err := pathstore.DecodeRow(k[0], k[1], d)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range r.Orders {
					got[o.ID] = o.Refunded
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: paths hold refunds %v, want %v", how, got, want)
			}
		}
		kept, _ := stored(t, db)
		check("kept by the processor", kept)
		scratch, _ := fromScratch(t, db)
		check("from scratch", scratch)
	})
}

// TestReadSmallCache: Source.Read gives every stored row of a block, in day order, the
// same bytes as the table holds; a query that fails (a cancelled context) is an error,
// and on SQLite the connection it used goes back to the pool with the store's page cache.
func TestReadSmallCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(5, 6))
		identitytest.Load(t, db, "web", t0.Add(90*24*time.Hour), genEvents(r, 20)...)
		want, _ := stored(t, db)
		src, err := pathstore.Open(ctx, db)
		if err != nil || !src.Ready() {
			t.Fatalf("open: %v ready=%v", err, src != nil && src.Ready())
		}
		lo, hi, ok := src.Blocks()
		if !ok {
			t.Fatal("no blocks")
		}
		got := map[[2]int64][]byte{}
		for b := lo; b <= hi; b++ {
			last := int64(pathstore.MinDay)
			err := src.Read(ctx, b, pathstore.MinDay, pathstore.MaxDay, func(day int64, data []byte) error {
				if day <= last {
					t.Errorf("block %d: day %d after %d", b, day, last)
				}
				last = day
				got[[2]int64{b, day}] = bytes.Clone(data)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		sameRows(t, "read", got, want)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := src.Read(cctx, lo, pathstore.MinDay, pathstore.MaxDay, func(int64, []byte) error { return nil }); err == nil {
			t.Error("read with a cancelled context: no error")
		}
		if db.Dialect == store.SQLite {
			for range 8 { // every pooled connection
				var n int64
				if err := db.QueryRow(ctx, `PRAGMA cache_size`).Scan(&n); err != nil || n == 256 {
					t.Fatalf("cache_size %d (%v) after a read", n, err)
				}
			}
		}
	})
}
