package value

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// StoreData is what LoadStoreData read: the transactions and how they were made.
type StoreData struct {
	Transactions []Transaction
	Currency     string         // the one currency the amounts are in
	Location     *time.Location // the business time zone days are counted in
	Orders       int            // orders turned into transactions
	Refunds      int            // refunds turned into negative transactions
	// SkippedOrders are orders in another currency than Currency; money of two
	// currencies cannot be added up without a rate.
	SkippedOrders int
	// SkippedRefunds are refunds of unknown or skipped orders, partial refunds in
	// another currency than their order, and refunds beyond the order's revenue.
	SkippedRefunds int
	// Implausible counts orders and refunds left out because they cannot be true: dated
	// before 1990 or further ahead than limits.max_future, or of an amount beyond
	// ±10^15 minor units (stored before the API refused such events). Left in, one of
	// them would stretch every cohort and model over centuries.
	Implausible int
}

// LoadTransactions reads the store's orders net of refunds as transactions, up
// to and including asOf (zero: everything). See LoadStoreData for the rules.
func LoadTransactions(ctx context.Context, db *store.DB, asOf time.Time) ([]Transaction, error) {
	d, err := LoadStoreData(ctx, db, asOf)
	return d.Transactions, err
}

// LoadStoreData reads orders and refunds with ts <= asOf (zero asOf: all).
//
//   - Each order is a transaction of its revenue at its time, for the order's customer.
//   - Each refund is a negative transaction at its own time (never before its order),
//     for the order's customer. A full refund is the order's revenue; the refunds
//     of one order are capped at its revenue, as in commerce.Orders.
//   - So the file rules apply unchanged (docs/value.md): a same-day refund nets the
//     purchase day (floored at 0), a later refund only lowers realised revenue.
//   - Amounts are in the business currency (workspace.Currency); other orders are
//     skipped and counted.
//   - Times are in the workspace time zone (setting "timezone", default UTC), so a
//     purchase day is the shop's calendar day.
func LoadStoreData(ctx context.Context, db *store.DB, asOf time.Time) (StoreData, error) {
	d := StoreData{Location: storeLocation(ctx, db)}
	// The data's real span: nothing before 1990, nothing past the future allowed.
	maxFuture, err := workspace.MaxFuture(ctx, db)
	if err != nil {
		maxFuture = event.DefaultMaxFuture
	}
	lo, ceil := event.MinTime.UnixMilli(), time.Now().Add(maxFuture).UnixMilli()
	hi := ceil
	if !asOf.IsZero() {
		hi = min(hi, asOf.UnixMilli())
	}
	if err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM orders WHERE ts < ? OR ts > ?) + (SELECT COUNT(*) FROM refunds WHERE ts < ? OR ts > ?)`,
		lo, ceil, lo, ceil).Scan(&d.Implausible); err != nil {
		return d, fmt.Errorf("load transactions: count implausible: %w", err)
	}
	cur, err := workspace.Currency(ctx, db)
	if err != nil {
		return d, fmt.Errorf("load transactions: %w", err)
	}
	d.Currency = cur
	type order struct {
		customer int64
		ts       int64
		revenue  int64
		refunded int64
	}
	// The window runs from the first plausible day, so it holds most of the orders: the
	// table is read through ("+ts" keeps SQLite off the time index, whose walk looks up
	// every row at random and sorts ties in a temporary tree) and sorted here by (ts,
	// seq), ties in table order.
	type row struct {
		id       string
		seq      int64
		order    order
		currency string
	}
	var read []row
	rows, err := db.Query(ctx, `SELECT order_id, customer_id, ts, seq, revenue_minor, currency FROM orders WHERE +ts >= ? AND +ts <= ?`, lo, hi)
	if err != nil {
		return d, fmt.Errorf("load transactions: read orders: %w", err)
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.order.customer, &r.order.ts, &r.seq, &r.order.revenue, &r.currency); err != nil {
			rows.Close()
			return d, fmt.Errorf("load transactions: read orders: %w", err)
		}
		read = append(read, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("load transactions: read orders: %w", err)
	}
	byTime := make([]int, len(read))
	for i := range byTime {
		byTime[i] = i
	}
	slices.SortFunc(byTime, func(a, b int) int {
		if c := cmp.Compare(read[a].order.ts, read[b].order.ts); c != 0 {
			return c
		}
		if c := cmp.Compare(read[a].seq, read[b].seq); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	orders := make(map[string]*order, len(read))
	for _, i := range byTime {
		r := &read[i]
		o := &r.order
		if money.CheckRange(o.revenue) != nil {
			d.Implausible++
			continue
		}
		if r.currency != cur {
			d.SkippedOrders++
			continue
		}
		orders[r.id] = o
		d.Transactions = append(d.Transactions, Transaction{
			CustomerID: strconv.FormatInt(o.customer, 10), Time: time.UnixMilli(o.ts).In(d.Location), Amount: o.revenue})
		d.Orders++
	}
	rows, err = db.Query(ctx, `SELECT order_id, ts, amount_minor, currency, full_refund FROM refunds WHERE ts >= ? AND ts <= ? ORDER BY ts, seq`, lo, hi)
	if err != nil {
		return d, fmt.Errorf("load transactions: read refunds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, c string
		var ts, amount int64
		var full int
		if err := rows.Scan(&id, &ts, &amount, &c, &full); err != nil {
			return d, fmt.Errorf("load transactions: read refunds: %w", err)
		}
		if money.CheckRange(amount) != nil {
			d.Implausible++
			continue
		}
		o := orders[id]
		if o == nil || (full != 1 && c != cur) {
			d.SkippedRefunds++
			continue
		}
		if full == 1 {
			amount = o.revenue
		}
		amount = min(amount, o.revenue-o.refunded)
		if amount <= 0 {
			d.SkippedRefunds++
			continue
		}
		o.refunded += amount
		d.Transactions = append(d.Transactions, Transaction{
			CustomerID: strconv.FormatInt(o.customer, 10), Time: time.UnixMilli(max(ts, o.ts)).In(d.Location), Amount: -amount})
		d.Refunds++
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("load transactions: read refunds: %w", err)
	}
	return d, nil
}

// storeLocation is the workspace time zone (workspace.Location), UTC when it cannot be read.
func storeLocation(ctx context.Context, db *store.DB) *time.Location {
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return time.UTC
	}
	return loc
}

// StoreState identifies the state of the order and refund tables: any new, replaced
// or refunded order changes it. Fitted models are cached under it.
type StoreState struct {
	Orders, MaxOrderSeq   int64
	Refunds, MaxRefundSeq int64
	Currency, TimeZone    string
}

// ReadStoreState reads the current StoreState: two aggregate queries.
func ReadStoreState(ctx context.Context, db *store.DB) (StoreState, error) {
	var s StoreState
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM orders`).Scan(&s.Orders, &s.MaxOrderSeq); err != nil {
		return s, fmt.Errorf("store state: %w", err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM refunds`).Scan(&s.Refunds, &s.MaxRefundSeq); err != nil {
		return s, fmt.Errorf("store state: %w", err)
	}
	var err error
	if s.Currency, err = workspace.Currency(ctx, db); err != nil {
		return s, fmt.Errorf("store state: %w", err)
	}
	s.TimeZone = storeLocation(ctx, db).String()
	return s, nil
}

// LoadSummaryData is LoadStoreData for all time, read from the per-customer order
// summaries (commerce.DaySummaries: one row per customer, currency and day of the business
// time zone) instead of every order and refund. The value models count days, so one
// transaction per customer-day for the day's purchases (their revenue) and one for what
// refunds took back that day (negative) give them what LoadStoreData's transactions give:
// the same purchase days, the same net per day (TestSummaryDataSnapshot).
//
// Orders counts the purchases and Refunds the refunds and orders of negative revenue
// (the summaries' counts); SkippedOrders the purchases in other currencies; SkippedRefunds
// is not known (0). Days beyond limits.max_future from now are left out with their rows.
func LoadSummaryData(ctx context.Context, db *store.DB) (StoreData, error) {
	d := StoreData{Location: storeLocation(ctx, db)}
	maxFuture, err := workspace.MaxFuture(ctx, db)
	if err != nil {
		maxFuture = event.DefaultMaxFuture
	}
	ceil := time.Now().Add(maxFuture)
	if err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM orders WHERE ts < ? OR ts > ?) + (SELECT COUNT(*) FROM refunds WHERE ts < ? OR ts > ?)`,
		event.MinTime.UnixMilli(), ceil.UnixMilli(), event.MinTime.UnixMilli(), ceil.UnixMilli()).Scan(&d.Implausible); err != nil {
		return d, fmt.Errorf("load transactions: count implausible: %w", err)
	}
	if d.Currency, err = workspace.Currency(ctx, db); err != nil {
		return d, fmt.Errorf("load transactions: %w", err)
	}
	rows, _, err := commerce.DaySummaries(ctx, db, d.Location)
	if err != nil {
		return d, fmt.Errorf("load transactions: %w", err)
	}
	last := commerce.LocalDay(ceil, d.Location)
	for _, s := range rows {
		if s.Day > last {
			continue
		}
		if s.Currency != d.Currency {
			d.SkippedOrders += int(s.Orders)
			continue
		}
		id := strconv.FormatInt(s.CustomerID, 10)
		y, m, dd := commerce.DayTime(s.Day).Date()
		at := time.Date(y, m, dd, 0, 0, 0, 0, d.Location)
		if s.Orders > 0 {
			d.Transactions = append(d.Transactions, Transaction{CustomerID: id, Time: at, Amount: s.SalesMinor})
			d.Orders += int(s.Orders)
		}
		if s.Refunds > 0 {
			d.Transactions = append(d.Transactions, Transaction{CustomerID: id, Time: at, Amount: -s.RefundsMinor})
			d.Refunds += int(s.Refunds)
		}
	}
	return d, nil
}
