package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

type M = map[string]any

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// at is an ISO timestamp minutes after t0.
func at(min int) string { return event.FormatTime(t0.Add(time.Duration(min) * time.Minute)) }

// insert writes Segment payloads into the log through the real path (Normalize, InsertEvents).
func insert(t testing.TB, db *store.DB, payloads ...M) {
	t.Helper()
	ctx := context.Background()
	src, err := db.EnsureSource(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for _, p := range payloads {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		// Received after every generated event: none is dated after its receipt.
		e, err := event.Normalize(raw, "", t0.Add(3000*time.Hour), time.Time{})
		if err != nil {
			t.Fatalf("normalize %s: %v", raw, err)
		}
		e.SourceID = src.ID
		evs = append(evs, e)
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		_, err := store.InsertEvents(ctx, tx, evs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func catchUp(t testing.TB, db *store.DB) {
	t.Helper()
	if err := identity.NewProcessor(db, identity.Options{}).CatchUp(context.Background()); err != nil {
		t.Fatalf("catch up: %v", err)
	}
}

func find(t testing.TB, db *store.DB, q string) identity.Customer {
	t.Helper()
	c, err := identity.FindCustomer(context.Background(), db, q)
	if err != nil {
		t.Fatalf("find %q: %v", q, err)
	}
	return c
}

func profile(t testing.TB, db *store.DB, id int64) identity.CustomerProfile {
	t.Helper()
	p, err := identity.Profile(context.Background(), db, id)
	if err != nil {
		t.Fatalf("profile %d: %v", id, err)
	}
	return p
}

func count(t testing.TB, db *store.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// dump renders every derived table in a canonical order, for equivalence tests.
func dump(t testing.TB, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, first_seen, last_seen, user_id, email, phone, name, traits, events FROM customers ORDER BY id`,
		`SELECT kind, value, customer_id, first_seen, seq, user_ids, shared FROM identities ORDER BY kind, value`,
		`SELECT seq, ts, kind, value, customer_id, other_id, user_id, other_user_id, reason FROM identity_conflicts ORDER BY seq, kind, value, customer_id, other_id`,
		`SELECT seq, ts, survivor_id, merged_id, kind, value FROM customer_merges ORDER BY seq, merged_id`,
		`SELECT seq, customer_id, ts, type, name, channel, campaign, source, medium, source_id FROM activity ORDER BY seq`,
		`SELECT order_id, customer_id, ts, revenue_minor, currency, location, channel, items, source_id, seq FROM orders ORDER BY order_id`,
		`SELECT seq, order_id, customer_id, ts, amount_minor, currency, full_refund FROM refunds ORDER BY seq`,
		`SELECT customer_id, currency, day, orders, sales_minor, refunds, refunds_minor FROM order_summaries ORDER BY customer_id, currency, day`,
		`SELECT day, channel, campaign, location, currency, sessions, orders, revenue_minor, refunds_minor, new_customers FROM daily_rollups ORDER BY day, channel, campaign, location, currency`,
		`SELECT customer_id, currency, orders, last_ts, revenue_minor FROM customer_orders ORDER BY customer_id, currency`,
	} {
		rows, err := db.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v", v)
				if i < len(vals)-1 {
					b.WriteByte('|')
				}
			}
			b.WriteByte('\n')
		}
		rows.Close()
		b.WriteString("----\n")
	}
	// The per-customer order totals the processor keeps equal a computation from the
	// orders.
	totals := func(q string) string {
		rows, err := db.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, n, last, rev int64
			var cur string
			if err := rows.Scan(&id, &cur, &n, &last, &rev); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d|%s|%d|%d|%d\n", id, cur, n, last, rev)
		}
		return b.String()
	}
	kept := totals(`SELECT customer_id, currency, orders, last_ts, revenue_minor FROM customer_orders ORDER BY customer_id, currency`)
	want := totals(`SELECT customer_id, currency, COUNT(*), MAX(ts), CAST(SUM(revenue_minor) AS BIGINT) FROM orders GROUP BY customer_id, currency ORDER BY customer_id, currency`)
	if kept != want {
		t.Errorf("customer_orders:\n%s\nfrom the orders:\n%s", kept, want)
	}
	return b.String()
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func itoa(i int) string { return fmt.Sprint(i) }
