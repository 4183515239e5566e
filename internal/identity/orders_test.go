package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestOrdersAndRefunds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, "currency", "chf") }); err != nil {
			t.Fatal(err)
		}
		order := func(min int, id string, props M) M {
			props["order_id"] = id
			return M{"type": "track", "event": "Order Completed", "userId": "buyer", "timestamp": at(min), "properties": props}
		}
		insert(t, db,
			// revenue wins over total; exact decimal, no float rounding.
			order(0, "A", M{"revenue": 19.99, "total": 25.10, "currency": "eur"}),
			// total when revenue is absent; workspace currency CHF.
			order(1, "B", M{"total": "1,234.56"}),
			// products when neither; JPY has no minor unit.
			order(2, "C", M{"currency": "JPY", "products": []M{{"price": 500, "quantity": 2}, {"price": "120", "quantity": 1}}}),
			// Same order id: this later-arriving event has the earlier event time: it loses.
			order(60, "D", M{"revenue": 50}),
		)
		catchUp(t, db)
		insert(t, db,
			order(30, "D", M{"revenue": 40}),
			order(61, "E", M{"revenue": 10}),
			order(62, "E", M{"revenue": 11}), // same time order: later in the log wins
			// A refund without a currency is in the workspace currency (CHF): it takes
			// nothing back from the EUR order A (the refund rule, commerce/refunds.go)...
			M{"type": "track", "event": "Order Refunded", "userId": "buyer", "timestamp": at(70), "properties": M{"order_id": "A", "amount": 5}},
			// ...one in EUR does.
			M{"type": "track", "event": "Order Refunded", "userId": "buyer", "timestamp": at(70), "properties": M{"order_id": "A", "amount": 4, "currency": "EUR"}},
			M{"type": "track", "event": "Order Refunded", "userId": "buyer", "timestamp": at(71), "properties": M{"order_id": "B"}},
			M{"type": "track", "event": "Order Completed", "anonymousId": "till-9", "timestamp": at(72), "properties": M{"revenue": 3, "channel": "in_store"}},
			M{"type": "track", "event": "Order Completed", "userId": "buyer", "timestamp": at(73), "properties": M{"order_id": "BAD", "revenue": "lots"}},
		)
		catchUp(t, db)
		os, err := commerce.Orders(ctx, db, t0, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]commerce.Order{}
		for _, o := range os {
			if o.OrderID == "" {
				t.Fatal("order without id")
			}
			got[o.OrderID] = o
		}
		want := map[string]struct {
			minor, refunded int64
			cur             string
		}{"A": {1999, 400, "EUR"}, "B": {123456, 123456, "CHF"}, "C": {1120, 0, "JPY"}, "D": {5000, 0, "CHF"}, "E": {1100, 0, "CHF"}}
		for id, w := range want {
			o := got[id]
			if o.RevenueMinor != w.minor || o.Currency != w.cur || o.RefundedMinor != w.refunded {
				t.Errorf("order %s = %d %s refunded %d, want %d %s refunded %d", id, o.RevenueMinor, o.Currency, o.RefundedMinor, w.minor, w.cur, w.refunded)
			}
		}
		if len(os) != 6 {
			t.Errorf("%d orders, want 6 (A-E and the till order without id)", len(os))
		}
		var till commerce.Order
		for _, o := range os {
			if o.RevenueMinor == 300 {
				till = o
			}
		}
		if till.Location != commerce.Store || till.Channel != "In-store" {
			t.Errorf("till order = %+v, want location store, channel In-store", till)
		}
		buyer := find(t, db, "buyer")
		co, err := commerce.CustomerOrders(ctx, db, buyer.ID)
		if err != nil || len(co) != 5 {
			t.Errorf("customer orders = %d, %v; want 5", len(co), err)
		}
		rs, err := commerce.Refunds(ctx, db, t0, time.Time{})
		if err != nil || len(rs) != 3 || rs[2].AmountMinor != 123456 || !rs[2].Full || rs[2].Currency != "CHF" {
			t.Errorf("refunds = %+v, %v", rs, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM orders WHERE order_id = 'BAD'`); n != 0 {
			t.Error("unreadable order stored")
		}
	})
}
