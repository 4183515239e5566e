// Package quality measures how much of the data can support the analyses: which orders
// carry marketing context that path models can credit, which buyers are identified, which
// ad spend pairs with a channel the touches carry, and what was turned away and why. The
// dashboard shows it as the coverage panel and banner; the Overview's JSON as "coverage".
package quality

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/channel"
	"github.com/omniroi/omniroi/internal/store"
)

// LowMarketingShare is the share of orders with marketing context under which reports
// warn that path models cannot credit ads for most of the sales: below 70 %, at least
// three orders in ten are invisible to attribution, enough to reorder channels.
const LowMarketingShare = 0.70

// Share is a count out of a total; Share is Part ÷ Total, nil when there is no total.
type Share struct {
	Part  int64    `json:"part"`
	Total int64    `json:"total"`
	Share *float64 `json:"share"`
}

func share(part, total int64) Share {
	s := Share{Part: part, Total: total}
	if total > 0 {
		f := float64(part) / float64(total)
		s.Share = &f
	}
	return s
}

// Reason is a count of rejected events with one reason.
type Reason struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// SourceCoverage is the coverage of one source's data.
type SourceCoverage struct {
	SourceID   int64    `json:"source_id"`
	Source     string   `json:"source"`
	Marketing  Share    `json:"orders_with_marketing"` // orders with a marketing channel from touches
	Identified Share    `json:"buyers_identified"`     // buyers with an email, phone or user id
	Rejected   int64    `json:"rejected_events"`
	Reasons    []Reason `json:"rejected_by_reason,omitempty"`
}

// Coverage is the data quality of a period, overall and per source.
type Coverage struct {
	Marketing    Share            `json:"orders_with_marketing"`
	Identified   Share            `json:"buyers_identified"`
	SpendMatched Share            `json:"spend_rows_matched"` // spend rows whose channel touches in the period carry
	Rejected     int64            `json:"rejected_events"`
	Reasons      []Reason         `json:"rejected_by_reason,omitempty"`
	Sources      []SourceCoverage `json:"sources"`
	// Low: too few orders carry marketing context for path models to compare channels.
	Low bool `json:"low"`
}

// NoMarketingPct is the percentage of orders without marketing context, rounded.
func (c Coverage) NoMarketingPct() int {
	if c.Marketing.Share == nil {
		return 0
	}
	return int((1-*c.Marketing.Share)*100 + 0.5)
}

// nonMarketing are the channels that say nothing about marketing: no touch (Direct), no
// rule matched (Unassigned), or where the sale happened rather than what led to it.
var nonMarketing = []string{channel.Direct, channel.Unassigned, channel.InStore, "", channel.NoCampaign, "Unknown", "unknown"}

// IsMarketing reports whether a channel is marketing context path models can credit.
func IsMarketing(ch string) bool {
	for _, n := range nonMarketing {
		if ch == n {
			return false
		}
	}
	return true
}

// Measure computes the coverage of the orders, buyers, spend and rejected events of
// [from, to). An order has marketing context when its own channel is a marketing one or
// its customer had a touch on a marketing channel within attribution's lookback (30 days)
// before it: what path models can credit.
func Measure(ctx context.Context, db *store.DB, from, to time.Time) (Coverage, error) {
	var c Coverage
	lo, hi := from.UnixMilli(), to.UnixMilli()
	ph := strings.TrimSuffix(strings.Repeat("?,", len(nonMarketing)), ",")
	notIn := func(col string) string { return col + " NOT IN (" + ph + ")" }
	args := func(first ...any) []any {
		out := append([]any(nil), first...)
		for _, n := range nonMarketing {
			out = append(out, n)
		}
		return out
	}
	names, err := sourceNames(ctx, db)
	if err != nil {
		return c, err
	}
	bySource := map[int64]*SourceCoverage{}
	src := func(id int64) *SourceCoverage {
		s := bySource[id]
		if s == nil {
			s = &SourceCoverage{SourceID: id, Source: names[id]}
			if s.Source == "" {
				s.Source = fmt.Sprintf("source %d", id)
			}
			bySource[id] = s
		}
		return s
	}

	// Marketing touches from one lookback before the period to its end, per customer in
	// time order: one range scan of activity (a correlated EXISTS per order read every
	// touch of each untracked customer, seconds at demo size).
	lb := attribution.DefaultLookback.Milliseconds()
	touches := map[int64][]int64{}
	touched := map[string]bool{} // marketing channels touched within the period
	rows, err := db.Query(ctx, `SELECT customer_id, ts, channel FROM activity WHERE ts >= ? AND ts < ? AND `+notIn("channel"), args(lo-lb, hi)...)
	if err != nil {
		return c, fmt.Errorf("coverage of orders: %w", err)
	}
	for rows.Next() {
		var cid, ts int64
		var ch string
		if err := rows.Scan(&cid, &ts, &ch); err != nil {
			rows.Close()
			return c, fmt.Errorf("coverage of orders: %w", err)
		}
		touches[cid] = append(touches[cid], ts)
		if ts >= lo {
			touched[ch] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("coverage of orders: %w", err)
	}
	for _, ts := range touches {
		slices.Sort(ts)
	}
	// Orders with marketing context, per source: the order's own channel, or a marketing
	// touch of its customer within the lookback before it (what path models can credit).
	rows, err = db.Query(ctx, `SELECT source_id, customer_id, ts, channel FROM orders WHERE ts >= ? AND ts < ?`, lo, hi)
	if err != nil {
		return c, fmt.Errorf("coverage of orders: %w", err)
	}
	var total, marketing int64
	for rows.Next() {
		var id, cid, ts int64
		var ch string
		if err := rows.Scan(&id, &cid, &ts, &ch); err != nil {
			rows.Close()
			return c, fmt.Errorf("coverage of orders: %w", err)
		}
		s := src(id)
		s.Marketing.Total++
		total++
		if IsMarketing(ch) || touchedBefore(touches[cid], ts, lb) {
			s.Marketing.Part++
			marketing++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("coverage of orders: %w", err)
	}
	for _, s := range bySource {
		s.Marketing = share(s.Marketing.Part, s.Marketing.Total)
	}
	c.Marketing = share(marketing, total)

	// Buyers identified (email, phone or user id), per source of their orders; overall
	// each buyer once.
	rows, err = db.Query(ctx, `SELECT b.source_id, COUNT(*), SUM(CASE WHEN c.email <> '' OR c.phone <> '' OR c.user_id <> '' THEN 1 ELSE 0 END)
		FROM (SELECT DISTINCT source_id, customer_id FROM orders WHERE ts >= ? AND ts < ?) b JOIN customers c ON c.id = b.customer_id
		GROUP BY b.source_id`, lo, hi)
	if err != nil {
		return c, fmt.Errorf("coverage of buyers: %w", err)
	}
	for rows.Next() {
		var id, n, m int64
		if err := rows.Scan(&id, &n, &m); err != nil {
			rows.Close()
			return c, fmt.Errorf("coverage of buyers: %w", err)
		}
		src(id).Identified = share(m, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("coverage of buyers: %w", err)
	}
	var bn, bm int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN c.email <> '' OR c.phone <> '' OR c.user_id <> '' THEN 1 ELSE 0 END), 0)
		FROM (SELECT DISTINCT customer_id FROM orders WHERE ts >= ? AND ts < ?) b JOIN customers c ON c.id = b.customer_id`, lo, hi).Scan(&bn, &bm); err != nil {
		return c, fmt.Errorf("coverage of buyers: %w", err)
	}
	c.Identified = share(bm, bn)

	// Spend rows whose channel a marketing touch of the period carries: only those can
	// be paired with credited revenue.
	rows, err = db.Query(ctx, `SELECT channel, COUNT(*) FROM spend WHERE day >= ? AND day < ? GROUP BY channel`,
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return c, fmt.Errorf("coverage of spend: %w", err)
	}
	var sn, sm int64
	for rows.Next() {
		var ch string
		var n int64
		if err := rows.Scan(&ch, &n); err != nil {
			rows.Close()
			return c, fmt.Errorf("coverage of spend: %w", err)
		}
		sn += n
		if touched[ch] {
			sm += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("coverage of spend: %w", err)
	}
	c.SpendMatched = share(sm, sn)

	// Rejected events by reason, per source.
	rows, err = db.Query(ctx, `SELECT source_id, reason, COUNT(*) FROM rejected_events WHERE received_at >= ? AND received_at < ? GROUP BY source_id, reason`, lo, hi)
	if err != nil {
		return c, fmt.Errorf("coverage of rejected events: %w", err)
	}
	all := map[string]int64{}
	for rows.Next() {
		var id, n int64
		var reason string
		if err := rows.Scan(&id, &reason, &n); err != nil {
			rows.Close()
			return c, fmt.Errorf("coverage of rejected events: %w", err)
		}
		s := src(id)
		s.Rejected += n
		s.Reasons = append(s.Reasons, Reason{reason, n})
		all[reason] += n
		c.Rejected += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("coverage of rejected events: %w", err)
	}
	for r, n := range all {
		c.Reasons = append(c.Reasons, Reason{r, n})
	}
	sortReasons(c.Reasons)
	for _, s := range bySource {
		sortReasons(s.Reasons)
		c.Sources = append(c.Sources, *s)
	}
	sort.Slice(c.Sources, func(i, j int) bool { return c.Sources[i].SourceID < c.Sources[j].SourceID })
	c.Low = c.Marketing.Share != nil && *c.Marketing.Share < LowMarketingShare
	return c, nil
}

func sortReasons(rs []Reason) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Count != rs[j].Count {
			return rs[i].Count > rs[j].Count
		}
		return rs[i].Reason < rs[j].Reason
	})
}

func sourceNames(ctx context.Context, db *store.DB) (map[int64]string, error) {
	rows, err := db.Query(ctx, `SELECT id, name FROM sources`)
	if err != nil {
		return nil, fmt.Errorf("read sources: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read sources: %w", err)
		}
		out[id] = name
	}
	return out, rows.Err()
}

// touchedBefore reports whether a sorted list of touch times has one in [at-lookback, at].
func touchedBefore(ts []int64, at, lookback int64) bool {
	i, _ := slices.BinarySearch(ts, at-lookback)
	return i < len(ts) && ts[i] <= at
}
