package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/quality"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// Demo size from the dashboard issue: 20k customers, 1M events.
const (
	benchCustomers = 20_000
	benchEvents    = 1_000_000
	benchOrders    = 60_000
)

// bulkInsert writes rows with multi-row INSERTs, n rows per statement.
func bulkInsert(ctx context.Context, db *store.DB, table, cols string, ncols, total int, row func(i int) []any) error {
	const per = 400
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", ncols), ",") + ")"
	for start := 0; start < total; start += 20 * per {
		err := db.Write(ctx, func(tx *store.Tx) error {
			for s := start; s < min(start+20*per, total); s += per {
				e := min(s+per, total)
				args := make([]any, 0, (e-s)*ncols)
				for i := s; i < e; i++ {
					args = append(args, row(i)...)
				}
				q := "INSERT INTO " + table + " (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(ph+",", e-s), ",")
				if _, err := tx.Exec(ctx, q, args...); err != nil {
					return fmt.Errorf("%s: %w", table, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// seedDemoSize fills the derived tables directly (the processor is not what is measured):
// events received over the last day (the worst case for the Sources page: a fresh demo
// import), activity and orders spread over two years.
func seedDemoSize(b *testing.B, db *store.DB, now time.Time) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []string{"web shop", "till", "app"} {
		if _, _, err := db.CreateSource(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	span := int64(730 * 24 * time.Hour / time.Millisecond)
	start := now.UnixMilli() - span
	channels := []string{"Paid Search", "Organic Search", "Paid Social", "Organic Social", "Email", "Direct", "Referral", "In-store"}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(bulkInsert(ctx, db, "customers", "id, first_seen, last_seen, user_id, email, phone, name, traits, events", 9, benchCustomers, func(i int) []any {
		f := start + r.Int64N(span)
		return []any{i + 1, f, f + r.Int64N(now.UnixMilli()-f+1), fmt.Sprintf("u%d", i+1), fmt.Sprintf("c%d@example.com", i+1), fmt.Sprintf("+4930%07d", i+1), fmt.Sprintf("Customer %d", i+1), `{"email_marketing_consent":{"v":true,"t":0,"s":1}}`, 50}
	}))
	must(bulkInsert(ctx, db, "identities", "kind, value, customer_id, first_seen, seq", 5, 2*benchCustomers, func(i int) []any {
		c := i/2 + 1
		if i%2 == 0 {
			return []any{"email", fmt.Sprintf("c%d@example.com", c), c, start, i}
		}
		return []any{"anonymous_id", fmt.Sprintf("anon-%d", c), c, start, i}
	}))
	must(bulkInsert(ctx, db, "events", "source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body", 9, benchEvents, func(i int) []any {
		return []any{1 + r.Int64N(3), fmt.Sprintf("m%d", i), "track", "Product Viewed", "", "", start + r.Int64N(span), now.UnixMilli() - r.Int64N(int64(24*time.Hour/time.Millisecond)), `{}`}
	}))
	must(bulkInsert(ctx, db, "activity", "seq, customer_id, ts, type, name, channel, campaign, source, medium, source_id", 10, benchEvents, func(i int) []any {
		return []any{i + 1, 1 + r.Int64N(benchCustomers), start + r.Int64N(span), "track", "Product Viewed", channels[r.IntN(len(channels))], "spring", "google", "cpc", 1}
	}))
	must(bulkInsert(ctx, db, "orders", "order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq", 9, benchOrders, func(i int) []any {
		return []any{fmt.Sprintf("o%d", i), 1 + r.Int64N(benchCustomers), start + r.Int64N(span), 500 + r.Int64N(20000), "EUR", []string{"web", "store"}[r.IntN(2)], channels[r.IntN(len(channels))], 1, i}
	}))
	must(bulkInsert(ctx, db, "refunds", "seq, order_id, customer_id, ts, amount_minor, currency", 6, 2000, func(i int) []any {
		return []any{i + 1, fmt.Sprintf("o%d", i*30), 1, start + r.Int64N(span), 1000, "EUR"}
	}))
	must(bulkInsert(ctx, db, "spend", "day, channel, campaign, platform, amount_minor, currency, impressions, clicks", 8, 730*4, func(i int) []any {
		d := now.AddDate(0, 0, -(i / 4)).Format(dateLayout)
		return []any{d, channels[i%4], "", "manual", 1000 + r.Int64N(10000), "EUR", 1000, 50}
	}))
}

// BenchmarkPages measures each page's server time at demo size with the cache off:
//
//	go test -run '^$' -bench Pages -benchtime 5x ./internal/web/
func BenchmarkPages(b *testing.B) {
	for _, d := range []string{"sqlite", "postgres"} {
		b.Run(d, func(b *testing.B) {
			var db *store.DB
			now := time.Now().UTC()
			// OMNIROI_WEB_BENCH_PG names a PostgreSQL database kept between runs (seeded
			// once, so EXPLAIN can be run on it); its events stay "received today" only
			// on the day it was seeded. OMNIROI_WEB_BENCH_SQLITE does the same for SQLite.
			keep := os.Getenv("OMNIROI_WEB_BENCH_PG")
			keepLite := os.Getenv("OMNIROI_WEB_BENCH_SQLITE") // a data directory kept between runs
			switch {
			case d == "sqlite" && keepLite != "":
				var err error
				if db, err = store.Open(context.Background(), store.Config{DataDir: keepLite}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
			case d == "sqlite":
				db = storetest.SQLite(b)
			case keep != "":
				var err error
				if db, err = store.Open(context.Background(), store.Config{DSN: keep}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
			default:
				db = storetest.Postgres(b)
			}
			var n int
			if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM customers`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				t0 := time.Now()
				seedDemoSize(b, db, now)
				if d == "postgres" {
					// What autovacuum would do soon after a bulk load: statistics and the
					// visibility map that index-only scans need.
					if _, err := db.Exec(context.Background(), "VACUUM ANALYZE"); err != nil {
						b.Fatal(err)
					}
				}
				b.Logf("seeded %d customers, %d events, %d orders in %s", benchCustomers, benchEvents, benchOrders, time.Since(t0).Round(time.Second))
			}
			h, err := NewHandler(db, Options{noCache: true})
			if err != nil {
				b.Fatal(err)
			}
			u, err := auth.CreateUser(context.Background(), db, fmt.Sprintf("bench%d@example.com", time.Now().UnixNano()), "benchmark-password")
			if err != nil {
				b.Fatal(err)
			}
			sess, err := auth.CreateSession(context.Background(), db, u, time.Now(), time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range []string{"/", "/?range=90d", "/?range=all", "/sources", "/spend", "/spend?range=all",
				"/customers", "/customers?q=customer%201234", "/customers?q=c777%40example.com", "/customers/4242", "/spend?range=all&format=csv"} {
				b.Run(strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "_"), func(b *testing.B) {
					for b.Loop() {
						req := httptest.NewRequest("GET", p, nil)
						req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess.Token})
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != 200 {
							b.Fatalf("%s: %d %s", p, w.Code, w.Body.String()[:min(300, w.Body.Len())])
						}
					}
				})
			}
			// The coverage measure alone (quality.Measure), which the Overview, Attribution,
			// Journeys and Sources pages add.
			for _, rg := range []struct {
				name string
				from time.Time
			}{{"coverage_30d", now.AddDate(0, 0, -30)}, {"coverage_all", time.Time{}}} {
				b.Run(rg.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := quality.Measure(context.Background(), db, rg.from, now); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkAnalysisPagesDemo measures the Overview, Attribution, Journeys, Segments and
// customer pages on a real demo database once its analyses are built (the first request
// of each builds them and is logged as the cold time). It adds a throwaway user to the
// database:
//
//	go run ./cmd/omniroi demo --no-serve --data /tmp/demo20k
//	OMNIROI_WEB_DEMO=/tmp/demo20k go test -run '^$' -bench AnalysisPagesDemo -benchtime 20x ./internal/web/
func BenchmarkAnalysisPagesDemo(b *testing.B) {
	dir := os.Getenv("OMNIROI_WEB_DEMO")
	if dir == "" {
		b.Skip("set OMNIROI_WEB_DEMO to a demo data directory (omniroi demo --no-serve --data DIR)")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	h, err := NewHandler(db, Options{noCache: true, computeWait: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	u, err := auth.CreateUser(ctx, db, fmt.Sprintf("bench%d@example.com", time.Now().UnixNano()), "benchmark-password")
	if err != nil {
		b.Fatal(err)
	}
	sess, err := auth.CreateSession(ctx, db, u, time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	var cust int64
	if err := db.QueryRow(ctx, `SELECT customer_id FROM orders GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 1`).Scan(&cust); err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, p string) {
		req := httptest.NewRequest("GET", p, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess.Token})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || strings.Contains(w.Body.String(), `http-equiv="refresh"`) {
			b.Fatalf("%s: %d (or still computing) %s", p, w.Code, w.Body.String()[:min(300, w.Body.Len())])
		}
	}
	month := "from=2026-10-01&to=2026-10-31"
	pages := []string{"/?" + month, "/?" + month + "&model=markov", "/?range=all", "/?range=all&model=shapley",
		"/attribution?" + month, "/attribution?range=all", "/paths?" + month, "/paths?range=all",
		"/segments?" + month, "/segments?range=all", fmt.Sprintf("/customers/%d", cust)}
	for _, p := range pages {
		t0 := time.Now()
		get(b, p)
		b.Logf("cold %s: %s", p, time.Since(t0).Round(time.Millisecond))
	}
	for _, p := range pages {
		b.Run(strings.NewReplacer("/", "_", "?", "_", "&", "_").Replace(strings.TrimPrefix(p, "/")), func(b *testing.B) {
			for b.Loop() {
				get(b, p)
			}
		})
	}
}
