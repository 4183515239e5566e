package pathstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
)

// ReadySetting holds the format version of the rows once they reflect the processor's
// tables; absent, readers compute rows from the tables themselves and the processor
// builds the table before its next batch.
const ReadySetting = "paths.format"

// readyValue is "2" since refunds count by the refund rule (in the order's currency only):
// rows of format "1" are rebuilt.
const readyValue = "2"

// Day bounds wide enough for any stored time (±270,000 years) without overflowing ms.
const (
	MinDay = -100_000_000
	MaxDay = 100_000_000
)

// Querier is what a read needs: the read pool (*store.DB) or a transaction (*store.Tx).
type Querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// Refunded is the refunds of an order as paths hold them: what the refund rule
// (commerce.RefundedTotal) takes back, at least 0 and at most the revenue. The total
// does not depend on the refunds' order, so their times are not needed.
func Refunded(revenue int64, currency string, refunds []RefundWrite) int64 {
	refs := make([]commerce.Refund, len(refunds))
	for i, r := range refunds {
		refs[i] = commerce.Refund{OrderID: r.OrderID, AmountMinor: r.Amount, Currency: r.Currency, Full: r.Full}
	}
	return commerce.RefundedTotal(commerce.Order{RevenueMinor: revenue, Currency: currency}, refs)
}

// Compute derives the rows of one block for days [dayFrom, dayTo] from the activity,
// orders and refunds tables: the definition Apply keeps current, used to build the table
// and, until it is built, by readers.
func Compute(ctx context.Context, q Querier, block, dayFrom, dayTo int64) ([]Row, error) {
	lo, hi := block<<blockBits, (block+1)<<blockBits
	fromMS, toMS := dayFrom*DayMS, (dayTo+1)*DayMS
	rows := map[int64]*Row{}
	row := func(day int64) *Row {
		r := rows[day]
		if r == nil {
			r = &Row{Block: block, Day: day}
			rows[day] = r
		}
		return r
	}
	ar, err := q.Query(ctx, activityQuery(dayFrom, dayTo), lo, hi, fromMS, toMS, OrderCompleted)
	if err != nil {
		return nil, fmt.Errorf("paths: read activity: %w", err)
	}
	for ar.Next() {
		var t Touch
		if err := ar.Scan(&t.Customer, &t.TS, &t.Seq, &t.Name, &t.Channel, &t.Campaign); err != nil {
			ar.Close()
			return nil, fmt.Errorf("paths: read activity: %w", err)
		}
		r := row(DayOf(t.TS))
		r.Touches = append(r.Touches, t)
	}
	ar.Close()
	if err := ar.Err(); err != nil {
		return nil, fmt.Errorf("paths: read activity: %w", err)
	}
	// Orders of every day: a customer's first order may lie outside the days asked for.
	refunds := map[string][]RefundWrite{}
	rr, err := q.Query(ctx, `SELECT r.order_id, r.amount_minor, r.currency, r.full_refund FROM refunds r JOIN orders o ON o.order_id = r.order_id
		WHERE o.customer_id >= ? AND o.customer_id < ?`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("paths: read refunds: %w", err)
	}
	for rr.Next() {
		var id string
		var rw RefundWrite
		var full int
		if err := rr.Scan(&id, &rw.Amount, &rw.Currency, &full); err != nil {
			rr.Close()
			return nil, fmt.Errorf("paths: read refunds: %w", err)
		}
		rw.Full = full != 0
		refunds[id] = append(refunds[id], rw)
	}
	rr.Close()
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("paths: read refunds: %w", err)
	}
	or, err := q.Query(ctx, `SELECT o.order_id, o.customer_id, o.ts, o.revenue_minor, o.currency, o.channel, COALESCE(a.campaign, '')
		FROM orders o LEFT JOIN activity a ON a.seq = o.seq WHERE o.customer_id >= ? AND o.customer_id < ?`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("paths: read orders: %w", err)
	}
	var orders []Order
	for or.Next() {
		var o Order
		if err := or.Scan(&o.ID, &o.Customer, &o.TS, &o.Revenue, &o.Currency, &o.Channel, &o.Campaign); err != nil {
			or.Close()
			return nil, fmt.Errorf("paths: read orders: %w", err)
		}
		o.Refunded = Refunded(o.Revenue, o.Currency, refunds[o.ID])
		orders = append(orders, o)
	}
	or.Close()
	if err := or.Err(); err != nil {
		return nil, fmt.Errorf("paths: read orders: %w", err)
	}
	slices.SortFunc(orders, cmpOrder)
	for i := range orders {
		o := &orders[i]
		o.First = i == 0 || orders[i-1].Customer != o.Customer
		if d := DayOf(o.TS); d >= dayFrom && d <= dayTo {
			r := row(d)
			r.Orders = append(r.Orders, *o)
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		r.sort()
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int { return cmp.Compare(a.Day, b.Day) })
	return out, nil
}

// activityQuery reads a block's touches of some days. For the whole history (a build)
// the time bound is written +ts so that SQLite, which keeps no statistics, cannot pick
// the time index and walk every touch of the store once per block: the customer index
// reads the block's own rows only.
func activityQuery(dayFrom, dayTo int64) string {
	ts := "ts"
	if dayFrom <= MinDay && dayTo >= MaxDay {
		ts = "+ts"
	}
	return `SELECT customer_id, ts, seq, name, channel, campaign FROM activity
		WHERE customer_id >= ? AND customer_id < ? AND ` + ts + ` >= ? AND ` + ts + ` < ? AND name <> ?`
}

// customerRange returns the smallest and largest customer id in the processor's tables
// (two index lookups per table: one MIN or MAX per query, so the database reads the
// index's ends instead of all of it).
func customerRange(ctx context.Context, q Querier) (lo, hi int64, ok bool, err error) {
	for _, t := range []string{"activity", "orders"} {
		for _, f := range []string{"MIN", "MAX"} {
			var v sql.NullInt64
			if err := q.QueryRow(ctx, `SELECT `+f+`(customer_id) FROM `+t).Scan(&v); err != nil {
				return 0, 0, false, fmt.Errorf("paths: customer ids in %s: %w", t, err)
			}
			if !v.Valid {
				continue
			}
			if !ok {
				lo, hi, ok = v.Int64, v.Int64, true
			}
			lo, hi = min(lo, v.Int64), max(hi, v.Int64)
		}
	}
	return lo, hi, ok, nil
}

// BuildAll replaces the table with rows computed from the processor's tables, one block
// per transaction (the writer is never held for long), and marks it ready at the end. The
// caller holds the processor lease: nothing else writes those tables meanwhile.
func BuildAll(ctx context.Context, db *store.DB) error {
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := Invalidate(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM paths`)
		return err
	})
	if err != nil {
		return fmt.Errorf("paths: empty: %w", err)
	}
	lo, hi, ok, err := customerRange(ctx, db)
	if err != nil {
		return err
	}
	for b := BlockOf(lo); ok && b <= BlockOf(hi); b++ {
		err := db.Write(ctx, func(tx *store.Tx) error {
			rows, err := Compute(ctx, tx, b, MinDay, MaxDay)
			if err != nil {
				return err
			}
			for i := range rows {
				if err := putRow(ctx, tx, &rows[i], nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return db.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, ReadySetting, readyValue) })
}

// Ready reports whether the table reflects the processor's tables.
func Ready(ctx context.Context, db *store.DB) (bool, error) {
	v, ok, err := db.Setting(ctx, ReadySetting)
	if err != nil {
		return false, fmt.Errorf("paths: %w", err)
	}
	return ok && v == readyValue, nil
}

// Invalidate marks the table as not reflecting the processor's tables: readers compute
// rows themselves until the processor builds it again.
func Invalidate(ctx context.Context, tx *store.Tx) error {
	if _, err := tx.Exec(ctx, `DELETE FROM settings WHERE key = ?`, ReadySetting); err != nil {
		return fmt.Errorf("paths: invalidate: %w", err)
	}
	return nil
}

// putRow stores a row whose stored data was old (nil: no row of that key), or deletes it
// when it is empty; an unchanged row is not written.
func putRow(ctx context.Context, tx *store.Tx, r *Row, old []byte) error {
	_, err := writeRow(ctx, tx, r, old)
	return err
}

// writeRow is putRow returning the bytes the table holds for the row afterwards (nil
// when it has none).
func writeRow(ctx context.Context, tx *store.Tx, r *Row, old []byte) ([]byte, error) {
	var err error
	var data []byte
	switch {
	case r.Empty() && old != nil:
		_, err = tx.Exec(ctx, `DELETE FROM paths WHERE block = ? AND day = ?`, r.Block, r.Day)
	case r.Empty():
		return nil, nil
	default:
		data = r.Encode()
		if old != nil && string(data) == string(old) {
			return data, nil
		}
		sum := encodeSummary(summarize(r))
		if old != nil {
			_, err = tx.Exec(ctx, `UPDATE paths SET touches = ?, orders = ?, summary = ?, data = ? WHERE block = ? AND day = ?`,
				len(r.Touches), len(r.Orders), sum, data, r.Block, r.Day)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO paths (block, day, touches, orders, summary, data) VALUES (?, ?, ?, ?, ?, ?)`,
				r.Block, r.Day, len(r.Touches), len(r.Orders), sum, data)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("paths: write block %d day %d: %w", r.Block, r.Day, err)
	}
	return data, nil
}
