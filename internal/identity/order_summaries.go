package identity

import (
	"context"
	"fmt"
	"slices"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// writeBatch writes job j (write) and keeps the per-customer order summaries
// (commerce.DaySummary, table order_summaries) current in the same transaction: every
// customer whose orders or refunds the batch may have changed is summarized again from
// the orders and refunds tables, so the rows always equal a computation from scratch
// (TestOrderSummariesIncremental). A customer's rows change when the batch
//   - adds or replaces one of their orders (a re-sent order_id may also take an order
//     away from its earlier customer: both are recomputed),
//   - adds a refund of one of their orders (refunds count for the order's customer),
//   - merges them into another customer (the merged customer's rows go, the
//     survivor's are recomputed).
//
// When the table's rows were counted in another time zone than the business's (or never:
// a store from before the table), the batch rebuilds all of them.
func (p *Processor) writeBatch(ctx context.Context, tx *store.Tx, j *job) error {
	loc, err := workspace.Location(ctx, p.db)
	if err != nil {
		return fmt.Errorf("order summaries: %w", err)
	}
	var tz string
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(value), '') FROM settings WHERE key = ?`, commerce.SummariesTimeZoneSetting).Scan(&tz); err != nil {
		return fmt.Errorf("order summaries: %w", err)
	}
	if tz != loc.String() {
		if err := p.write(ctx, tx, j); err != nil {
			return err
		}
		return commerce.RebuildSummaries(ctx, tx, loc)
	}
	if len(j.orders) == 0 && len(j.refunds) == 0 && len(j.moves) == 0 {
		return p.write(ctx, tx, j)
	}
	// Orders are rows of 10 values (build), order_id first and the customer second;
	// refunds rows of 7, order_id second.
	var orderIDs []string
	var affected []int64
	for i := 0; i < len(j.orders); i += 10 {
		orderIDs = append(orderIDs, j.orders[i].(string))
		affected = append(affected, j.orders[i+1].(int64))
	}
	before, err := ownersOf(ctx, tx, orderIDs)
	if err != nil {
		return err
	}
	affected = append(affected, before...)
	if err := p.write(ctx, tx, j); err != nil {
		return err
	}
	for i := 0; i < len(j.refunds); i += 7 {
		orderIDs = append(orderIDs, j.refunds[i+1].(string))
	}
	after, err := ownersOf(ctx, tx, orderIDs)
	if err != nil {
		return err
	}
	affected = append(affected, after...)
	for _, m := range j.moves {
		affected = append(affected, m[0], m[1])
	}
	slices.Sort(affected)
	return commerce.RefreshSummaries(ctx, tx, slices.Compact(affected), loc)
}

// ownersOf returns the customers the orders belong to, as tx sees them.
func ownersOf(ctx context.Context, tx *store.Tx, orderIDs []string) ([]int64, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	in, arg := store.InText(tx.Dialect, "order_id", orderIDs)
	rows, err := tx.Query(ctx, `SELECT DISTINCT customer_id FROM orders WHERE `+in, arg)
	if err != nil {
		return nil, fmt.Errorf("order summaries: owners: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("order summaries: owners: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
