package rollup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

type M = map[string]any

func rowsText(rows []rollup.Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s sessions=%d orders=%d revenue=%d refunds=%d new=%d spend=%d unconverted=%d\n",
			commerce.DayTime(r.Day).Format(time.DateOnly), r.Channel, r.Campaign, r.Location, r.Currency,
			r.Sessions, r.Orders, r.RevenueMinor, r.RefundsMinor, r.NewCustomers, r.SpendMinor, r.Unconverted)
	}
	return b.String()
}

// TestForPeriod: the rollup of 9–11 January in New York time, against figures worked out
// by hand from the events below: a visit from a paid search ad that a Direct page view
// continues, a second visit after 40 minutes; an order late on 9 January (03:00 UTC on
// the 10th) whose two partial refunds the refund rule caps at its amount; a full refund;
// a customer whose first purchase was before the period (not new); an order in dollars,
// converted at the rate of its day; spend joined from the spend table. The rows are the
// same when the table is not kept (computed from the processor's tables).
func TestForPeriod(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for k, v := range map[string]string{"currency": "EUR", "timezone": "America/New_York"} {
			if _, err := workspace.Set(ctx, db, "test", k, v); err != nil {
				t.Fatal(err)
			}
		}
		ad := M{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand"}}
		page := func(user, ts string, ctx M) M {
			e := M{"type": "page", "userId": user, "timestamp": ts}
			if ctx != nil {
				e["context"] = ctx
			}
			return e
		}
		order := func(user, id, ts string, revenue float64, cur string, ctx M) M {
			e := M{"type": "track", "event": "Order Completed", "userId": user, "timestamp": ts,
				"properties": M{"order_id": id, "revenue": revenue, "currency": cur}}
			if ctx != nil {
				e["context"] = ctx
			}
			return e
		}
		refund := func(user, id, ts string, amount float64) M {
			p := M{"order_id": id}
			if amount > 0 {
				p["amount"], p["currency"] = amount, "EUR"
			}
			return M{"type": "track", "event": "Order Refunded", "userId": user, "timestamp": ts, "properties": p}
		}
		identitytest.Load(t, db, "shop", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			page("c1", "2026-01-10T02:00:00Z", ad),  // 9 Jan 21:00 in New York: a Paid Search visit
			page("c1", "2026-01-10T02:10:00Z", nil), // Direct inside the visit: the same visit
			page("c1", "2026-01-10T02:50:00Z", nil), // 40 minutes later: a Direct visit
			order("c1", "A", "2026-01-10T03:00:00Z", 100, "EUR", ad),
			refund("c1", "A", "2026-01-12T12:00:00Z", 30),
			refund("c1", "A", "2026-01-13T12:00:00Z", 90), // 70 left of A
			order("c2", "B", "2026-01-10T12:00:00Z", 50, "EUR", nil),
			refund("c2", "B", "2026-01-20T04:00:00Z", 0), // full
			order("c3", "C", "2026-01-05T12:00:00Z", 20, "EUR", nil),
			order("c3", "D", "2026-01-11T12:00:00Z", 40, "EUR", nil),
			order("c4", "E", "2026-01-11T15:00:00Z", 70, "USD", nil),
		)
		if err := db.Write(ctx, func(tx *store.Tx) error {
			for _, s := range []struct {
				day      string
				amount   int64
				currency string
			}{{"2026-01-10", 2500, "EUR"}, {"2026-01-04", 900, "EUR"}, {"2026-01-11", 1000, "USD"}} {
				if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, 'Paid Search', 'brand', 'google_ads', ?, ?)`,
					s.day, s.amount, s.currency); err != nil {
					return err
				}
			}
			_, _, err := commerce.UpsertRates(ctx, tx, []commerce.Rate{{Base: "EUR", Quote: "USD", Day: "2026-01-11", Rate: "1.25"}}, "test")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		q := rollup.Query{From: time.Date(2026, 1, 9, 0, 0, 0, 0, ny), To: time.Date(2026, 1, 12, 0, 0, 0, 0, ny), Loc: ny}
		want := `2026-01-09|Direct|(none)|| sessions=1 orders=0 revenue=0 refunds=0 new=0 spend=0 unconverted=0
2026-01-09|Paid Search|brand|| sessions=1 orders=0 revenue=0 refunds=0 new=0 spend=0 unconverted=0
2026-01-09|Paid Search|brand|web|EUR sessions=0 orders=1 revenue=10000 refunds=10000 new=1 spend=0 unconverted=0
2026-01-10|Direct|(none)|web|EUR sessions=0 orders=1 revenue=5000 refunds=5000 new=1 spend=0 unconverted=0
2026-01-10|Paid Search|brand||EUR sessions=0 orders=0 revenue=0 refunds=0 new=0 spend=2500 unconverted=0
2026-01-11|Direct|(none)|web|EUR sessions=0 orders=1 revenue=4000 refunds=0 new=0 spend=0 unconverted=0
2026-01-11|Direct|(none)|web|USD sessions=0 orders=1 revenue=7000 refunds=0 new=1 spend=0 unconverted=0
2026-01-11|Paid Search|brand||USD sessions=0 orders=0 revenue=0 refunds=0 new=0 spend=1000 unconverted=0
`
		// In euros: 70 USD and 10 USD at 1.25 USD per EUR on 11 January.
		wantEUR := `2026-01-09|Direct|(none)|| sessions=1 orders=0 revenue=0 refunds=0 new=0 spend=0 unconverted=0
2026-01-09|Paid Search|brand|| sessions=1 orders=0 revenue=0 refunds=0 new=0 spend=0 unconverted=0
2026-01-09|Paid Search|brand|web|EUR sessions=0 orders=1 revenue=10000 refunds=10000 new=1 spend=0 unconverted=0
2026-01-10|Direct|(none)|web|EUR sessions=0 orders=1 revenue=5000 refunds=5000 new=1 spend=0 unconverted=0
2026-01-10|Paid Search|brand||EUR sessions=0 orders=0 revenue=0 refunds=0 new=0 spend=2500 unconverted=0
2026-01-11|Direct|(none)|web|EUR sessions=0 orders=2 revenue=9600 refunds=0 new=1 spend=0 unconverted=0
2026-01-11|Paid Search|brand||EUR sessions=0 orders=0 revenue=0 refunds=0 new=0 spend=800 unconverted=0
`
		fx, err := commerce.LoadFX(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		check := func(fromTable bool) {
			t.Helper()
			p, err := rollup.ForPeriod(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			if p.FromTable != fromTable {
				t.Fatalf("FromTable = %v, want %v", p.FromTable, fromTable)
			}
			if got := rowsText(p.Rows); got != want {
				t.Errorf("rollup of 9–11 January (from table %v):\n%s\nwant:\n%s", fromTable, got, want)
			}
			conv, err := rollup.Convert(p.Rows, fx, "EUR", ny)
			if err != nil {
				t.Fatal(err)
			}
			if got := rowsText(conv); got != wantEUR {
				t.Errorf("rollup in euros (from table %v):\n%s\nwant:\n%s", fromTable, got, wantEUR)
			}
		}
		check(true)
		// Without a rate the dollar order keeps its count, not its amount.
		noFX, err := commerce.NewFX(nil, 7)
		if err != nil {
			t.Fatal(err)
		}
		p, err := rollup.ForPeriod(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := rollup.Convert(p.Rows, noFX, "EUR", ny)
		if err != nil {
			t.Fatal(err)
		}
		if got := rowsText(conv); !strings.Contains(got, "2026-01-11|Direct|(none)|web|EUR sessions=0 orders=2 revenue=4000 refunds=0 new=1 spend=0 unconverted=1\n") {
			t.Errorf("without a rate:\n%s", got)
		}
		// A store whose rollups are not kept for the business time zone computes them.
		if _, err := db.Exec(ctx, `DELETE FROM settings WHERE key = ?`, rollup.TimeZoneSetting); err != nil {
			t.Fatal(err)
		}
		check(false)
		all, err := rollup.ForPeriod(ctx, db, rollup.Query{To: q.To, Loc: ny})
		if err != nil {
			t.Fatal(err)
		}
		if got := rowsText(all.Rows); all.FromTable || !strings.HasPrefix(got, "2026-01-04|Paid Search|brand||EUR sessions=0 orders=0 revenue=0 refunds=0 new=0 spend=900 unconverted=0\n"+
			"2026-01-05|Direct|(none)|web|EUR sessions=0 orders=1 revenue=2000 refunds=0 new=1 spend=0 unconverted=0\n"+want) {
			t.Errorf("all time up to 11 January, computed from the tables:\n%s", got)
		}
	})
}
