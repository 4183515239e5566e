package recommend

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// AttributionRow is what the clicks on one list in one placement led to.
type AttributionRow struct {
	List         string `json:"list"`
	Placement    string `json:"placement"`
	Clicks       int    `json:"clicks"`
	Orders       int    `json:"orders"`        // orders that contained the clicked product within the window
	RevenueMinor int64  `json:"revenue_minor"` // the clicked products' lines in those orders
	Revenue      string `json:"revenue"`
	Currency     string `json:"currency"`
}

// Attribution credits an order line to a recommendation when the same customer clicked
// that recommendation (a widget's Product Clicked, or a product link in a message) within
// window before the order and the order contains the product. An order line is credited
// once, to the latest click before it. This is last-click credit, not an effect:
// a customer may have bought the product anyway (journey holdouts measure effects).
func Attribution(ctx context.Context, db *store.DB, window time.Duration) ([]AttributionRow, error) {
	type click struct {
		customer int64
		ts       int64
		rec      string
	}
	rows, err := db.Query(ctx, `SELECT a.customer_id, p.ts, p.rec_id FROM product_events p JOIN activity a ON a.seq = p.seq
		WHERE p.kind = 'click' AND p.rec_id <> '' ORDER BY a.customer_id, p.ts, p.seq`)
	if err != nil {
		return nil, fmt.Errorf("read recommendation clicks: %w", err)
	}
	byCust := map[int64][]click{}
	agg := map[[3]string]*AttributionRow{}
	row := func(list, placement, cur string) *AttributionRow {
		k := [3]string{list, placement, cur}
		r := agg[k]
		if r == nil {
			r = &AttributionRow{List: list, Placement: placement, Currency: cur}
			agg[k] = r
		}
		return r
	}
	for rows.Next() {
		var c click
		if err := rows.Scan(&c.customer, &c.ts, &c.rec); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read recommendation clicks: %w", err)
		}
		byCust[c.customer] = append(byCust[c.customer], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cat, err := catalog.Load(ctx, db)
	if err != nil {
		return nil, err
	}
	clicksOf := map[[2]string]int{}
	for _, cs := range byCust {
		for _, c := range cs {
			list, placement, _, ok := catalog.ParseRecID(c.rec)
			if ok {
				clicksOf[[2]string{ListOfCode(list), placement}]++
			}
		}
	}
	for cust, cs := range byCust {
		orows, err := db.Query(ctx, `SELECT ts, currency, items FROM orders WHERE customer_id = ? AND ts > ? ORDER BY ts`, cust, cs[0].ts)
		if err != nil {
			return nil, fmt.Errorf("read orders: %w", err)
		}
		for orows.Next() {
			var ts int64
			var cur, items string
			if err := orows.Scan(&ts, &cur, &items); err != nil {
				orows.Close()
				return nil, err
			}
			var lines []struct {
				ProductID json.RawMessage `json:"product_id"`
				SKU       json.RawMessage `json:"sku"`
				Price     json.RawMessage `json:"price"`
				Quantity  float64         `json:"quantity"`
			}
			if json.Unmarshal([]byte(items), &lines) != nil {
				continue
			}
			credited := map[[2]string]bool{}
			for _, l := range lines {
				id := rawID(l.ProductID)
				if id == "" {
					id = rawID(l.SKU)
				}
				id = canonical(cat, id)
				// The latest click on this product before the order, within the window.
				var best *click
				for i := range cs {
					c := &cs[i]
					if c.ts >= ts || ts-c.ts > window.Milliseconds() {
						continue
					}
					if _, _, p, ok := catalog.ParseRecID(c.rec); ok && canonical(cat, p) == id {
						best = c
					}
				}
				if best == nil {
					continue
				}
				list, placement, _, _ := catalog.ParseRecID(best.rec)
				r := row(ListOfCode(list), placement, cur)
				k := [2]string{r.List, r.Placement}
				if !credited[k] {
					credited[k] = true
					r.Orders++
				}
				if len(l.Price) > 0 {
					if p, err := money.FromJSON(l.Price, cur); err == nil {
						r.RevenueMinor += p * int64(max(l.Quantity, 1))
					}
				}
			}
		}
		orows.Close()
		if err := orows.Err(); err != nil {
			return nil, err
		}
	}
	cur, err := currencyOf(ctx, db)
	if err != nil {
		return nil, err
	}
	for k, n := range clicksOf {
		found := false
		for ak, r := range agg {
			if ak[0] == k[0] && ak[1] == k[1] {
				r.Clicks = n
				found = true
			}
		}
		if !found {
			row(k[0], k[1], cur).Clicks = n
		}
	}
	out := make([]AttributionRow, 0, len(agg))
	for _, r := range agg {
		r.Revenue = money.Format(r.RevenueMinor, r.Currency)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].List != out[j].List {
			return out[i].List < out[j].List
		}
		if out[i].Placement != out[j].Placement {
			return out[i].Placement < out[j].Placement
		}
		return out[i].Currency < out[j].Currency
	})
	return out, nil
}

// currencyOf is the business currency (workspace.Currency, the one accessor).
func currencyOf(ctx context.Context, db *store.DB) (string, error) {
	return workspace.Currency(ctx, db)
}
