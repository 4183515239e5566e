package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// The follower derives catalogue_seen and product_events from the event log, behind its
// own cursor. It keys everything by event seq and keeps the latest description by event
// time, so running it twice, or in two processes at once, writes the same rows; the
// customer of an interaction is read through the activity row of the same seq, which the
// identity processor keeps current through merges and erasures.

// CursorSetting is the last event seq the follower has read.
const CursorSetting = "catalog.cursor"

// RecParam is the query parameter that carries a recommendation id on product links in
// messages, so that a click (and the order after it) is traced to the recommendation.
const RecParam = "orec"

// Interaction kinds stored in product_events.
const (
	KindView  = "view"
	KindCart  = "cart"
	KindClick = "click"
)

// Segment e-commerce events the follower reads.
var followed = []string{"Product Viewed", "Product Added", "Product Clicked", commerce.OrderCompleted, "Email Link Clicked"}

const followWindow = 20000

// CatchUp reads the events after the cursor up to the end of the log.
func CatchUp(ctx context.Context, db *store.DB) error {
	currency, err := workspace.Currency(ctx, db)
	if err != nil {
		return err
	}
	kinds, err := db.SourceKindsByID(ctx)
	if err != nil {
		return err
	}
	for {
		cur, err := cursor(ctx, db)
		if err != nil {
			return err
		}
		top, err := db.MaxEventSeq(ctx)
		if err != nil {
			return err
		}
		if top <= cur {
			return nil
		}
		hi := min(cur+followWindow, top)
		if err := followBatch(ctx, db, cur, hi, currency, kinds); err != nil {
			return err
		}
	}
}

func cursor(ctx context.Context, db *store.DB) (int64, error) {
	v, ok, err := db.Setting(ctx, CursorSetting)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("setting %s = %q: %w", CursorSetting, v, err)
	}
	return n, nil
}

// Rebuild empties the derived tables and reads the whole log again.
func Rebuild(ctx context.Context, db *store.DB) error {
	err := db.Write(ctx, func(tx *store.Tx) error {
		for _, t := range []string{"catalogue_seen", "product_events"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+t); err != nil {
				return fmt.Errorf("empty %s: %w", t, err)
			}
		}
		return store.SetSetting(ctx, tx, CursorSetting, "0")
	})
	if err != nil {
		return err
	}
	return CatchUp(ctx, db)
}

type seenRow struct {
	Product
	ts, seq int64
}

type peRow struct {
	seq     int64
	pos     int
	product string
	kind    string
	ts      int64
	rec     string
}

// eventProduct is the Segment product object (and the product fields of a product event).
type eventProduct struct {
	ProductID json.RawMessage `json:"product_id"`
	ID        json.RawMessage `json:"id"`
	SKU       json.RawMessage `json:"sku"`
	Name      string          `json:"name"`
	Category  string          `json:"category"`
	Price     json.RawMessage `json:"price"`
	Currency  string          `json:"currency"`
	URL       string          `json:"url"`
	ImageURL  string          `json:"image_url"`
	RecID     string          `json:"recommendation_id"`
	Products  json.RawMessage `json:"products"`
	LinkURL   string          `json:"link_url"`
}

func idText(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return ""
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(raw, &v) == nil {
			return strings.TrimSpace(v)
		}
		return ""
	}
	return s
}

func (p *eventProduct) id() string {
	if id := idText(p.ProductID); id != "" {
		return id
	}
	if id := idText(p.ID); id != "" {
		return id
	}
	return idText(p.SKU)
}

// ParseRecID splits a recommendation id ("fy.email.p-sourdough": list, placement,
// product) as Ref makes it.
func ParseRecID(rec string) (list, placement, product string, ok bool) {
	list, rest, ok1 := strings.Cut(rec, ".")
	placement, product, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || list == "" || product == "" {
		return "", "", "", false
	}
	return list, placement, product, true
}

func followBatch(ctx context.Context, db *store.DB, lo, hi int64, currency string, kinds map[int64]string) error {
	names := make([]string, len(followed))
	args := []any{lo, hi}
	for i, n := range followed {
		names[i] = "?"
		args = append(args, n)
	}
	rows, err := db.Query(ctx, `SELECT seq, source_id, name, ts, body FROM events WHERE seq > ? AND seq <= ? AND type = 'track'
		AND name IN (`+strings.Join(names, ",")+`) ORDER BY seq`, args...)
	if err != nil {
		return fmt.Errorf("read product events: %w", err)
	}
	seen := map[string]*seenRow{}
	var pes []peRow
	for rows.Next() {
		var seq, src, ts int64
		var name string
		var body []byte
		if err := rows.Scan(&seq, &src, &name, &ts, &body); err != nil {
			rows.Close()
			return fmt.Errorf("read product events: %w", err)
		}
		var ev struct {
			Properties eventProduct `json:"properties"`
		}
		if json.Unmarshal(body, &ev) != nil {
			continue // the processor reports malformed events; nothing to learn here
		}
		pr := &ev.Properties
		trusted := store.KindTrusted(kinds[src])
		describe := func(p *eventProduct) {
			id := p.id()
			if id == "" || p.Name == "" {
				return
			}
			cur := currency
			if c, err := money.NormalizeCurrency(p.Currency); err == nil && p.Currency != "" {
				cur = c
			} else if pr.Currency != "" {
				if c, err := money.NormalizeCurrency(pr.Currency); err == nil {
					cur = c
				}
			}
			var price int64
			if len(bytes.TrimSpace(p.Price)) > 0 {
				price, _ = money.FromJSON(p.Price, cur)
			}
			old := seen[id]
			if old != nil && (old.ts > ts || old.ts == ts && old.seq > seq) {
				return
			}
			seen[id] = &seenRow{Product: Product{ID: id, SKU: idText(p.SKU), Title: clip(p.Name, 200), Category: clip(p.Category, 100),
				PriceMinor: max(price, 0), Currency: cur, URL: cleanURL(p.URL), ImageURL: cleanURL(p.ImageURL), Trusted: trusted}, ts: ts, seq: seq}
		}
		switch name {
		case commerce.OrderCompleted:
			var items []eventProduct
			if json.Unmarshal(pr.Products, &items) == nil {
				for i := range items {
					describe(&items[i])
				}
			}
		case "Email Link Clicked":
			// A recommendation in a message: its link carries the recommendation id.
			u, err := url.Parse(pr.LinkURL)
			if err != nil {
				continue
			}
			rec := u.Query().Get(RecParam)
			if _, _, product, ok := ParseRecID(rec); ok {
				pes = append(pes, peRow{seq: seq, product: product, kind: KindClick, ts: ts, rec: clip(rec, 200)})
			}
		default:
			id := pr.id()
			if id == "" {
				continue
			}
			describe(pr)
			kind := KindView
			switch name {
			case "Product Added":
				kind = KindCart
			case "Product Clicked":
				kind = KindClick
			}
			rec := ""
			if kind == KindClick {
				if _, _, _, ok := ParseRecID(pr.RecID); ok {
					rec = clip(pr.RecID, 200)
				}
			}
			pes = append(pes, peRow{seq: seq, product: clip(id, 200), kind: kind, ts: ts, rec: rec})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read product events: %w", err)
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		for _, p := range pes {
			if _, err := tx.Exec(ctx, `INSERT INTO product_events (seq, pos, product_id, kind, ts, rec_id) VALUES (?,?,?,?,?,?)
				ON CONFLICT (seq, pos) DO NOTHING`, p.seq, p.pos, p.product, p.kind, p.ts, p.rec); err != nil {
				return fmt.Errorf("write product events: %w", err)
			}
		}
		for _, s := range seen {
			t := 0
			if s.Trusted {
				t = 1
			}
			// Latest description by event time wins, whatever order batches run in.
			if _, err := tx.Exec(ctx, `INSERT INTO catalogue_seen (product_id, sku, title, category, price_minor, currency, url, image_url, trusted, ts, seq)
				VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (product_id) DO UPDATE SET sku = excluded.sku, title = excluded.title,
				category = excluded.category, price_minor = excluded.price_minor, currency = excluded.currency, url = excluded.url,
				image_url = excluded.image_url, trusted = excluded.trusted, ts = excluded.ts, seq = excluded.seq
				WHERE excluded.ts > catalogue_seen.ts OR (excluded.ts = catalogue_seen.ts AND excluded.seq > catalogue_seen.seq)`,
				s.ID, s.SKU, s.Title, s.Category, s.PriceMinor, s.Currency, s.URL, s.ImageURL, t, s.ts, s.seq); err != nil {
				return fmt.Errorf("write products seen: %w", err)
			}
		}
		// Another process may have gone further: the cursor only moves forward.
		_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
			WHERE CAST(settings.value AS BIGINT) < CAST(excluded.value AS BIGINT)`, CursorSetting, strconv.FormatInt(hi, 10))
		return err
	})
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// cleanURL keeps http(s) URLs only (no javascript: or data: links from events).
func cleanURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2000 {
		return ""
	}
	return u.String()
}
