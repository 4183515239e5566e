package value

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/money"
)

// RFMScore is one customer's recency, frequency and monetary values at a date and
// their quintile scores (5 best). Frequency counts purchase days; Monetary is net revenue.
type RFMScore struct {
	ID          string `json:"id"`
	RecencyDays int    `json:"recency_days"`
	Frequency   int    `json:"frequency"`
	Monetary    int64  `json:"monetary"`
	R           int    `json:"r"`
	F           int    `json:"f"`
	M           int    `json:"m"`
	Segment     string `json:"segment"`
}

// SegmentRule maps a box of scores to a segment name; inclusive ranges, 1..5.
// Rules are tried in order and the first match wins.
type SegmentRule struct {
	Name       string `json:"name"`
	RMin, RMax int
	FMin, FMax int
	MMin, MMax int // 0, 0 means any
}

func (r SegmentRule) match(s RFMScore) bool {
	if s.R < r.RMin || s.R > r.RMax || s.F < r.FMin || s.F > r.FMax {
		return false
	}
	if r.MMin == 0 && r.MMax == 0 {
		return true
	}
	return s.M >= r.MMin && s.M <= r.MMax
}

// DefaultSegmentRules is the usual R/F grid (see docs/value.md for the table).
// It covers all 25 R/F cells exactly once.
var DefaultSegmentRules = []SegmentRule{
	{Name: "Champions", RMin: 5, RMax: 5, FMin: 4, FMax: 5},
	{Name: "Loyal", RMin: 3, RMax: 4, FMin: 4, FMax: 5},
	{Name: "Potential Loyalist", RMin: 4, RMax: 5, FMin: 2, FMax: 3},
	{Name: "New Customers", RMin: 5, RMax: 5, FMin: 1, FMax: 1},
	{Name: "Promising", RMin: 4, RMax: 4, FMin: 1, FMax: 1},
	{Name: "Need Attention", RMin: 3, RMax: 3, FMin: 3, FMax: 3},
	{Name: "About To Sleep", RMin: 3, RMax: 3, FMin: 1, FMax: 2},
	{Name: "Can't Lose Them", RMin: 1, RMax: 2, FMin: 5, FMax: 5},
	{Name: "At Risk", RMin: 1, RMax: 2, FMin: 3, FMax: 4},
	{Name: "Hibernating", RMin: 2, RMax: 2, FMin: 1, FMax: 2},
	{Name: "Lost", RMin: 1, RMax: 1, FMin: 1, FMax: 2},
}

// ValidateRules checks ranges and that every R, F, M score combination gets a segment.
func ValidateRules(rules []SegmentRule) error {
	if len(rules) == 0 {
		return errors.New("segment rules: empty")
	}
	for i, r := range rules {
		if r.Name == "" {
			return fmt.Errorf("segment rule %d: empty name", i+1)
		}
		ok := func(lo, hi int) bool { return 1 <= lo && lo <= hi && hi <= 5 }
		if !ok(r.RMin, r.RMax) || !ok(r.FMin, r.FMax) || !((r.MMin == 0 && r.MMax == 0) || ok(r.MMin, r.MMax)) {
			return fmt.Errorf("segment rule %d (%s): ranges must be within 1..5 with min <= max", i+1, r.Name)
		}
	}
	for rs := 1; rs <= 5; rs++ {
		for fs := 1; fs <= 5; fs++ {
			for ms := 1; ms <= 5; ms++ {
				if segmentOf(rules, RFMScore{R: rs, F: fs, M: ms}) == "" {
					return fmt.Errorf("segment rules: no rule covers R=%d F=%d M=%d", rs, fs, ms)
				}
			}
		}
	}
	return nil
}

func segmentOf(rules []SegmentRule, s RFMScore) string {
	for _, r := range rules {
		if r.match(s) {
			return r.Name
		}
	}
	return ""
}

// quintile scores values: 1 + floor(5 × share of customers strictly worse).
// Ties share a score (two customers with the same history never differ), so
// with heavy ties some scores stay empty: every one-time buyer has F = 1.
func quintile[T int | int64](vals []T, higherIsBetter bool) []int {
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	n := len(vals)
	out := make([]int, n)
	for i, v := range vals {
		var worse int
		if higherIsBetter {
			worse = sort.Search(n, func(j int) bool { return sorted[j] >= v })
		} else {
			worse = n - sort.Search(n, func(j int) bool { return sorted[j] > v })
		}
		out[i] = 1 + 5*worse/n
	}
	return out
}

// RFM scores every customer with a purchase day up to and including asOf.
// rules nil means DefaultSegmentRules.
func RFM(txs []Transaction, asOf time.Time, rules []SegmentRule) ([]RFMScore, error) {
	if rules == nil {
		rules = DefaultSegmentRules
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	end := dayNumber(asOf)
	var out []RFMScore
	for id, days := range customerDays(txs, -1<<40, end) {
		s := RFMScore{ID: id}
		last := int64(-1)
		for _, d := range days {
			s.Monetary = money.SatAdd(s.Monetary, d.net)
			if d.purchase {
				s.Frequency++
				last = d.day
			}
		}
		if s.Frequency == 0 {
			continue
		}
		s.RecencyDays = int(end - last)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b RFMScore) int { return compareIDs(a.ID, b.ID) })
	rec, freq, mon := make([]int, len(out)), make([]int, len(out)), make([]int64, len(out))
	for i, s := range out {
		rec[i], freq[i], mon[i] = s.RecencyDays, s.Frequency, s.Monetary
	}
	rq, fq, mq := quintile(rec, false), quintile(freq, true), quintile(mon, true)
	for i := range out {
		out[i].R, out[i].F, out[i].M = rq[i], fq[i], mq[i]
		out[i].Segment = segmentOf(rules, out[i])
	}
	return out, nil
}

// SegmentStat is one segment's size and revenue share, with a warning when
// it is too small to act on or to measure.
type SegmentStat struct {
	Segment      string  `json:"segment"`
	Customers    int     `json:"customers"`
	Share        float64 `json:"share"`
	Revenue      int64   `json:"revenue"`
	RevenueShare float64 `json:"revenue_share"`
	Warning      string  `json:"warning,omitempty"`
}

// SmallSegment sets when a segment gets a warning: fewer than MinCustomers
// customers (a response rate measured on 30 people has a ±18-point 95 % interval
// at 50 %) or less than MinShare of all customers (too small to be worth a campaign).
type SmallSegment struct {
	MinCustomers int
	MinShare     float64
}

// DefaultSmallSegment is 30 customers or 1 %.
var DefaultSmallSegment = SmallSegment{MinCustomers: 30, MinShare: 0.01}

// SegmentStats totals scores per segment in rule order; segments with no
// customers are listed too. Revenue share is of positive total net revenue.
func SegmentStats(scores []RFMScore, rules []SegmentRule, small SmallSegment) []SegmentStat {
	if rules == nil {
		rules = DefaultSegmentRules
	}
	var out []SegmentStat
	pos := map[string]int{}
	for _, r := range rules {
		if _, ok := pos[r.Name]; !ok {
			pos[r.Name] = len(out)
			out = append(out, SegmentStat{Segment: r.Name})
		}
	}
	var total int64
	for _, s := range scores {
		i, ok := pos[s.Segment]
		if !ok {
			continue
		}
		out[i].Customers++
		out[i].Revenue = money.SatAdd(out[i].Revenue, s.Monetary)
		total = money.SatAdd(total, s.Monetary)
	}
	n := len(scores)
	for i := range out {
		st := &out[i]
		if n > 0 {
			st.Share = float64(st.Customers) / float64(n)
		}
		if total > 0 {
			st.RevenueShare = float64(st.Revenue) / float64(total)
		}
		switch {
		case st.Customers == 0:
			st.Warning = "empty"
		case st.Customers < small.MinCustomers:
			st.Warning = fmt.Sprintf("only %d customers: too few to measure a response (< %d)", st.Customers, small.MinCustomers)
		case st.Share < small.MinShare:
			st.Warning = fmt.Sprintf("%.2f%% of customers: too small to act on (< %.0f%%)", 100*st.Share, 100*small.MinShare)
		}
	}
	return out
}

// NewSegment is the "from" row of customers who had no purchase in the previous period.
const NewSegment = "(new)"

// TransitionMatrix counts customers moving from a segment at the previous date
// (rows, plus NewSegment) to a segment at the current date (columns).
type TransitionMatrix struct {
	From   []string `json:"from"`
	To     []string `json:"to"`
	Counts [][]int  `json:"counts"`
}

// Transitions builds the movement between two scorings with the same rules.
func Transitions(prev, cur []RFMScore, rules []SegmentRule) TransitionMatrix {
	if rules == nil {
		rules = DefaultSegmentRules
	}
	var names []string
	pos := map[string]int{}
	for _, r := range rules {
		if _, ok := pos[r.Name]; !ok {
			pos[r.Name] = len(names)
			names = append(names, r.Name)
		}
	}
	tm := TransitionMatrix{From: append(slices.Clone(names), NewSegment), To: names}
	tm.Counts = make([][]int, len(tm.From))
	for i := range tm.Counts {
		tm.Counts[i] = make([]int, len(names))
	}
	before := make(map[string]string, len(prev))
	for _, s := range prev {
		before[s.ID] = s.Segment
	}
	for _, s := range cur {
		from := len(names)
		if seg, ok := before[s.ID]; ok {
			from = pos[seg]
		}
		tm.Counts[from][pos[s.Segment]]++
	}
	return tm
}

// SegmentReport is the output of Segments.
type SegmentReport struct {
	AsOf        time.Time        `json:"as_of"`
	Previous    time.Time        `json:"previous"`
	Scores      []RFMScore       `json:"customers"`
	Segments    []SegmentStat    `json:"segments"`
	Transitions TransitionMatrix `json:"transitions"`
}

// Segments scores customers at asOf and at previous, and reports segment sizes,
// revenue shares and the transition matrix between the two dates.
func Segments(txs []Transaction, asOf, previous time.Time, rules []SegmentRule, small SmallSegment) (SegmentReport, error) {
	if !previous.Before(asOf) {
		return SegmentReport{}, errors.New("segments: previous date must be before the as-of date")
	}
	cur, err := RFM(txs, asOf, rules)
	if err != nil {
		return SegmentReport{}, fmt.Errorf("segments: %w", err)
	}
	prev, err := RFM(txs, previous, rules)
	if err != nil {
		return SegmentReport{}, fmt.Errorf("segments: %w", err)
	}
	return SegmentReport{
		AsOf: asOf, Previous: previous, Scores: cur,
		Segments:    SegmentStats(cur, rules, small),
		Transitions: Transitions(prev, cur, rules),
	}, nil
}
