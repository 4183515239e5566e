package commerce

import (
	"context"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestRefundRuleAgrees: the rule in SQL (Orders' refunded totals, Refunds' amounts) and in
// Go (ApplyRefunds) count the same.
func TestRefundRuleAgrees(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		orders := []Order{
			{OrderID: "A", CustomerID: 1, Time: t0, RevenueMinor: 5000, Currency: "EUR", Seq: 1},
			{OrderID: "B", CustomerID: 2, Time: t0, RevenueMinor: 900, Currency: "JPY", Seq: 2},
			{OrderID: "C", CustomerID: 3, Time: t0, RevenueMinor: 700, Currency: "EUR", Seq: 3},
		}
		refunds := []Refund{
			{Seq: 10, OrderID: "A", CustomerID: 1, Time: t0.Add(time.Hour), AmountMinor: 1000, Currency: "EUR"},
			{Seq: 11, OrderID: "A", CustomerID: 1, Time: t0.Add(2 * time.Hour), Full: true},
			{Seq: 12, OrderID: "A", CustomerID: 1, Time: t0.Add(3 * time.Hour), AmountMinor: 300, Currency: "USD"},
			{Seq: 13, OrderID: "B", CustomerID: 2, Time: t0.Add(time.Hour), AmountMinor: 300, Currency: "JPY"},
			{Seq: 14, OrderID: "B", CustomerID: 2, Time: t0.Add(time.Hour), AmountMinor: 200, Currency: "EUR"},
			{Seq: 15, OrderID: "nope", CustomerID: 4, Time: t0, Full: true},
			{Seq: 16, OrderID: "C", CustomerID: 3, Time: t0.Add(time.Hour), AmountMinor: 200, Currency: "EUR"},
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, o := range orders {
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, ?, 'web', 'Direct', 1, ?)`,
					o.OrderID, o.CustomerID, o.Time.UnixMilli(), o.RevenueMinor, o.Currency, o.Seq); err != nil {
					return err
				}
			}
			for _, r := range refunds {
				full := 0
				if r.Full {
					full = 1
				}
				if _, err := tx.Exec(ctx, `INSERT INTO refunds (seq, order_id, customer_id, ts, amount_minor, currency, full_refund) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					r.Seq, r.OrderID, r.CustomerID, r.Time.UnixMilli(), r.AmountMinor, r.Currency, full); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Orders(ctx, db, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"A": 5000, "B": 300, "C": 200}
		for _, o := range got {
			var mine []Refund
			for _, r := range refunds {
				if r.OrderID == o.OrderID {
					mine = append(mine, r)
				}
			}
			var counted int64
			for _, a := range ApplyRefunds(o, mine) {
				counted += a.Counted
			}
			if o.RefundedMinor != want[o.OrderID] || counted != want[o.OrderID] {
				t.Errorf("order %s: SQL refunded %d, Go %d, want %d", o.OrderID, o.RefundedMinor, counted, want[o.OrderID])
			}
		}
		rs, err := Refunds(ctx, db, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			switch r.Seq {
			case 11:
				if r.AmountMinor != 5000 || r.Currency != "EUR" {
					t.Errorf("full refund of A: %+v", r)
				}
			case 15:
				if r.AmountMinor != 0 || r.Currency != "" {
					t.Errorf("full refund of an unknown order: %+v", r)
				}
			}
		}
	})
}
