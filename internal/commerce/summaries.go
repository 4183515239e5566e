package commerce

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// Per-customer order summaries: each customer's orders and refunds reduced to one row per
// currency and calendar day of the business time zone (table order_summaries). They are
// what the customer-value models read (purchase days, their value, refunds), kept current
// by the event processor in the transaction that writes orders and refunds, so that a
// value snapshot reads one row per customer-day instead of every order and refund.

// SummariesTimeZoneSetting names the time zone the rows of order_summaries count days in.
// It is written with the rows; when the business time zone changes, the rows are stale
// until the processor's next batch rebuilds them (readers compute from the orders
// meanwhile).
const SummariesTimeZoneSetting = "order_summaries.timezone"

// DaySummary is one customer's orders and refunds of one day, in one currency.
type DaySummary struct {
	CustomerID int64
	Currency   string
	Day        int64 // days since 1970-01-01 of the business time zone's calendar (LocalDay)
	// Orders counts the day's orders of revenue >= 0 (the purchases); SalesMinor is their
	// revenue.
	Orders, SalesMinor int64
	// Refunds counts what took money back that day: refunds as the refund rule counts them
	// (ApplyRefunds; a refund dated before its order counts on the order's day) and orders
	// of negative revenue. RefundsMinor is the amount, positive.
	Refunds, RefundsMinor int64
}

// LocalDay is t's calendar day in loc, as days since 1970-01-01.
func LocalDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DayTime is the UTC midnight that starts day (LocalDay's inverse for dates).
func DayTime(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }

// Plausible reports whether an order or refund can be true (plausible): the one test the
// order summaries and the daily rollups (internal/rollup) leave orders out by.
func Plausible(t time.Time, minor int64) bool { return plausible(t, minor) }

// plausible reports whether an order or refund can be true: dated 1990 or later (the
// collection API refuses earlier times) and within ±10^15 minor units. Events stored
// before those checks existed are left out of the summaries.
func plausible(t time.Time, minor int64) bool {
	return !t.Before(event.MinTime) && money.CheckRange(minor) == nil
}

// SummarizeDays reduces orders and their refunds to day summaries, sorted by customer,
// currency and day. refunds may include refunds of other orders (ignored). Orders and
// refunds that cannot be true (plausible) are left out, an order's refunds with it.
// Orders dated in the future are kept: readers leave out the days beyond what the
// workspace allows, which moves with the clock.
func SummarizeDays(orders []Order, refunds []Refund, loc *time.Location) []DaySummary {
	byOrder := make(map[string][]Refund, len(refunds))
	for _, r := range refunds {
		if plausible(r.Time, r.AmountMinor) {
			byOrder[r.OrderID] = append(byOrder[r.OrderID], r)
		}
	}
	type key struct {
		cust int64
		cur  string
		day  int64
	}
	acc := map[key]*DaySummary{}
	row := func(cust int64, cur string, day int64) *DaySummary {
		k := key{cust, cur, day}
		s := acc[k]
		if s == nil {
			s = &DaySummary{CustomerID: cust, Currency: cur, Day: day}
			acc[k] = s
		}
		return s
	}
	for _, o := range orders {
		if !plausible(o.Time, o.RevenueMinor) {
			continue
		}
		s := row(o.CustomerID, o.Currency, LocalDay(o.Time, loc))
		if o.RevenueMinor >= 0 {
			s.Orders++
			s.SalesMinor = money.SatAdd(s.SalesMinor, o.RevenueMinor)
		} else {
			s.Refunds++
			s.RefundsMinor = money.SatAdd(s.RefundsMinor, -o.RevenueMinor)
		}
		for _, a := range ApplyRefunds(o, byOrder[o.OrderID]) {
			if a.Counted <= 0 {
				continue
			}
			at := a.Time
			if at.Before(o.Time) {
				at = o.Time // clock skew: never before the purchase
			}
			rs := row(o.CustomerID, o.Currency, LocalDay(at, loc))
			rs.Refunds++
			rs.RefundsMinor = money.SatAdd(rs.RefundsMinor, a.Counted)
		}
	}
	out := make([]DaySummary, 0, len(acc))
	for _, s := range acc {
		out = append(out, *s)
	}
	slices.SortFunc(out, compareSummaries)
	return out
}

func compareSummaries(a, b DaySummary) int {
	return cmp.Or(cmp.Compare(a.CustomerID, b.CustomerID), cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Day, b.Day))
}

// querier is a *store.DB or a *store.Tx.
type querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// ordersOf reads the orders of the customers (all orders when all is true) and every
// refund of those orders, unsorted.
func ordersOf(ctx context.Context, q querier, d store.Dialect, customers []int64, all bool) ([]Order, []Refund, error) {
	where, args := "", []any(nil)
	if !all {
		c, a := store.InInt64(d, "customer_id", customers)
		where, args = " WHERE "+c, []any{a}
	}
	rows, err := q.Query(ctx, `SELECT order_id, customer_id, ts, revenue_minor, currency, seq FROM orders`+where, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("order summaries: read orders: %w", err)
	}
	var orders []Order
	for rows.Next() {
		var o Order
		var ts int64
		if err := rows.Scan(&o.OrderID, &o.CustomerID, &ts, &o.RevenueMinor, &o.Currency, &o.Seq); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("order summaries: read orders: %w", err)
		}
		o.Time = time.UnixMilli(ts).UTC()
		orders = append(orders, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("order summaries: read orders: %w", err)
	}
	rwhere := ""
	if !all {
		rwhere = ` WHERE order_id IN (SELECT order_id FROM orders` + where + `)`
	}
	rows, err = q.Query(ctx, `SELECT seq, order_id, ts, amount_minor, currency, full_refund FROM refunds`+rwhere, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("order summaries: read refunds: %w", err)
	}
	defer rows.Close()
	var refunds []Refund
	for rows.Next() {
		var r Refund
		var ts int64
		var full int
		if err := rows.Scan(&r.Seq, &r.OrderID, &ts, &r.AmountMinor, &r.Currency, &full); err != nil {
			return nil, nil, fmt.Errorf("order summaries: read refunds: %w", err)
		}
		r.Time, r.Full = time.UnixMilli(ts).UTC(), full == 1
		refunds = append(refunds, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("order summaries: read refunds: %w", err)
	}
	return orders, refunds, nil
}

// ComputeSummaries computes every customer's day summaries from the orders and refunds
// tables: what order_summaries holds when it is current.
func ComputeSummaries(ctx context.Context, db *store.DB, loc *time.Location) ([]DaySummary, error) {
	orders, refunds, err := ordersOf(ctx, db, db.Dialect, nil, true)
	if err != nil {
		return nil, err
	}
	return SummarizeDays(orders, refunds, loc), nil
}

// RefreshSummaries recomputes the order_summaries and customer_orders rows of the customers inside tx, from
// the orders and refunds tx sees (a customer without orders ends with no rows).
func RefreshSummaries(ctx context.Context, tx *store.Tx, customers []int64, loc *time.Location) error {
	if len(customers) == 0 {
		return nil
	}
	c, a := store.InInt64(tx.Dialect, "customer_id", customers)
	if _, err := tx.Exec(ctx, `DELETE FROM order_summaries WHERE `+c, a); err != nil {
		return fmt.Errorf("order summaries: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM customer_orders WHERE `+c, a); err != nil {
		return fmt.Errorf("customer order totals: %w", err)
	}
	orders, refunds, err := ordersOf(ctx, tx, tx.Dialect, customers, false)
	if err != nil {
		return err
	}
	if err := insertTotals(ctx, tx, TotalOrders(orders)); err != nil {
		return err
	}
	return insertSummaries(ctx, tx, SummarizeDays(orders, refunds, loc))
}

// RebuildSummaries recomputes every order_summaries and customer_orders row inside tx and records loc as
// their time zone.
func RebuildSummaries(ctx context.Context, tx *store.Tx, loc *time.Location) error {
	if _, err := tx.Exec(ctx, `DELETE FROM order_summaries`); err != nil {
		return fmt.Errorf("order summaries: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM customer_orders`); err != nil {
		return fmt.Errorf("customer order totals: %w", err)
	}
	orders, refunds, err := ordersOf(ctx, tx, tx.Dialect, nil, true)
	if err != nil {
		return err
	}
	if err := insertTotals(ctx, tx, TotalOrders(orders)); err != nil {
		return err
	}
	if err := insertSummaries(ctx, tx, SummarizeDays(orders, refunds, loc)); err != nil {
		return err
	}
	return store.SetSetting(ctx, tx, SummariesTimeZoneSetting, loc.String())
}

// insertSummaries writes rows, 5,000 per statement.
func insertSummaries(ctx context.Context, tx *store.Tx, rows []DaySummary) error {
	for start := 0; start < len(rows); start += 5000 {
		rs := store.NewRowSet(tx.Dialect, "customer_id bigint", "currency text", "day bigint", "orders bigint", "sales_minor bigint", "refunds bigint", "refunds_minor bigint")
		for _, s := range rows[start:min(start+5000, len(rows))] {
			rs.Add(s.CustomerID, s.Currency, s.Day, s.Orders, s.SalesMinor, s.Refunds, s.RefundsMinor)
		}
		from, args := rs.Table("v")
		if _, err := tx.Exec(ctx, `INSERT INTO order_summaries (customer_id, currency, day, orders, sales_minor, refunds, refunds_minor)
			SELECT v.customer_id, v.currency, v.day, v.orders, v.sales_minor, v.refunds, v.refunds_minor FROM `+from, args...); err != nil {
			return fmt.Errorf("order summaries: write: %w", err)
		}
	}
	return nil
}

// SummariesCurrent reports whether order_summaries counts its days in loc, i.e. the
// processor keeps it for the business time zone.
func SummariesCurrent(ctx context.Context, db *store.DB, loc *time.Location) (bool, error) {
	tz, ok, err := db.Setting(ctx, SummariesTimeZoneSetting)
	if err != nil {
		return false, err
	}
	return ok && tz == loc.String(), nil
}

// DaySummaries returns every customer's day summaries for loc, the business time zone:
// read from order_summaries when the processor keeps it for loc (fromTable), else
// computed from the orders and refunds (a store written before the table existed, or
// whose time zone changed since the processor's last batch). Rows are grouped by
// customer, not sorted.
func DaySummaries(ctx context.Context, db *store.DB, loc *time.Location) (rows []DaySummary, fromTable bool, err error) {
	cur, err := SummariesCurrent(ctx, db, loc)
	if err != nil {
		return nil, false, err
	}
	if !cur {
		rows, err := ComputeSummaries(ctx, db, loc)
		return rows, false, err
	}
	// A plain scan: the rows of one customer are written together, so they come out
	// together (the value models group them anyway).
	r, err := db.Query(ctx, `SELECT customer_id, currency, day, orders, sales_minor, refunds, refunds_minor FROM order_summaries`)
	if err != nil {
		return nil, true, fmt.Errorf("read order summaries: %w", err)
	}
	defer r.Close()
	for r.Next() {
		var s DaySummary
		if err := r.Scan(&s.CustomerID, &s.Currency, &s.Day, &s.Orders, &s.SalesMinor, &s.Refunds, &s.RefundsMinor); err != nil {
			return nil, true, fmt.Errorf("read order summaries: %w", err)
		}
		rows = append(rows, s)
	}
	return rows, true, r.Err()
}
