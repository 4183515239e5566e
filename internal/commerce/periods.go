package commerce

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// Revenue, orders, refunds and new buyers per period: the one definition of the shop's
// sales figures that the dashboard's Overview (cards and revenue chart) shows. They are
// read from the per-customer order summaries (order_summaries, kept by the processor in
// the business time zone), so a period costs the rows of its days, and refunds are
// counted by the refund rule (ApplyRefunds) on the day they were made.

// Bucket is the length of a period: a day, a week (starting Monday) or a calendar month
// of the business time zone.
type Bucket int

// The period lengths.
const (
	Day Bucket = iota
	Week
	Month
)

// String is the bucket's noun: "day", "week" or "month".
func (b Bucket) String() string {
	switch b {
	case Week:
		return "week"
	case Month:
		return "month"
	}
	return "day"
}

// Start is the start of the period holding t: local midnight in t's location.
func (b Bucket) Start(t time.Time) time.Time {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	switch b {
	case Week:
		wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
		return t.AddDate(0, 0, -wd)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
	}
	return t
}

// Next is the start of the period after the one starting at t.
func (b Bucket) Next(t time.Time) time.Time {
	switch b {
	case Week:
		return t.AddDate(0, 0, 7)
	case Month:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// Starts lists the starts of the periods covering [from, to) (at most 5,000).
func (b Bucket) Starts(from, to time.Time) []time.Time {
	var out []time.Time
	for t := b.Start(from); t.Before(to) && len(out) < 5000; t = b.Next(t) {
		out = append(out, t)
	}
	return out
}

// SalesQuery asks for the sales of the days [From, To) of the business calendar.
type SalesQuery struct {
	// From and To are local midnights in Loc; From zero means from the first order.
	From, To time.Time
	// Loc is the business time zone and Currency the business currency.
	Loc      *time.Location
	Currency string
}

// SalesTotals are the sales of a set of days in the business currency.
type SalesTotals struct {
	// Orders counts the purchases (orders of revenue >= 0) and RevenueMinor is their
	// revenue, before refunds.
	Orders, RevenueMinor int64
	// Refunds counts what took money back on those days: refunds as the refund rule
	// counts them (a refund dated before its order counts on the order's day) and orders
	// of negative revenue; RefundsMinor is what they took back (positive).
	Refunds, RefundsMinor int64
	// Buyers counts the customers with a purchase (distinct over the whole set of days;
	// left at 0 in a Period); NewBuyers those whose first purchase ever, in any currency,
	// was on one of the days.
	Buyers, NewBuyers int64
}

// Period is the sales of one period.
type Period struct {
	Start time.Time // local midnight in the business time zone
	SalesTotals
}

// Sales is the answer to a SalesQuery.
type Sales struct {
	Currency string
	Total    SalesTotals
	// OtherCurrency counts the purchases of the days in other currencies, which the
	// figures leave out.
	OtherCurrency int64
	// First is the first day with sales of the business currency or a first purchase
	// (local midnight; zero when there is none).
	First time.Time

	q    SalesQuery
	days []Period // the days with something, in time order
}

// Periods splits the sales into periods of length b covering the query's days ("all
// time": from First), in time order, empty ones included.
func (s Sales) Periods(b Bucket) []Period {
	from := s.q.From
	if from.IsZero() {
		if s.First.IsZero() {
			return nil
		}
		from = s.First
	}
	starts := b.Starts(from, s.q.To)
	out := make([]Period, len(starts))
	for i, t := range starts {
		out[i].Start = t
	}
	for _, d := range s.days {
		start := b.Start(d.Start)
		i := sort.Search(len(starts), func(i int) bool { return !starts[i].Before(start) })
		if i < len(starts) && starts[i].Equal(start) {
			out[i].add(&d.SalesTotals)
		}
	}
	return out
}

// SalesByPeriod computes the sales of the query's days from the order summaries.
func SalesByPeriod(ctx context.Context, db *store.DB, q SalesQuery) (Sales, error) {
	if q.Loc == nil {
		q.Loc = time.UTC
	}
	out := Sales{Currency: q.Currency, q: q}
	lo, hi := int64(-1<<40), LocalDay(q.To, q.Loc)
	if !q.From.IsZero() {
		lo = LocalDay(q.From, q.Loc)
	}
	rows, firsts, err := salesRows(ctx, db, q.Loc, lo, hi)
	if err != nil {
		return out, err
	}
	days := map[int64]*SalesTotals{}
	dayOf := func(k int64) *SalesTotals {
		d := days[k]
		if d == nil {
			d = &SalesTotals{}
			days[k] = d
		}
		return d
	}
	buyers := map[int64]struct{}{}
	for _, s := range rows {
		if s.Currency != q.Currency {
			out.OtherCurrency += s.Orders
			continue
		}
		d := dayOf(s.Day)
		d.Orders += s.Orders
		d.RevenueMinor = money.SatAdd(d.RevenueMinor, s.SalesMinor)
		d.Refunds += s.Refunds
		d.RefundsMinor = money.SatAdd(d.RefundsMinor, s.RefundsMinor)
		if s.Orders > 0 {
			buyers[s.CustomerID] = struct{}{}
		}
	}
	for _, f := range firsts {
		dayOf(f).NewBuyers++
	}
	keys := make([]int64, 0, len(days))
	for d := range days {
		keys = append(keys, d)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out.days = make([]Period, len(keys))
	for i, k := range keys {
		out.days[i] = Period{Start: localDate(k, q.Loc), SalesTotals: *days[k]}
		out.Total.add(days[k])
	}
	if len(keys) > 0 {
		out.First = out.days[0].Start
	}
	out.Total.Buyers = int64(len(buyers))
	return out, nil
}

func (t *SalesTotals) add(d *SalesTotals) {
	t.Orders += d.Orders
	t.RevenueMinor = money.SatAdd(t.RevenueMinor, d.RevenueMinor)
	t.Refunds += d.Refunds
	t.RefundsMinor = money.SatAdd(t.RefundsMinor, d.RefundsMinor)
	t.NewBuyers += d.NewBuyers
}

// localDate is the local midnight in loc that starts day (a LocalDay).
func localDate(day int64, loc *time.Location) time.Time {
	y, m, d := DayTime(day).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// salesRows reads the day summaries of the days [lo, hi) of loc, and the first day of
// purchase of every customer whose first purchase falls in them: from order_summaries
// when the processor keeps it for loc, else computed from the orders and refunds.
func salesRows(ctx context.Context, db *store.DB, loc *time.Location, lo, hi int64) ([]DaySummary, []int64, error) {
	cur, err := SummariesCurrent(ctx, db, loc)
	if err != nil {
		return nil, nil, err
	}
	if !cur {
		all, err := ComputeSummaries(ctx, db, loc)
		if err != nil {
			return nil, nil, err
		}
		var rows []DaySummary
		first := map[int64]int64{}
		for _, s := range all {
			if s.Orders > 0 {
				if f, ok := first[s.CustomerID]; !ok || s.Day < f {
					first[s.CustomerID] = s.Day
				}
			}
			if s.Day >= lo && s.Day < hi {
				rows = append(rows, s)
			}
		}
		var firsts []int64
		for _, f := range first {
			if f >= lo && f < hi {
				firsts = append(firsts, f)
			}
		}
		return rows, firsts, nil
	}
	r, err := db.Query(ctx, `SELECT customer_id, currency, day, orders, sales_minor, refunds, refunds_minor FROM order_summaries WHERE day >= ? AND day < ?`, lo, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("read order summaries: %w", err)
	}
	var rows []DaySummary
	for r.Next() {
		var s DaySummary
		if err := r.Scan(&s.CustomerID, &s.Currency, &s.Day, &s.Orders, &s.SalesMinor, &s.Refunds, &s.RefundsMinor); err != nil {
			r.Close()
			return nil, nil, fmt.Errorf("read order summaries: %w", err)
		}
		rows = append(rows, s)
	}
	r.Close()
	if err := r.Err(); err != nil {
		return nil, nil, fmt.Errorf("read order summaries: %w", err)
	}
	// First purchases: the customer's smallest day with a purchase, read off the primary
	// key (customer_id, currency, day) one customer after another.
	f, err := db.Query(ctx, `SELECT f FROM (SELECT MIN(day) AS f FROM order_summaries WHERE orders > 0 GROUP BY customer_id) x WHERE f >= ? AND f < ?`, lo, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("count new buyers: %w", err)
	}
	defer f.Close()
	var firsts []int64
	for f.Next() {
		var d int64
		if err := f.Scan(&d); err != nil {
			return nil, nil, fmt.Errorf("count new buyers: %w", err)
		}
		firsts = append(firsts, d)
	}
	return rows, firsts, f.Err()
}
