package workspace

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// The shop's economics: gross margin, so that ROI can be read on profit (POAS beside
// ROAS), and what one message costs per channel, so that journeys have a cost and an ROI.
var (
	MarginDefaultKey = Register(Key{Name: "margin.default", Group: "economics", Default: "",
		Summary: "gross margin in percent of revenue (e.g. 40), for products whose category has none below; set, the ROI tables show profit on ad spend (POAS) beside ROAS",
		Check:   checkPercent})
	MarginCategoriesKey = Register(Key{Name: "margin.categories", Group: "economics", Default: "",
		Summary: "gross margin in percent per product category of the catalogue (comma separated, e.g. Shoes=40,Bags=55)",
		Check:   checkCategoryMargins})
	CostEmailKey = Register(Key{Name: "journeys.cost.email", Group: "economics", Default: "",
		Summary: "what one email costs to send, in the business currency (e.g. 0.001); journey reports count it as the journey's cost",
		Check:   checkUnitCost})
	CostSMSKey = Register(Key{Name: "journeys.cost.sms", Group: "economics", Default: "",
		Summary: "what one text message costs to send, in the business currency (e.g. 0.07); journey reports count it as the journey's cost",
		Check:   checkUnitCost})
)

// MessageCostKeys maps a message channel to the setting of its cost.
var MessageCostKeys = map[string]Key{"email": CostEmailKey, "sms": CostSMSKey}

func parsePercent(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		return 0, fmt.Errorf("%q is not a percentage from 0 to 100 (like 40 or 37.5)", v)
	}
	return f, nil
}

func checkPercent(v string) (string, error) {
	f, err := parsePercent(v)
	if err != nil {
		return "", err
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

func checkCategoryMargins(v string) (string, error) {
	m, err := ParseCategoryMargins(v)
	if err != nil {
		return "", err
	}
	return FormatCategoryMargins(m), nil
}

// ParseCategoryMargins reads margin.categories: "Category=percent" pairs, comma separated.
func ParseCategoryMargins(v string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, p, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not Category=percent (like Shoes=40)", item)
		}
		if strings.ContainsAny(k, "=\n\r\t") || len(k) > 200 {
			return nil, fmt.Errorf("%q is not a category name", k)
		}
		f, err := parsePercent(p)
		if err != nil {
			return nil, fmt.Errorf("category %s: %w", k, err)
		}
		out[k] = f
	}
	return out, nil
}

// FormatCategoryMargins writes m as margin.categories stores it (sorted by category).
func FormatCategoryMargins(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.FormatFloat(m[k], 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}

func checkUnitCost(v string) (string, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1000 {
		return "", fmt.Errorf("%q is not an amount from 0 to 1000 (like 0.07)", v)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// Margins is the gross margin setting: a default and per-category overrides, as
// fractions of revenue (0.4 for 40 %).
type Margins struct {
	Default    float64
	HasDefault bool
	ByCategory map[string]float64
}

// Set reports whether any margin is set (without one, profit figures are not shown).
func (m Margins) Set() bool { return m.HasDefault || len(m.ByCategory) > 0 }

// For returns the margin of a product category: its own, else the default. ok is false
// when neither is set.
func (m Margins) For(category string) (float64, bool) {
	if f, ok := m.ByCategory[category]; ok {
		return f, true
	}
	return m.Default, m.HasDefault
}

// ReadMargins reads margin.default and margin.categories.
func ReadMargins(ctx context.Context, db *store.DB) (Margins, error) {
	var m Margins
	d, err := Get(ctx, db, MarginDefaultKey.Name)
	if err != nil {
		return m, err
	}
	if d != "" {
		f, err := parsePercent(d)
		if err != nil {
			return m, err
		}
		m.Default, m.HasDefault = f/100, true
	}
	c, err := Get(ctx, db, MarginCategoriesKey.Name)
	if err != nil {
		return m, err
	}
	byCat, err := ParseCategoryMargins(c)
	if err != nil {
		return m, err
	}
	if len(byCat) > 0 {
		m.ByCategory = map[string]float64{}
		for k, f := range byCat {
			m.ByCategory[k] = f / 100
		}
	}
	return m, nil
}

// MessageCosts returns what one message costs per channel, in minor units of cur (the
// business currency; fractions of a minor unit are kept: an email costs a tenth of a
// cent). Channels without a setting are absent.
func MessageCosts(ctx context.Context, db *store.DB, cur string) (map[string]float64, error) {
	out := map[string]float64{}
	scale := math.Pow10(money.Exponent(cur))
	for ch, k := range MessageCostKeys {
		v, err := Get(ctx, db, k.Name)
		if err != nil {
			return nil, err
		}
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", k.Name, err)
		}
		out[ch] = f * scale
	}
	return out, nil
}
