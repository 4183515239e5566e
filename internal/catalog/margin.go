package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// OrderMargin is the gross margin of one order (a fraction of its revenue) under the
// margin settings: its lines weighted by their value, each line with the margin of its
// product's category (the catalogue's category, else the category the event sent), else
// the default. ok is false when no line and no default has a margin.
func OrderMargin(items json.RawMessage, m workspace.Margins, cat *Catalogue) (float64, bool) {
	var lines []struct {
		ProductID json.RawMessage `json:"product_id"`
		SKU       string          `json:"sku"`
		Category  string          `json:"category"`
		Price     json.Number     `json:"price"`
		Quantity  json.Number     `json:"quantity"`
	}
	if len(items) > 0 && json.Unmarshal(items, &lines) == nil {
		var weighted, weight float64
		for _, l := range lines {
			price, err := strconv.ParseFloat(string(l.Price), 64)
			if err != nil || price <= 0 {
				continue
			}
			q := 1.0
			if n, err := strconv.ParseFloat(string(l.Quantity), 64); err == nil && n > 0 {
				q = n
			}
			category := l.Category
			id := strings.Trim(string(l.ProductID), `"`)
			p := cat.Get(id)
			if p == nil {
				p = cat.Get(l.SKU)
			}
			if p != nil && p.Category != "" {
				category = p.Category
			}
			f, ok := m.For(category)
			if !ok {
				continue
			}
			weighted += f * price * q
			weight += price * q
		}
		if weight > 0 {
			return weighted / weight, true
		}
	}
	return m.Default, m.HasDefault
}

// MarginRates are the gross margins of a period's orders, as fractions of revenue.
type MarginRates struct {
	Overall   float64            // gross profit ÷ revenue of the orders with a known margin
	ByChannel map[string]float64 // the same, by the order's channel
	Known     int64              // orders with a margin
	Orders    int64              // orders in the business currency
}

// PeriodMargins reads the margins of the orders in [from, to) in currency cur. With no
// margin set it returns zero rates and ok false: profit figures are then not shown.
func PeriodMargins(ctx context.Context, db *store.DB, from, to time.Time, cur string) (MarginRates, bool, error) {
	out := MarginRates{ByChannel: map[string]float64{}}
	m, err := workspace.ReadMargins(ctx, db)
	if err != nil || !m.Set() {
		return out, false, err
	}
	var cat *Catalogue
	if len(m.ByCategory) > 0 {
		if cat, err = Load(ctx, db); err != nil {
			return out, false, err
		}
	}
	rows, err := db.Query(ctx, `SELECT channel, revenue_minor, items FROM orders WHERE ts >= ? AND ts < ? AND currency = ?`, from.UnixMilli(), to.UnixMilli(), cur)
	if err != nil {
		return out, false, fmt.Errorf("read orders for margins: %w", err)
	}
	defer rows.Close()
	type acc struct{ profit, revenue float64 }
	all := acc{}
	by := map[string]*acc{}
	for rows.Next() {
		var ch, items string
		var rev int64
		if err := rows.Scan(&ch, &rev, &items); err != nil {
			return out, false, fmt.Errorf("read orders for margins: %w", err)
		}
		out.Orders++
		f, ok := OrderMargin(json.RawMessage(items), m, cat)
		if !ok || rev <= 0 {
			continue
		}
		out.Known++
		a := by[ch]
		if a == nil {
			a = &acc{}
			by[ch] = a
		}
		a.profit += f * float64(rev)
		a.revenue += float64(rev)
		all.profit += f * float64(rev)
		all.revenue += float64(rev)
	}
	if err := rows.Err(); err != nil {
		return out, false, fmt.Errorf("read orders for margins: %w", err)
	}
	if all.revenue == 0 {
		// No order to weigh: the default margin is the best estimate there is.
		out.Overall = m.Default
		return out, m.HasDefault, nil
	}
	out.Overall = all.profit / all.revenue
	for ch, a := range by {
		out.ByChannel[ch] = a.profit / a.revenue
	}
	return out, true, nil
}

// For returns the margin of a channel's orders, else the period's overall margin.
func (r MarginRates) For(channel string) float64 {
	if f, ok := r.ByChannel[channel]; ok {
		return f
	}
	return r.Overall
}

// POAS is profit on ad spend: a channel's return on ad spend (attributed revenue ÷ spend)
// times the gross margin of its orders. Nil when the ROAS is (no spend).
func (r MarginRates) POAS(roas *float64, channel string) *float64 {
	if roas == nil {
		return nil
	}
	v := *roas * r.For(channel)
	return &v
}
