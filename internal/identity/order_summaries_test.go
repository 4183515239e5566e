package identity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestOrderSummariesIncremental: the order summaries the processor keeps batch by batch
// equal a computation from scratch over the final orders and refunds, whatever order
// the events arrive in: re-sent orders that change hands, refunds before their orders,
// merges, and a change of the business time zone half way.
func TestOrderSummariesIncremental(t *testing.T) {
	t.Parallel()
	base := genEvents(3000, 11)
	rounds := 3
	if testing.Short() {
		rounds = 1 // one arrival order for a quick run; CI tries three
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for round := range rounds {
			t.Run(fmt.Sprint("arrival-", round), func(t *testing.T) {
				if round > 0 { // a fresh store for every arrival order
					if db.Dialect == store.Postgres {
						db = storetest.Postgres(t)
					} else {
						db = storetest.SQLite(t)
					}
				}
				ctx := context.Background()
				r := rand.New(rand.NewPCG(uint64(round), 99))
				evs := append([]M(nil), base...)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				for start, i := 0, 0; start < len(evs); i++ {
					n := 100 + r.IntN(600)
					insert(t, db, evs[start:min(start+n, len(evs))]...)
					start += n
					if start >= len(evs)/2 && start-n < len(evs)/2 {
						if _, err := workspace.Set(ctx, db, "test", "timezone", "Asia/Tokyo"); err != nil {
							t.Fatal(err)
						}
					}
					if err := identity.NewProcessor(db, identity.Options{BatchSize: 73, CatchUpBatchSize: 73 + r.IntN(200), ReadChunk: 64}).CatchUp(ctx); err != nil {
						t.Fatal(err)
					}
				}
				loc, err := workspace.Location(ctx, db)
				if err != nil || loc.String() != "Asia/Tokyo" {
					t.Fatalf("location %v %v", loc, err)
				}
				if ok, err := commerce.SummariesCurrent(ctx, db, loc); err != nil || !ok {
					t.Fatalf("summaries not kept for %s: %v", loc, err)
				}
				got := summaryText(t, db)
				want, err := commerce.ComputeSummaries(ctx, db, loc)
				if err != nil {
					t.Fatal(err)
				}
				var w strings.Builder
				for _, s := range want {
					fmt.Fprintf(&w, "%d|%s|%d|%d|%d|%d|%d\n", s.CustomerID, s.Currency, s.Day, s.Orders, s.SalesMinor, s.Refunds, s.RefundsMinor)
				}
				if got != w.String() {
					t.Fatalf("incremental summaries differ from a computation from scratch:\n%s", firstDiff(got, w.String()))
				}
				// The stream exercises what the test claims.
				for q, least := range map[string]int64{
					`SELECT COUNT(*) FROM order_summaries`:                                  150,
					`SELECT COUNT(*) FROM order_summaries WHERE orders = 0 AND refunds > 0`: 5,
					`SELECT COUNT(DISTINCT customer_id) FROM order_summaries`:               50,
					`SELECT COUNT(*) FROM customer_merges`:                                  50,
				} {
					if n := count(t, db, q); n < least {
						t.Errorf("%s = %d, want >= %d", q, n, least)
					}
				}
			})
		}
	})
}

func summaryText(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT customer_id, currency, day, orders, sales_minor, refunds, refunds_minor FROM order_summaries ORDER BY customer_id, currency, day`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s commerce.DaySummary
		if err := rows.Scan(&s.CustomerID, &s.Currency, &s.Day, &s.Orders, &s.SalesMinor, &s.Refunds, &s.RefundsMinor); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d|%s|%d|%d|%d|%d|%d\n", s.CustomerID, s.Currency, s.Day, s.Orders, s.SalesMinor, s.Refunds, s.RefundsMinor)
	}
	return b.String()
}
