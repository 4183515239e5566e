// Package catalog holds the shop's products and stock: imported from a Shopify products
// export or a Google Merchant Center feed (internal/importer, `omniroi import products`),
// and, for products nobody imported, described by the shop's own e-commerce events
// (Product Viewed, Product Added, order lines), which a follower derives from the log.
//
// An imported product always wins over what events say: events from a client source
// (a public write key) may come from anyone, so a product known only from such events is
// marked untrusted and shown to customers only when its link is on the shop's own domain.
package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Availability values (Google Merchant's names).
const (
	InStock    = "in_stock"
	OutOfStock = "out_of_stock"
	Preorder   = "preorder"
	Backorder  = "backorder"
)

// Product is one product or variant.
type Product struct {
	ID            string           `json:"product_id"`
	ParentID      string           `json:"parent_id,omitempty"` // a variant's product
	SKU           string           `json:"sku,omitempty"`
	Title         string           `json:"title"`
	Category      string           `json:"category,omitempty"`
	Brand         string           `json:"brand,omitempty"`
	PriceMinor    int64            `json:"price_minor"`
	CostMinor     int64            `json:"cost_minor,omitempty"` // 0: unknown
	Currency      string           `json:"currency,omitempty"`
	URL           string           `json:"url,omitempty"`
	ImageURL      string           `json:"image_url,omitempty"`
	Availability  string           `json:"availability"`
	Replenishable bool             `json:"replenishable,omitempty"`
	Origin        string           `json:"origin"`             // import preset, or "events"
	Trusted       bool             `json:"trusted"`            // imported, or described by a server source
	Stock         map[string]int64 `json:"stock,omitempty"`    // location → quantity; nil: not tracked
	Variants      []string         `json:"variants,omitempty"` // ids of a product's variants
}

// Available reports whether the product can be sold at location ("" any): its
// availability is in stock (or preorder/backorder), and where stock is tracked for the
// location (or, for "", anywhere) some is left. A product's stock includes its variants'.
func (p *Product) Available(location string) bool {
	if p.Availability == OutOfStock {
		return false
	}
	if p.Stock == nil {
		return true
	}
	if location != "" {
		q, tracked := p.Stock[location]
		return !tracked || q > 0
	}
	for _, q := range p.Stock {
		if q > 0 {
			return true
		}
	}
	return false
}

// MarginShare is (price − cost) / price, and ok is false when the cost is unknown.
func (p *Product) MarginShare() (float64, bool) {
	if p.CostMinor <= 0 || p.PriceMinor <= 0 {
		return 0, false
	}
	return float64(p.PriceMinor-p.CostMinor) / float64(p.PriceMinor), true
}

// Catalogue is the products in memory: imported ones, then those only events describe.
type Catalogue struct {
	byID  map[string]*Product
	bySKU map[string]*Product
	ids   []string // products (not variants), sorted
}

// Get finds a product by id, then by SKU; variants resolve to their product.
func (c *Catalogue) Get(id string) *Product {
	if c == nil || id == "" {
		return nil
	}
	p := c.byID[id]
	if p == nil {
		p = c.bySKU[id]
	}
	if p != nil && p.ParentID != "" {
		if parent := c.byID[p.ParentID]; parent != nil {
			return parent
		}
	}
	return p
}

// Products lists the products (not variants) by id.
func (c *Catalogue) Products() []*Product {
	out := make([]*Product, 0, len(c.ids))
	for _, id := range c.ids {
		out = append(out, c.byID[id])
	}
	return out
}

// Len is the number of products (not variants).
func (c *Catalogue) Len() int { return len(c.ids) }

// Load reads the catalogue: imported products with their stock (a product's stock sums
// its variants'), and products only events describe.
func Load(ctx context.Context, db *store.DB) (*Catalogue, error) {
	c := &Catalogue{byID: map[string]*Product{}, bySKU: map[string]*Product{}}
	rows, err := db.Query(ctx, `SELECT product_id, parent_id, sku, title, category, brand, price_minor, cost_minor, currency,
		url, image_url, availability, replenishable, origin FROM catalogue_products ORDER BY product_id`)
	if err != nil {
		return nil, fmt.Errorf("read catalogue: %w", err)
	}
	for rows.Next() {
		p := &Product{Trusted: true}
		var repl int
		if err := rows.Scan(&p.ID, &p.ParentID, &p.SKU, &p.Title, &p.Category, &p.Brand, &p.PriceMinor, &p.CostMinor, &p.Currency,
			&p.URL, &p.ImageURL, &p.Availability, &repl, &p.Origin); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read catalogue: %w", err)
		}
		p.Replenishable = repl == 1
		c.byID[p.ID] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read catalogue: %w", err)
	}
	srows, err := db.Query(ctx, `SELECT product_id, location, quantity FROM catalogue_stock`)
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	for srows.Next() {
		var id, loc string
		var q int64
		if err := srows.Scan(&id, &loc, &q); err != nil {
			srows.Close()
			return nil, fmt.Errorf("read stock: %w", err)
		}
		p := c.byID[id]
		if p == nil {
			continue
		}
		for _, t := range []*Product{p, c.byID[p.ParentID]} {
			if t == nil {
				continue
			}
			if t.Stock == nil {
				t.Stock = map[string]int64{}
			}
			t.Stock[loc] += max(q, 0)
		}
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	erows, err := db.Query(ctx, `SELECT product_id, sku, title, category, price_minor, currency, url, image_url, trusted FROM catalogue_seen ORDER BY product_id`)
	if err != nil {
		return nil, fmt.Errorf("read products seen in events: %w", err)
	}
	for erows.Next() {
		p := &Product{Origin: "events", Availability: InStock}
		var trusted int
		if err := erows.Scan(&p.ID, &p.SKU, &p.Title, &p.Category, &p.PriceMinor, &p.Currency, &p.URL, &p.ImageURL, &trusted); err != nil {
			erows.Close()
			return nil, fmt.Errorf("read products seen in events: %w", err)
		}
		p.Trusted = trusted == 1
		if _, imported := c.byID[p.ID]; imported {
			continue
		}
		c.byID[p.ID] = p
	}
	erows.Close()
	if err := erows.Err(); err != nil {
		return nil, fmt.Errorf("read products seen in events: %w", err)
	}
	c.index()
	return c, nil
}

// New makes a catalogue of the given products (tests, evaluation, the demo).
func New(ps []Product) *Catalogue {
	c := &Catalogue{byID: map[string]*Product{}, bySKU: map[string]*Product{}}
	for i := range ps {
		p := ps[i]
		c.byID[p.ID] = &p
	}
	c.index()
	return c
}

func (c *Catalogue) index() {
	c.ids = c.ids[:0]
	for id, p := range c.byID {
		if p.SKU != "" && p.SKU != id {
			if _, taken := c.bySKU[p.SKU]; !taken {
				c.bySKU[p.SKU] = p
			}
		}
		if p.ParentID != "" && c.byID[p.ParentID] != nil {
			parent := c.byID[p.ParentID]
			parent.Variants = append(parent.Variants, id)
			continue
		}
		c.ids = append(c.ids, id)
	}
	sort.Strings(c.ids)
	for _, id := range c.ids {
		sort.Strings(c.byID[id].Variants)
	}
}

// Stock is the quantity of one product or variant at one location.
type Stock struct {
	ProductID string
	Location  string
	Quantity  int64
}

// Upsert writes imported products (replacing earlier imports of the same ids) and
// reports how many rows changed and how many were already identical.
func Upsert(ctx context.Context, tx *store.Tx, ps []Product, now time.Time) (changed, same int, err error) {
	for i := range ps {
		p := &ps[i]
		if p.Availability == "" {
			p.Availability = InStock
		}
		repl := 0
		if p.Replenishable {
			repl = 1
		}
		var n int
		err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM catalogue_products WHERE product_id = ? AND parent_id = ? AND sku = ? AND title = ?
			AND category = ? AND brand = ? AND price_minor = ? AND cost_minor = ? AND currency = ? AND url = ? AND image_url = ?
			AND availability = ? AND replenishable = ? AND origin = ?`,
			p.ID, p.ParentID, p.SKU, p.Title, p.Category, p.Brand, p.PriceMinor, p.CostMinor, p.Currency, p.URL, p.ImageURL,
			p.Availability, repl, p.Origin).Scan(&n)
		if err != nil {
			return changed, same, fmt.Errorf("write product %s: %w", p.ID, err)
		}
		if n > 0 {
			same++
			continue
		}
		_, err = tx.Exec(ctx, `INSERT INTO catalogue_products (product_id, parent_id, sku, title, category, brand, price_minor, cost_minor,
			currency, url, image_url, availability, replenishable, origin, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (product_id) DO UPDATE SET parent_id = excluded.parent_id, sku = excluded.sku, title = excluded.title,
			category = excluded.category, brand = excluded.brand, price_minor = excluded.price_minor, cost_minor = excluded.cost_minor,
			currency = excluded.currency, url = excluded.url, image_url = excluded.image_url, availability = excluded.availability,
			replenishable = excluded.replenishable, origin = excluded.origin, updated_at = excluded.updated_at`,
			p.ID, p.ParentID, p.SKU, p.Title, p.Category, p.Brand, p.PriceMinor, p.CostMinor, p.Currency, p.URL, p.ImageURL,
			p.Availability, repl, p.Origin, now.UnixMilli())
		if err != nil {
			return changed, same, fmt.Errorf("write product %s: %w", p.ID, err)
		}
		changed++
	}
	return changed, same, nil
}

// SetStock writes stock rows (replacing the same product and location).
func SetStock(ctx context.Context, tx *store.Tx, rows []Stock, now time.Time) (changed int, err error) {
	for _, s := range rows {
		res, err := tx.Exec(ctx, `INSERT INTO catalogue_stock (product_id, location, quantity, updated_at) VALUES (?,?,?,?)
			ON CONFLICT (product_id, location) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at
			WHERE catalogue_stock.quantity <> excluded.quantity`, s.ProductID, s.Location, s.Quantity, now.UnixMilli())
		if err != nil {
			return changed, fmt.Errorf("write stock of %s at %s: %w", s.ProductID, s.Location, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed++
		}
	}
	return changed, nil
}

// Version is a cheap fingerprint of the catalogue tables: it changes when an import,
// a stock change or a merchandising rule changes them.
func Version(ctx context.Context, db *store.DB) (string, error) {
	var parts []string
	for _, q := range []string{
		`SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM catalogue_products`,
		`SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM catalogue_stock`,
		`SELECT COUNT(*), COALESCE(MAX(created_at), 0) FROM product_rules`,
		`SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM catalogue_seen`,
	} {
		var n, m int64
		if err := db.QueryRow(ctx, q).Scan(&n, &m); err != nil {
			return "", fmt.Errorf("catalogue version: %w", err)
		}
		parts = append(parts, fmt.Sprintf("%d.%d", n, m))
	}
	return strings.Join(parts, "-"), nil
}

// Categories lists the distinct product categories of the catalogue, sorted.
func (c *Catalogue) Categories() []string {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range c.ids {
		if p := c.byID[id]; p != nil && p.Category != "" && !seen[p.Category] {
			seen[p.Category] = true
			out = append(out, p.Category)
		}
	}
	sort.Strings(out)
	return out
}
