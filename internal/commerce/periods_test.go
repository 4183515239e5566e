package commerce_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

type M = map[string]any

// TestSalesByPeriod: revenue, orders, refunds and new buyers per day and per week in New
// York time, against figures worked out by hand from the events below: an order late in
// the evening of 9 January (03:00 UTC on the 10th), a partial refund, a second partial
// refund the rule caps at what is left, a full refund that takes its order's amount, an
// order before the period (its customer is not new) and an order in dollars (left out,
// but its customer's first purchase is new).
func TestSalesByPeriod(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for k, v := range map[string]string{"currency": "EUR", "timezone": "America/New_York"} {
			if _, err := workspace.Set(ctx, db, "test", k, v); err != nil {
				t.Fatal(err)
			}
		}
		order := func(user, id, ts string, revenue float64, cur string) M {
			return M{"type": "track", "event": "Order Completed", "userId": user, "timestamp": ts,
				"properties": M{"order_id": id, "revenue": revenue, "currency": cur}}
		}
		refund := func(user, id, ts string, amount float64) M {
			p := M{"order_id": id}
			if amount > 0 {
				p["amount"], p["currency"] = amount, "EUR"
			}
			return M{"type": "track", "event": "Order Refunded", "userId": user, "timestamp": ts, "properties": p}
		}
		identitytest.Load(t, db, "shop", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			order("c1", "A", "2026-01-10T03:00:00Z", 100, "EUR"), // 9 Jan, 22:00 in New York
			refund("c1", "A", "2026-01-12T12:00:00Z", 30),
			refund("c1", "A", "2026-01-13T12:00:00Z", 90), // 70 left of A
			order("c2", "B", "2026-01-10T12:00:00Z", 50, "EUR"),
			refund("c2", "B", "2026-01-20T04:00:00Z", 0), // full, 19 Jan 23:00 in New York
			order("c3", "C", "2026-01-05T12:00:00Z", 20, "EUR"),
			order("c3", "D", "2026-01-11T12:00:00Z", 40, "EUR"),
			order("c4", "E", "2026-01-11T15:00:00Z", 70, "USD"),
		)
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := commerce.SummariesCurrent(ctx, db, ny); err != nil || !ok {
			t.Fatalf("order summaries not kept in New York time: %v", err)
		}
		day := func(d int, loc *time.Location) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, loc) }
		q := commerce.SalesQuery{From: day(8, ny), To: day(22, ny), Loc: ny, Currency: "EUR"}
		got, err := commerce.SalesByPeriod(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		// A 100 + B 50 + D 40; refunds 30 + 70 (capped) + 50 (full); buyers c1 c2 c3;
		// first purchases c1 (9th), c2 (10th), c4 (11th, in dollars).
		want := commerce.SalesTotals{Orders: 3, RevenueMinor: 19000, Refunds: 3, RefundsMinor: 15000, Buyers: 3, NewBuyers: 3}
		if got.Total != want || got.OtherCurrency != 1 {
			t.Errorf("totals %+v (other currency %d), want %+v (1)", got.Total, got.OtherCurrency, want)
		}
		wantDays := "2026-01-09 o1 r10000 n1\n2026-01-10 o1 r5000 n1\n2026-01-11 o1 r4000 n1\n" +
			"2026-01-12 refunds 1 3000\n2026-01-13 refunds 1 7000\n2026-01-19 refunds 1 5000\n"
		if days := got.Periods(commerce.Day); periodText(days) != wantDays || len(days) != 14 {
			t.Errorf("%d days:\n%swant 14:\n%s", len(days), periodText(days), wantDays)
		}
		// Weeks start on Monday: 5, 12 and 19 January (the days before the 8th are not
		// part of the query).
		wantWeeks := "2026-01-05 o3 r19000 n3\n2026-01-12 refunds 2 10000\n2026-01-19 refunds 1 5000\n"
		weeks := got.Periods(commerce.Week)
		if s := periodText(weeks); s != wantWeeks || len(weeks) != 3 || weeks[0].Start.Location() != ny {
			t.Errorf("weeks:\n%swant:\n%s", s, wantWeeks)
		}
		// All time starts at the first day with sales: C on the 5th, c3 new then.
		q.From = time.Time{}
		if got, err = commerce.SalesByPeriod(ctx, db, q); err != nil {
			t.Fatal(err)
		}
		want = commerce.SalesTotals{Orders: 4, RevenueMinor: 21000, Refunds: 3, RefundsMinor: 15000, Buyers: 3, NewBuyers: 4}
		if weeks := got.Periods(commerce.Week); got.Total != want || len(weeks) != 3 || !got.First.Equal(day(5, ny)) || !weeks[0].Start.Equal(day(5, ny)) {
			t.Errorf("all time: %+v from %v, want %+v from 5 January", got.Total, got.First, want)
		}
		// In UTC (a time zone the summaries are not kept in: computed from the orders), A
		// is an order of the 10th and the full refund one of the 20th.
		q = commerce.SalesQuery{From: day(8, time.UTC), To: day(22, time.UTC), Loc: time.UTC, Currency: "EUR"}
		if got, err = commerce.SalesByPeriod(ctx, db, q); err != nil {
			t.Fatal(err)
		}
		wantDays = "2026-01-10 o2 r15000 n2\n2026-01-11 o1 r4000 n1\n" +
			"2026-01-12 refunds 1 3000\n2026-01-13 refunds 1 7000\n2026-01-20 refunds 1 5000\n"
		if s := periodText(got.Periods(commerce.Day)); s != wantDays {
			t.Errorf("UTC days:\n%swant:\n%s", s, wantDays)
		}
	})
}

func periodText(ps []commerce.Period) string {
	var b strings.Builder
	for _, p := range ps {
		d := p.Start.Format("2006-01-02")
		if p.Orders > 0 || p.NewBuyers > 0 {
			fmt.Fprintf(&b, "%s o%d r%d n%d\n", d, p.Orders, p.RevenueMinor, p.NewBuyers)
		}
		if p.Refunds > 0 {
			fmt.Fprintf(&b, "%s refunds %d %d\n", d, p.Refunds, p.RefundsMinor)
		}
	}
	return b.String()
}
