package quality_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/quality"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestMeasure seeds two sources: a shop export whose orders carry no touches (all
// Direct) and a website whose orders follow ad clicks, and checks every share.
func TestMeasure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		day := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		exec(`INSERT INTO sources (id, name, key_hash, key_hint, created_at) VALUES (1, 'shopify-export', 'h1', 'k1', 0), (2, 'website', 'h2', 'k2', 0)`)
		ms := day.UnixMilli()
		// Customers 1-6 bought through the export (Direct, no touches); 1-2 identified.
		// Customers 7-10 bought on the website: 7-8 after a Paid Search touch, 9 with the
		// order's own channel Email, 10 after a Direct visit only; all identified.
		for c := 1; c <= 10; c++ {
			email := ""
			if c <= 2 || c >= 7 {
				email = fmt.Sprintf("c%d@example.com", c)
			}
			exec(`INSERT INTO customers (id, first_seen, last_seen, email) VALUES (?, ?, ?, ?)`, c, ms, ms, email)
			src, ch := 1, "Direct"
			if c >= 7 {
				src = 2
			}
			if c == 9 {
				ch = "Email"
			}
			exec(`INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, 1000, 'EUR', 'web', ?, ?, ?)`,
				fmt.Sprintf("o%d", c), c, ms, ch, src, c)
		}
		for i, c := range []int{7, 8} {
			exec(`INSERT INTO activity (seq, customer_id, ts, type, channel, source_id) VALUES (?, ?, ?, 'page', 'Paid Search', 2)`, 100+i, c, ms-3600_000)
		}
		// A touch longer than the lookback (30 days) before the order does not give it context.
		exec(`INSERT INTO activity (seq, customer_id, ts, type, channel, source_id) VALUES (120, 6, ?, 'page', 'Paid Search', 1)`, day.AddDate(0, 0, -40).UnixMilli())
		// A touch after the order does not give it context.
		exec(`INSERT INTO activity (seq, customer_id, ts, type, channel, source_id) VALUES (110, 10, ?, 'page', 'Direct', 2), (111, 10, ?, 'page', 'Paid Social', 2)`, ms-60_000, ms+60_000)
		// Spend: Paid Search is touched, Cross-network is not.
		exec(`INSERT INTO spend (day, channel, amount_minor, currency) VALUES ('2026-03-10', 'Paid Search', 5000, 'EUR'), ('2026-03-10', 'Cross-network', 9000, 'EUR'), ('2026-03-11', 'Cross-network', 9000, 'EUR')`)
		for i, r := range []string{"invalid timestamp", "invalid timestamp", "missing userId and anonymousId"} {
			exec(`INSERT INTO rejected_events (source_id, received_at, origin, position, reason, body) VALUES (2, ?, 'api', ?, ?, '{}')`, ms, i, r)
		}
		// Outside the period: ignored.
		exec(`INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES ('old', 1, ?, 1000, 'EUR', 'web', 'Direct', 1, 99)`, day.AddDate(0, -2, 0).UnixMilli())

		c, err := quality.Measure(ctx, db, day.AddDate(0, 0, -1), day.AddDate(0, 0, 5))
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, s quality.Share, part, total int64) {
			t.Helper()
			if s.Part != part || s.Total != total || s.Share == nil {
				t.Errorf("%s = %d of %d, want %d of %d", name, s.Part, s.Total, part, total)
			}
		}
		check("orders with marketing", c.Marketing, 3, 10)
		check("buyers identified", c.Identified, 6, 10)
		check("spend rows matched", c.SpendMatched, 1, 3)
		if c.Rejected != 3 || len(c.Reasons) != 2 || c.Reasons[0] != (quality.Reason{Reason: "invalid timestamp", Count: 2}) {
			t.Errorf("rejected = %d %+v", c.Rejected, c.Reasons)
		}
		if !c.Low || c.NoMarketingPct() != 70 {
			t.Errorf("low = %v, no marketing = %d %%, want true, 70", c.Low, c.NoMarketingPct())
		}
		if len(c.Sources) != 2 {
			t.Fatalf("sources = %+v", c.Sources)
		}
		ex, web := c.Sources[0], c.Sources[1]
		if ex.Source != "shopify-export" || web.Source != "website" {
			t.Fatalf("sources = %q, %q", ex.Source, web.Source)
		}
		check("export orders with marketing", ex.Marketing, 0, 6)
		check("export buyers identified", ex.Identified, 2, 6)
		check("website orders with marketing", web.Marketing, 3, 4)
		check("website buyers identified", web.Identified, 4, 4)
		if web.Rejected != 3 || ex.Rejected != 0 {
			t.Errorf("rejected per source = %d, %d", ex.Rejected, web.Rejected)
		}

		// A period without orders: nothing to share, and no warning.
		c, err = quality.Measure(ctx, db, day.AddDate(1, 0, 0), day.AddDate(1, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if c.Marketing.Share != nil || c.Low {
			t.Errorf("empty period: %+v", c.Marketing)
		}
	})
}
