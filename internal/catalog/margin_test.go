package catalog

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestPeriodMargins: an order's margin weighs its lines by value, each with its catalogue
// category's margin (else the event's category, else the default); orders are grouped by
// channel; with no margin set there is nothing.
func TestPeriodMargins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, _, err := Upsert(ctx, tx, []Product{{ID: "boot", Title: "Boot", Category: "Shoes", PriceMinor: 9000, Currency: "EUR"}}, at)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		orders := []struct {
			id, channel, items string
			rev                int64
		}{
			// 90 of shoes (50 %) and 10 of socks (default 20 %): 47 %.
			{"o1", "Paid Search", `[{"product_id":"boot","price":90,"quantity":1},{"product_id":"sock","category":"Socks","price":5,"quantity":2}]`, 10000},
			// A bag by the event's own category (60 %).
			{"o2", "Email", `[{"product_id":"bag","category":"Bags","price":"30.00"}]`, 3000},
			// No lines: the default.
			{"o3", "Email", `[]`, 1000},
		}
		for i, o := range orders {
			if _, err := db.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, items, source_id, seq) VALUES (?, 1, ?, ?, 'EUR', 'web', ?, ?, 1, ?)`,
				o.id, at.UnixMilli(), o.rev, o.channel, o.items, i+1); err != nil {
				t.Fatal(err)
			}
		}
		from, to := at.AddDate(0, 0, -1), at.AddDate(0, 0, 1)
		if _, ok, err := PeriodMargins(ctx, db, from, to, "EUR"); err != nil || ok {
			t.Fatalf("no margin set: ok=%v err=%v", ok, err)
		}
		for k, v := range map[string]string{"margin.default": "20", "margin.categories": "Shoes=50, Bags=60"} {
			if _, err := workspace.Set(ctx, db, audit.ActorCLI, k, v); err != nil {
				t.Fatal(err)
			}
		}
		m, err := workspace.ReadMargins(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := Load(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		near := func(name string, got, want float64) {
			t.Helper()
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		f, ok := OrderMargin(json.RawMessage(orders[0].items), m, cat)
		near("o1 margin", f, (90*0.5+10*0.2)/100)
		if !ok {
			t.Error("o1: no margin")
		}
		r, ok, err := PeriodMargins(ctx, db, from, to, "EUR")
		if err != nil || !ok {
			t.Fatalf("margins: %v %v", ok, err)
		}
		near("Paid Search", r.For("Paid Search"), 0.47)
		near("Email", r.For("Email"), (3000*0.6+1000*0.2)/4000)
		near("overall", r.Overall, (10000*0.47+3000*0.6+1000*0.2)/14000)
		near("a channel without orders", r.For("Display"), r.Overall)
		if r.Known != 3 || r.Orders != 3 {
			t.Errorf("known %d of %d", r.Known, r.Orders)
		}
	})
}
