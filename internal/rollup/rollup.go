// Package rollup keeps and reads the daily rollups: per calendar day of the business
// time zone × channel × campaign (× location × currency), the day's sessions,
// purchases, revenue, refunds and new customers (table daily_rollups), and answers a
// period from the rows of its days only, with the period's spend joined from the spend
// table.
//
// The event processor keeps the table current in the transaction that writes each batch
// (Begin before its rows are written, Pending.Commit after): the contribution of every
// customer and day the batch can change is computed before and after from the
// processor's tables, and the difference is added to the rows. The contribution of a
// customer and a day is a function of the tables alone, so the rows equal a computation
// from scratch (Compute) whatever order the events arrive in.
//
// The rules (docs/decisions.md, "Daily rollups"):
//   - a session is a visit by the visit rule of attribution's paths
//     (pathstore.StartsVisit: 30 minutes without an event, or a new non-Direct channel or
//     campaign), counted on the day it starts under its own channel and campaign (the
//     channel the processor classified with internal/channel); a visit running over
//     midnight counts on both days. Order and refund events are not sessions;
//   - an order counts on its day under its own channel (orders.channel, as the Overview's
//     "revenue by channel of the order" always showed it), the campaign of its event, its
//     location and currency; orders of revenue >= 0 are purchases, their refunds count
//     with them by the refund rule (commerce.RefundedTotal), whenever made; an order of
//     negative revenue only takes money back;
//   - a new customer is counted where and when their first purchase (in any currency,
//     earliest by time then order id) is counted;
//   - orders and refunds that cannot be true (commerce.Plausible) are left out, as the
//     order summaries leave them out.
package rollup

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// TimeZoneSetting names the time zone the rows of daily_rollups count days in. When the
// business time zone changes, the processor's next batch rebuilds the table; readers
// compute from the processor's tables meanwhile.
const TimeZoneSetting = "daily_rollups.timezone"

// Key is one row of the rollup.
type Key struct {
	Day      int64 // days since 1970-01-01 of the business calendar (commerce.LocalDay)
	Channel  string
	Campaign string
	Location string // where the order happened; "" for sessions and spend
	Currency string // the orders' (or spend's) currency; "" for sessions
}

// Counts are the figures of one row.
type Counts struct {
	Sessions     int64 `json:"sessions"`
	Orders       int64 `json:"orders"`        // purchases (revenue >= 0)
	RevenueMinor int64 `json:"revenue_minor"` // their revenue, before refunds
	RefundsMinor int64 `json:"refunds_minor"` // refunds of those purchases, whenever made; orders of negative revenue
	NewCustomers int64 `json:"new_customers"` // first purchases
	SpendMinor   int64 `json:"spend_minor"`   // read from the spend table, never stored
	Unconverted  int64 `json:"unconverted"`   // orders of another currency without a rate for their day (Convert)
}

func (c *Counts) add(o Counts) {
	c.Sessions += o.Sessions
	c.Orders += o.Orders
	c.RevenueMinor = money.SatAdd(c.RevenueMinor, o.RevenueMinor)
	c.RefundsMinor = money.SatAdd(c.RefundsMinor, o.RefundsMinor)
	c.NewCustomers += o.NewCustomers
	c.SpendMinor = money.SatAdd(c.SpendMinor, o.SpendMinor)
	c.Unconverted += o.Unconverted
}

func (c *Counts) sub(o Counts) {
	c.Sessions -= o.Sessions
	c.Orders -= o.Orders
	c.RevenueMinor = money.SatSub(c.RevenueMinor, o.RevenueMinor)
	c.RefundsMinor = money.SatSub(c.RefundsMinor, o.RefundsMinor)
	c.NewCustomers -= o.NewCustomers
}

// Zero reports whether every figure is 0.
func (c Counts) Zero() bool { return c == Counts{} }

// Row is one day × channel × campaign × location × currency and its figures.
type Row struct {
	Key
	Counts
}

// CompareKeys orders keys by day, channel, campaign, location and currency.
func CompareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Campaign, b.Campaign),
		cmp.Compare(a.Location, b.Location), cmp.Compare(a.Currency, b.Currency))
}

// Rows returns m's non-zero rows in key order.
func Rows(m map[Key]Counts) []Row {
	out := make([]Row, 0, len(m))
	for k, c := range m {
		if !c.Zero() {
			out = append(out, Row{k, c})
		}
	}
	slices.SortFunc(out, func(a, b Row) int { return CompareKeys(a.Key, b.Key) })
	return out
}

// scope names the customers and days a computation covers: customer → days. A nil scope
// is every customer and day.
type scope map[int64]map[int64]bool

func (s scope) add(cust, day int64) {
	d := s[cust]
	if d == nil {
		d = map[int64]bool{}
		s[cust] = d
	}
	d[day] = true
}

func (s scope) has(cust, day int64) bool { return s == nil || s[cust][day] }

func (s scope) customers() []int64 {
	out := make([]int64, 0, len(s))
	for c := range s {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// querier is a *store.DB or a *store.Tx.
type querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

type touch struct {
	cust, ts, seq           int64
	name, channel, campaign string
}

type order struct {
	commerce.Order
	channel, location, campaign string
}

// isSession reports whether an activity row can be a session's event: not an order or a
// refund (after-sales, DefaultIgnoreEvents).
func isSession(name string) bool {
	return !strings.EqualFold(name, commerce.OrderCompleted) && !strings.EqualFold(name, commerce.OrderRefunded) &&
		!slices.Contains(pathstore.DefaultIgnoreEvents, name)
}

// ranges returns, for each customer of s, the event times [lo, hi) in ms that can fall on
// its local days (a day either side for any time zone), overlapping ranges joined.
func ranges(s scope, d store.Dialect) *store.RowSet {
	const dayMS = 86_400_000
	rs := store.NewRowSet(d, "c bigint", "lo bigint", "hi bigint")
	for _, c := range s.customers() {
		days := make([]int64, 0, len(s[c]))
		for day := range s[c] {
			days = append(days, day)
		}
		slices.Sort(days)
		lo, hi := days[0]-1, days[0]+2
		for _, day := range days[1:] {
			if day-1 <= hi {
				hi = day + 2
				continue
			}
			rs.Add(c, lo*dayMS, hi*dayMS)
			lo, hi = day-1, day+2
		}
		rs.Add(c, lo*dayMS, hi*dayMS)
	}
	return rs
}

// load passes the activity of the customers of as on its days (all of it for a nil as,
// the days of win when given) to sess, ordered by customer, time and seq, as it reads it;
// and returns every order of the customers of os (all for a nil os) with the campaign of
// its event, and every refund of those orders. An empty as or os reads nothing.
func load(ctx context.Context, q querier, d store.Dialect, as, os scope, win *window, sess ...*sessionCounter) ([]order, map[string][]commerce.Refund, error) {
	var (
		awhere, owhere, rwhere string
		aargs, oargs           []any
	)
	if as != nil {
		from, args := ranges(as, d).Table("v")
		awhere, aargs = " JOIN "+from+" ON customer_id = v.c AND ts >= v.lo AND ts < v.hi", args
	} else if win != nil {
		const dayMS = 86_400_000
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if win.lo > -1<<30 { // "from the beginning" is a day far before any
			lo = (win.lo - 1) * dayMS
		}
		if win.hi < 1<<30 {
			hi = (win.hi + 1) * dayMS
		}
		awhere, aargs = " WHERE ts >= ? AND ts < ?", []any{lo, hi}
	}
	if os != nil {
		c, a := store.InInt64(d, "customer_id", os.customers())
		oc, _ := store.InInt64(d, "o.customer_id", nil)
		owhere, oargs = " WHERE "+oc, []any{a}
		rwhere = " WHERE r.order_id IN (SELECT order_id FROM orders WHERE " + c + ")"
	}
	if as == nil || len(as) > 0 {
		if err := loadActivity(ctx, q, awhere, aargs, sess...); err != nil {
			return nil, nil, err
		}
	}
	if os != nil && len(os) == 0 {
		return nil, nil, nil
	}
	rows, err := q.Query(ctx, `SELECT o.order_id, o.customer_id, o.ts, o.seq, o.revenue_minor, o.currency, o.channel, o.location, COALESCE(a.campaign, '')
		FROM orders o LEFT JOIN activity a ON a.seq = o.seq`+owhere, oargs...)
	if err != nil {
		return nil, nil, fmt.Errorf("daily rollups: read orders: %w", err)
	}
	var orders []order
	for rows.Next() {
		var o order
		var ts int64
		if err := rows.Scan(&o.OrderID, &o.CustomerID, &ts, &o.Seq, &o.RevenueMinor, &o.Currency, &o.channel, &o.location, &o.campaign); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("daily rollups: read orders: %w", err)
		}
		o.Time = time.UnixMilli(ts).UTC()
		orders = append(orders, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("daily rollups: read orders: %w", err)
	}

	rows, err = q.Query(ctx, `SELECT r.seq, r.order_id, r.ts, r.amount_minor, r.currency, r.full_refund FROM refunds r`+rwhere, oargs...)
	if err != nil {
		return nil, nil, fmt.Errorf("daily rollups: read refunds: %w", err)
	}
	defer rows.Close()
	refunds := map[string][]commerce.Refund{}
	for rows.Next() {
		var r commerce.Refund
		var ts int64
		var full int
		if err := rows.Scan(&r.Seq, &r.OrderID, &ts, &r.AmountMinor, &r.Currency, &full); err != nil {
			return nil, nil, fmt.Errorf("daily rollups: read refunds: %w", err)
		}
		r.Time, r.Full = time.UnixMilli(ts).UTC(), full == 1
		if commerce.Plausible(r.Time, r.AmountMinor) {
			refunds[r.OrderID] = append(refunds[r.OrderID], r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("daily rollups: read refunds: %w", err)
	}
	return orders, refunds, nil
}

// contribution computes the rollup of the scope's customers and days (every customer and
// day for a nil scope) from the processor's tables as q sees them.
func contribution(ctx context.Context, q querier, d store.Dialect, s scope, loc *time.Location) (map[Key]Counts, error) {
	return compute(ctx, q, d, s, s, nil, s.has, s.has, loc)
}

// contributionSplit is contribution with the sessions of the customers and days of sess
// and the orders of those of ord.
func contributionSplit(ctx context.Context, q querier, d store.Dialect, sess, ord scope, loc *time.Location) (map[Key]Counts, error) {
	return compute(ctx, q, d, sess, ord, nil, sess.has, ord.has, loc)
}

// window is the days [lo, hi).
type window struct{ lo, hi int64 }

// contributionDays computes the rollup of every customer on the days [lo, hi), reading
// the activity of those days only (and every order, for first purchases).
func contributionDays(ctx context.Context, q querier, d store.Dialect, lo, hi int64, loc *time.Location) (map[Key]Counts, error) {
	in := func(_, day int64) bool { return day >= lo && day < hi }
	return compute(ctx, q, d, nil, nil, &window{lo, hi}, in, in, loc)
}

func compute(ctx context.Context, q querier, d store.Dialect, as, os scope, win *window, sessIn, ordIn func(cust, day int64) bool, loc *time.Location) (map[Key]Counts, error) {
	out := map[Key]Counts{}
	sess := &sessionCounter{in: sessIn, loc: loc, out: out, timeout: pathstore.DefaultVisitTimeout.Milliseconds()}
	orders, refunds, err := load(ctx, q, d, as, os, win, sess)
	if err != nil {
		return nil, err
	}
	ordersInto(orders, refunds, ordIn, loc, out)
	return out, nil
}

// sessionCounter counts sessions in activity passed in customer, time and seq order:
// visits by the paths' visit rule, cut at the business calendar's midnight.
type sessionCounter struct {
	in      func(cust, day int64) bool
	loc     *time.Location
	out     map[Key]Counts
	timeout int64
	skip    map[int64]bool // seqs of rows to pass over as if absent
	// keep, when set, receives the session events in scope with their day instead of
	// counting them (SessionCache).
	keep func(day int64, t *touch)

	open                bool
	cust, day, last     int64
	vChannel, vCampaign string
}

func (v *sessionCounter) add(t *touch) {
	if v.skip[t.seq] || !isSession(t.name) {
		return
	}
	td := commerce.LocalDay(time.UnixMilli(t.ts), v.loc)
	if !v.in(t.cust, td) {
		return
	}
	if v.keep != nil {
		v.keep(td, t)
		return
	}
	v.counted(t, td)
}

// count counts t of business day td, which is in the counter's scope and a session event
// (the session cache holds nothing else).
func (v *sessionCounter) count(t *touch, td int64) {
	if v.skip[t.seq] {
		return
	}
	v.counted(t, td)
}

// counted is count once t is known to be a session event that is not skipped.
func (v *sessionCounter) counted(t *touch, td int64) {
	if !v.open || t.cust != v.cust || td != v.day {
		v.open, v.cust, v.day = false, t.cust, td
	}
	ch := pathstore.ChannelName(t.channel)
	if pathstore.StartsVisit(!v.open, t.ts-v.last, v.timeout, ch, t.campaign, v.vChannel, v.vCampaign) {
		v.open, v.vChannel, v.vCampaign = true, ch, t.campaign
		k := Key{Day: td, Channel: ch, Campaign: t.campaign}
		c := v.out[k]
		c.Sessions++
		v.out[k] = c
	}
	v.last = t.ts
}

// ordersInto adds the orders, refunds and first purchases in the scope to out.
func ordersInto(orders []order, refunds map[string][]commerce.Refund, in func(cust, day int64) bool, loc *time.Location, out map[Key]Counts) {
	first := map[int64]*order{}
	for i := range orders {
		o := &orders[i]
		if !commerce.Plausible(o.Time, o.RevenueMinor) {
			continue
		}
		if o.RevenueMinor >= 0 {
			f := first[o.CustomerID]
			if f == nil || pathstore.OrderBefore(o.Time.UnixMilli(), o.OrderID, f.Time.UnixMilli(), f.OrderID) {
				first[o.CustomerID] = o
			}
		}
		day := commerce.LocalDay(o.Time, loc)
		if !in(o.CustomerID, day) {
			continue
		}
		k := orderKey(o, day)
		c := out[k]
		if o.RevenueMinor >= 0 {
			c.Orders++
			c.RevenueMinor = money.SatAdd(c.RevenueMinor, o.RevenueMinor)
			c.RefundsMinor = money.SatAdd(c.RefundsMinor, commerce.RefundedTotal(o.Order, refunds[o.OrderID]))
		} else {
			c.RefundsMinor = money.SatAdd(c.RefundsMinor, -o.RevenueMinor)
		}
		out[k] = c
	}
	for cust, o := range first {
		day := commerce.LocalDay(o.Time, loc)
		if !in(cust, day) {
			continue
		}
		k := orderKey(o, day)
		c := out[k]
		c.NewCustomers++
		out[k] = c
	}
}

func orderKey(o *order, day int64) Key {
	return Key{Day: day, Channel: pathstore.ChannelName(o.channel), Campaign: o.campaign, Location: o.location, Currency: o.Currency}
}

// Compute computes the whole rollup from the processor's tables: what daily_rollups holds
// when it is current for loc.
func Compute(ctx context.Context, db *store.DB, loc *time.Location) ([]Row, error) {
	m, err := contribution(ctx, db, db.Dialect, nil, loc)
	if err != nil {
		return nil, err
	}
	return Rows(m), nil
}

func loadActivity(ctx context.Context, q querier, awhere string, aargs []any, sess ...*sessionCounter) error {
	rows, err := q.Query(ctx, `SELECT customer_id, ts, seq, name, channel, campaign FROM activity`+awhere+` ORDER BY customer_id, ts, seq`, aargs...)
	if err != nil {
		return fmt.Errorf("daily rollups: read activity: %w", err)
	}
	for rows.Next() {
		var t touch
		if err := rows.Scan(&t.cust, &t.ts, &t.seq, &t.name, &t.channel, &t.campaign); err != nil {
			rows.Close()
			return fmt.Errorf("daily rollups: read activity: %w", err)
		}
		for _, s := range sess {
			s.add(&t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("daily rollups: read activity: %w", err)
	}

	return nil
}
