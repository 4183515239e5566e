package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Where an order was: ad platforms target postcodes and regions, so a region test needs
// each order's postcode. It is read, in this order, from the order event's
// properties.shipping_address (or shippingAddress, billing_address, address) postal_code
// / postalCode / zip / postcode, then the same keys at the top of the properties, then
// properties.region, then the customer's identify trait address.postalCode (Segment's
// spec) or address.postal_code. A postcode counts by its first PostcodePrefix characters
// (letters and digits, upper-cased): "75011" with prefix 2 is area "75"; a region name
// counts as it is.

// DefaultPostcodePrefix is how many leading characters of a postcode name its area.
const DefaultPostcodePrefix = 2

var addressKeys = []string{"shipping_address", "shippingAddress", "billing_address", "billingAddress", "address"}
var postcodeKeys = []string{"postal_code", "postalCode", "postcode", "zip", "zipcode", "zip_code"}

// PostcodeArea is the area of a postcode: its first prefix letters and digits,
// upper-cased (prefix ≤ 0: all of them).
func PostcodeArea(postcode string, prefix int) string {
	var b strings.Builder
	for _, r := range postcode {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	s := b.String()
	if prefix > 0 && len(s) > prefix {
		s = s[:prefix]
	}
	return s
}

func str(m map[string]any, keys []string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if s := strings.TrimSpace(v); s != "" {
				return s
			}
		case float64:
			return fmt.Sprintf("%.0f", v)
		}
	}
	return ""
}

// orderRegion reads an order's area from its event body and its customer's traits (the
// processor's {"trait": {"v": value}} form).
func orderRegion(body, traits []byte, prefix int) string {
	var ev struct {
		Properties map[string]any `json:"properties"`
	}
	if json.Unmarshal(body, &ev) == nil && ev.Properties != nil {
		for _, k := range addressKeys {
			if a, ok := ev.Properties[k].(map[string]any); ok {
				if pc := str(a, postcodeKeys); pc != "" {
					return PostcodeArea(pc, prefix)
				}
			}
		}
		if pc := str(ev.Properties, postcodeKeys); pc != "" {
			return PostcodeArea(pc, prefix)
		}
		if r := str(ev.Properties, []string{"region"}); r != "" {
			return strings.ToLower(r)
		}
	}
	var tr map[string]struct {
		V any `json:"v"`
	}
	if json.Unmarshal(traits, &tr) == nil {
		if a, ok := tr["address"].V.(map[string]any); ok {
			if pc := str(a, postcodeKeys); pc != "" {
				return PostcodeArea(pc, prefix)
			}
		}
	}
	return ""
}

// Panel is a response (revenue or orders) per day, in total and per region.
type Panel struct {
	Dates    []time.Time // consecutive days at midnight in the business time zone
	Total    []float64   // per day
	Regions  []string    // by total, largest first
	ByRegion [][]float64 // [region][day]
	Unknown  float64     // response of orders with no postcode or region
	Currency string      // revenue: the business currency
	Metric   string      // revenue or orders
	Days     int
}

// ReadPanel reads the response per day over [from, to) (whole days in the business time
// zone) and, when byRegion, per postcode area. Revenue is net of refunds, in the business
// currency (orders in other currencies are left out).
func ReadPanel(ctx context.Context, db *store.DB, from, to time.Time, metric string, byRegion bool, prefix int) (Panel, error) {
	if metric == "" {
		metric = MetricRevenue
	}
	if metric != MetricRevenue && metric != MetricOrders {
		return Panel{}, fmt.Errorf("metric %q: an ad-channel test measures revenue or orders", metric)
	}
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return Panel{}, err
	}
	cur, err := workspace.Currency(ctx, db)
	if err != nil {
		return Panel{}, err
	}
	p := Panel{Currency: cur, Metric: metric}
	first := startOfDay(from, loc)
	for d := first; d.Before(to); d = d.AddDate(0, 0, 1) {
		p.Dates = append(p.Dates, d)
	}
	p.Days = len(p.Dates)
	p.Total = make([]float64, p.Days)
	dayIdx := func(t time.Time) int {
		return civilDays(first, startOfDay(t, loc))
	}
	orders, err := commerce.Orders(ctx, db, first, to)
	if err != nil {
		return p, err
	}
	var region map[string]string
	if byRegion {
		if region, err = orderRegions(ctx, db, first, to, prefix); err != nil {
			return p, err
		}
	}
	idx := map[string]int{}
	for _, o := range orders {
		v := 1.0
		if metric == MetricRevenue {
			if o.Currency != cur {
				continue
			}
			v = money.Major(o.NetMinor(), o.Currency)
		}
		d := dayIdx(o.Time)
		if d < 0 || d >= p.Days {
			continue
		}
		p.Total[d] += v
		if !byRegion {
			continue
		}
		r := region[o.OrderID]
		if r == "" {
			p.Unknown += v
			continue
		}
		i, ok := idx[r]
		if !ok {
			i = len(p.Regions)
			idx[r] = i
			p.Regions = append(p.Regions, r)
			p.ByRegion = append(p.ByRegion, make([]float64, p.Days))
		}
		p.ByRegion[i][d] += v
	}
	sortRegions(&p)
	return p, nil
}

func sortRegions(p *Panel) {
	tot := make([]float64, len(p.Regions))
	for i, s := range p.ByRegion {
		for _, v := range s {
			tot[i] += v
		}
	}
	ord := make([]int, len(p.Regions))
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool {
		if tot[ord[a]] != tot[ord[b]] {
			return tot[ord[a]] > tot[ord[b]]
		}
		return p.Regions[ord[a]] < p.Regions[ord[b]]
	})
	regions := make([]string, len(ord))
	by := make([][]float64, len(ord))
	for i, j := range ord {
		regions[i], by[i] = p.Regions[j], p.ByRegion[j]
	}
	p.Regions, p.ByRegion = regions, by
}

// orderRegions maps the orders of [from, to) to their areas.
func orderRegions(ctx context.Context, db *store.DB, from, to time.Time, prefix int) (map[string]string, error) {
	rows, err := db.Query(ctx, `SELECT o.order_id, COALESCE(e.body, '{}'), COALESCE(c.traits, '{}') FROM orders o
		LEFT JOIN events e ON e.seq = o.seq LEFT JOIN customers c ON c.id = o.customer_id
		WHERE o.ts >= ? AND o.ts < ?`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("read order regions: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, body, traits string
		if err := rows.Scan(&id, &body, &traits); err != nil {
			return nil, fmt.Errorf("read order regions: %w", err)
		}
		if r := orderRegion([]byte(body), []byte(traits), prefix); r != "" {
			out[id] = r
		}
	}
	return out, rows.Err()
}

// ChannelSpend is a channel's spend per day over the panel's days, in major units of
// the business currency (rows in other currencies are left out).
func ChannelSpend(ctx context.Context, db *store.DB, channel string, dates []time.Time, currency string) ([]float64, error) {
	out := make([]float64, len(dates))
	if len(dates) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT day, SUM(amount_minor) FROM spend WHERE channel = ? AND currency = ? AND day >= ? AND day <= ? GROUP BY day`,
		channel, currency, dates[0].Format(time.DateOnly), dates[len(dates)-1].Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("read %s spend: %w", channel, err)
	}
	defer rows.Close()
	idx := map[string]int{}
	for i, d := range dates {
		idx[d.Format(time.DateOnly)] = i
	}
	for rows.Next() {
		var day string
		var minor int64
		if err := rows.Scan(&day, &minor); err != nil {
			return nil, err
		}
		if i, ok := idx[day]; ok {
			out[i] = money.Major(minor, currency)
		}
	}
	return out, rows.Err()
}

// SpendChannels lists the channels with spend, for error messages.
func SpendChannels(ctx context.Context, db *store.DB) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT DISTINCT channel FROM spend ORDER BY channel`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// firstOrderDay is the first day with an order at or after from, or to when none.
func firstOrderDay(ctx context.Context, db *store.DB, from, to time.Time) (time.Time, error) {
	var ts int64
	if err := db.QueryRow(ctx, `SELECT COALESCE(MIN(ts), 0) FROM orders WHERE ts >= ? AND ts < ?`, from.UnixMilli(), to.UnixMilli()).Scan(&ts); err != nil {
		return to, fmt.Errorf("read first order: %w", err)
	}
	if ts == 0 {
		return to, nil
	}
	return time.UnixMilli(ts), nil
}
