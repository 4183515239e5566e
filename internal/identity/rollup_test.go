package identity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
	"github.com/omniroi/omniroi/internal/workspace"
)

// denseEvents is genEvents squeezed from half a year into ten days, so that one person's
// events fall within a visit's 30 minutes and on the same day often.
func denseEvents(t *testing.T, n int, seed uint64) []M {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := genEvents(n, seed)
	for _, e := range evs {
		ts, err := time.Parse("2006-01-02T15:04:05.000Z", e["timestamp"].(string))
		if err != nil {
			t.Fatal(err)
		}
		e["timestamp"] = start.Add(ts.Sub(start) / 18).Format("2006-01-02T15:04:05.000Z")
	}
	return evs
}

// TestDailyRollupsIncremental: the daily rollups the processor keeps batch by batch equal
// a computation from scratch over the final tables, whatever order the events arrive in:
// visits split and joined by late events, re-sent orders that change hands, refunds before
// their orders, merges that move first purchases, and a change of the business time zone
// half way. Then `omniroi rebuild` (Processor.Rebuild) gives the same rows.
func TestDailyRollupsIncremental(t *testing.T) {
	base := denseEvents(t, 3000, 11)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for round := range testenv.Size(3, 2) { // arrival orders; -short: two
			t.Run(fmt.Sprint("arrival-", round), func(t *testing.T) {
				if round > 0 { // a fresh store for every arrival order
					if db.Dialect == store.Postgres {
						db = storetest.Postgres(t)
					} else {
						db = storetest.SQLite(t)
					}
				}
				ctx := context.Background()
				r := rand.New(rand.NewPCG(uint64(round), 42))
				evs := append([]M(nil), base...)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				for start := 0; start < len(evs); {
					n := 100 + r.IntN(600)
					insert(t, db, evs[start:min(start+n, len(evs))]...)
					start += n
					if start >= len(evs)/2 && start-n < len(evs)/2 {
						if _, err := workspace.Set(ctx, db, "test", "timezone", "America/New_York"); err != nil {
							t.Fatal(err)
						}
					}
					if err := identity.NewProcessor(db, identity.Options{BatchSize: 73, CatchUpBatchSize: 73 + r.IntN(200), ReadChunk: 64}).CatchUp(ctx); err != nil {
						t.Fatal(err)
					}
				}
				loc, err := workspace.Location(ctx, db)
				if err != nil || loc.String() != "America/New_York" {
					t.Fatalf("location %v %v", loc, err)
				}
				if ok, err := rollup.Current(ctx, db, loc); err != nil || !ok {
					t.Fatalf("rollups not kept for %s: %v", loc, err)
				}
				want := computedRollups(t, db, loc)
				if got := rollupText(t, db); got != want {
					t.Fatalf("incremental rollups differ from a computation from scratch:\n%s", firstDiff(got, want))
				}
				// The stream exercises what the test claims.
				for q, least := range map[string]int64{
					`SELECT COUNT(*) FROM daily_rollups WHERE sessions > 0`:                                  40,
					`SELECT COUNT(DISTINCT campaign) FROM daily_rollups WHERE sessions > 0`:                  4,
					`SELECT COUNT(*) FROM daily_rollups WHERE new_customers > 0`:                             10,
					`SELECT COUNT(*) FROM daily_rollups WHERE refunds_minor > 0`:                             5,
					`SELECT COUNT(*) FROM customer_merges`:                                                   50,
					`SELECT COUNT(*) - (SELECT COALESCE(SUM(sessions), 0) FROM daily_rollups) FROM activity`: 100, // visits join events
				} {
					if n := count(t, db, q); n < least {
						t.Errorf("%s = %d, want >= %d", q, n, least)
					}
				}
				if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
					t.Fatal(err)
				}
				if got := rollupText(t, db); got != want {
					t.Fatalf("rollups after a rebuild differ from a computation from scratch:\n%s", firstDiff(got, want))
				}
			})
		}
	})
}

func computedRollups(t *testing.T, db *store.DB, loc *time.Location) string {
	t.Helper()
	rows, err := rollup.Compute(context.Background(), db, loc)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%d|%s|%s|%s|%s|%d|%d|%d|%d|%d\n", r.Day, r.Channel, r.Campaign, r.Location, r.Currency, r.Sessions, r.Orders, r.RevenueMinor, r.RefundsMinor, r.NewCustomers)
	}
	return b.String()
}

func rollupText(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT day, channel, campaign, location, currency, sessions, orders, revenue_minor, refunds_minor, new_customers
		FROM daily_rollups ORDER BY day, channel, campaign, location, currency`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var r rollup.Row
		if err := rows.Scan(&r.Day, &r.Channel, &r.Campaign, &r.Location, &r.Currency, &r.Sessions, &r.Orders, &r.RevenueMinor, &r.RefundsMinor, &r.NewCustomers); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d|%s|%s|%s|%s|%d|%d|%d|%d|%d\n", r.Day, r.Channel, r.Campaign, r.Location, r.Currency, r.Sessions, r.Orders, r.RevenueMinor, r.RefundsMinor, r.NewCustomers)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDailyRollupsMerge: two devices of one person, each with a page view ten minutes apart
// (two sessions while they are two customers), become one customer by a later batch that
// has no page view that day (two identifies): the page views now make one visit, and the
// rollup counts one session.
func TestDailyRollupsMerge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		catchUp := func() {
			if err := identity.NewProcessor(db, identity.Options{}).CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
		}
		insert(t, db,
			M{"type": "page", "anonymousId": "dev-a", "timestamp": "2026-03-02T10:00:00.000Z",
				"context": M{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand"}}},
			M{"type": "page", "anonymousId": "dev-b", "timestamp": "2026-03-02T10:10:00.000Z"})
		catchUp()
		sessions := func() int64 { return count(t, db, `SELECT COALESCE(SUM(sessions), 0) FROM daily_rollups`) }
		if n := sessions(); n != 2 {
			t.Fatalf("two customers: %d sessions, want 2", n)
		}
		insert(t, db,
			M{"type": "identify", "anonymousId": "dev-a", "timestamp": "2026-03-02T12:00:00.000Z", "traits": M{"email": "pat@example.com"}},
			M{"type": "identify", "anonymousId": "dev-b", "timestamp": "2026-03-02T12:01:00.000Z", "traits": M{"email": "pat@example.com"}})
		catchUp()
		if n := count(t, db, `SELECT COUNT(*) FROM customer_merges`); n != 1 {
			t.Fatalf("%d merges, want 1", n)
		}
		if n := sessions(); n != 1 {
			t.Fatalf("one customer: %d sessions, want 1 (a Direct page view ten minutes into a visit continues it)", n)
		}
		loc, err := workspace.Location(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rollupText(t, db), computedRollups(t, db, loc); got != want {
			t.Fatalf("rollups:\n%s\nfrom scratch:\n%s", got, want)
		}
	})
}

// TestDailyRollupsBuiltOnStart: a store whose daily rollups are missing for events it
// already holds (an upgrade: migration 0032 creates the table empty and no time zone is
// recorded) gets them back when the processor starts, without waiting for a new event,
// equal to a rebuild; then the next batches keep them current.
func TestDailyRollupsBuiltOnStart(t *testing.T) {
	evs := denseEvents(t, 1500, 5)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert(t, db, evs[:1200]...)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		want := rollupText(t, db)
		if strings.Count(want, "\n") < 20 {
			t.Fatalf("too few rollup rows to test with:\n%s", want)
		}
		if _, err := db.Exec(ctx, `DELETE FROM daily_rollups`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `DELETE FROM settings WHERE key = ?`, rollup.TimeZoneSetting); err != nil {
			t.Fatal(err)
		}
		// No new event: the processor starts and finds nothing to process.
		if err := identity.NewProcessor(db, identity.Options{}).CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rollupText(t, db); got != want {
			t.Fatalf("rollups built on start differ from a rebuild:\n%s", firstDiff(got, want))
		}
		loc, err := workspace.Location(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := rollup.Current(ctx, db, loc); err != nil || !ok {
			t.Fatalf("rollups not recorded as kept for %s: %v", loc, err)
		}
		insert(t, db, evs[1200:]...)
		if err := identity.NewProcessor(db, identity.Options{BatchSize: 50}).CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := rollupText(t, db), computedRollups(t, db, loc); got != want {
			t.Fatalf("rollups after later batches differ from a computation from scratch:\n%s", firstDiff(got, want))
		}
	})
}

// TestDailyRollupsOnStartErasure: an erasure that commits while the processor computes the
// daily rollups on start (outside its write transaction) must not be undone by the write:
// the rows computed before it still hold the erased person's sessions and orders. The
// write is skipped, and the next turn builds the rollups from what the erasure left.
func TestDailyRollupsOnStartErasure(t *testing.T) {
	evs := denseEvents(t, 1200, 7)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert(t, db, evs...)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		var victim int64
		if err := db.QueryRow(ctx, `SELECT customer_id FROM orders GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1`).Scan(&victim); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `DELETE FROM daily_rollups`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `DELETE FROM settings WHERE key = ?`, rollup.TimeZoneSetting); err != nil {
			t.Fatal(err)
		}
		loc, err := workspace.Location(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		before := computedRollups(t, db, loc)
		p := identity.NewProcessor(db, identity.Options{})
		erased := false
		identity.OnRollupsComputed(p, func() {
			if erased {
				return
			}
			erased = true
			if _, err := privacy.Erase(ctx, db, privacy.Query{ID: victim}, privacy.EraseOptions{Actor: audit.ActorCLI}); err != nil {
				t.Error(err)
			}
		})
		if err := p.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if !erased {
			t.Fatal("the processor did not build the rollups on start")
		}
		want := computedRollups(t, db, loc)
		if want == before {
			t.Fatal("the erasure changed nothing the rollups count: the test proves nothing")
		}
		if got := rollupText(t, db); got != want {
			if got == before {
				t.Fatal("the rollups computed before the erasure were written: the erased person's sessions and orders are back")
			}
			// Skipped this turn: the table stays empty until the next one.
			if got != "" {
				t.Fatalf("rollups after the erasure differ from a computation from scratch:\n%s", firstDiff(got, want))
			}
		}
		if err := identity.NewProcessor(db, identity.Options{}).CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rollupText(t, db); got != want {
			t.Fatalf("rollups built on the next start differ from a computation from scratch:\n%s", firstDiff(got, want))
		}
		if ok, err := rollup.Current(ctx, db, loc); err != nil || !ok {
			t.Fatalf("rollups not recorded as kept for %s: %v", loc, err)
		}
	})
}
