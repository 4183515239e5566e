package commerce

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// Per-customer order totals (table customer_orders): for each customer and currency, the
// number of orders (every order row, whatever its revenue), the newest order's time and
// the revenue summed. The customer list pages and sorts on them in SQL; the processor keeps
// them with the order summaries (RefreshSummaries, RebuildSummaries).

// CustomerTotal is one customer's orders in one currency.
type CustomerTotal struct {
	CustomerID   int64
	Currency     string
	Orders       int64
	LastMS       int64 // the newest order's time, unix ms
	RevenueMinor int64
}

// TotalOrders reduces orders to per-customer totals, sorted by customer and currency.
func TotalOrders(orders []Order) []CustomerTotal {
	type key struct {
		cust int64
		cur  string
	}
	acc := map[key]*CustomerTotal{}
	for _, o := range orders {
		k := key{o.CustomerID, o.Currency}
		t := acc[k]
		ms := o.Time.UnixMilli()
		if t == nil {
			t = &CustomerTotal{CustomerID: o.CustomerID, Currency: o.Currency, LastMS: ms}
			acc[k] = t
		}
		t.Orders++
		t.LastMS = max(t.LastMS, ms)
		t.RevenueMinor = money.SatAdd(t.RevenueMinor, o.RevenueMinor)
	}
	out := make([]CustomerTotal, 0, len(acc))
	for _, t := range acc {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b CustomerTotal) int {
		return cmp.Or(cmp.Compare(a.CustomerID, b.CustomerID), cmp.Compare(a.Currency, b.Currency))
	})
	return out
}

// insertTotals writes rows, 5,000 per statement.
func insertTotals(ctx context.Context, tx *store.Tx, rows []CustomerTotal) error {
	for start := 0; start < len(rows); start += 5000 {
		rs := store.NewRowSet(tx.Dialect, "customer_id bigint", "currency text", "orders bigint", "last_ts bigint", "revenue_minor bigint")
		for _, t := range rows[start:min(start+5000, len(rows))] {
			rs.Add(t.CustomerID, t.Currency, t.Orders, t.LastMS, t.RevenueMinor)
		}
		from, args := rs.Table("v")
		if _, err := tx.Exec(ctx, `INSERT INTO customer_orders (customer_id, currency, orders, last_ts, revenue_minor)
			SELECT v.customer_id, v.currency, v.orders, v.last_ts, v.revenue_minor FROM `+from, args...); err != nil {
			return fmt.Errorf("customer order totals: write: %w", err)
		}
	}
	return nil
}

// CustomerTotalsSQL is a subquery with one row per customer who has orders: customer_id,
// orders (all currencies), last (the newest order's time, unix ms) and revenue (orders
// in currency cur, summed), with its arguments. It reads customer_orders when the
// processor keeps the summaries for loc (SummariesCurrent), else the orders themselves
// (a store whose rows were written around the processor).
func CustomerTotalsSQL(ctx context.Context, db *store.DB, loc *time.Location, cur string) (string, []any, error) {
	return customerTotalsSQL(ctx, db, loc, cur, nil)
}

// CustomerTotalsOf is CustomerTotalsSQL's rows for the customers ids, by customer.
func CustomerTotalsOf(ctx context.Context, db *store.DB, loc *time.Location, cur string, ids []int64) (map[int64]CustomerTotal, error) {
	out := make(map[int64]CustomerTotal, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := customerTotalsSQL(ctx, db, loc, cur, ids)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("customer order totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t := CustomerTotal{Currency: cur}
		if err := rows.Scan(&t.CustomerID, &t.Orders, &t.LastMS, &t.RevenueMinor); err != nil {
			return nil, fmt.Errorf("customer order totals: %w", err)
		}
		out[t.CustomerID] = t
	}
	return out, rows.Err()
}

func customerTotalsSQL(ctx context.Context, db *store.DB, loc *time.Location, cur string, ids []int64) (string, []any, error) {
	ok, err := SummariesCurrent(ctx, db, loc)
	if err != nil {
		return "", nil, err
	}
	where, args := "", []any{cur}
	if ids != nil {
		in, arg := store.InInt64(db.Dialect, "customer_id", ids)
		where, args = " WHERE "+in, append(args, arg)
	}
	revenue := db.SumMinor("CASE WHEN currency = ? THEN revenue_minor ELSE 0 END")
	if ok {
		return `SELECT customer_id, SUM(orders) AS orders, MAX(last_ts) AS last, ` + revenue + ` AS revenue
			FROM customer_orders` + where + ` GROUP BY customer_id`, args, nil
	}
	return `SELECT customer_id, COUNT(*) AS orders, MAX(ts) AS last, ` + revenue + ` AS revenue
		FROM orders` + where + ` GROUP BY customer_id`, args, nil
}
