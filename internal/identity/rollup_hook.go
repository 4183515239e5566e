package identity

// The processor keeps the daily rollups (internal/rollup, table daily_rollups) current:
// each batch's update is prepared before the batch's rows are written and finished after,
// in the batch's own write transaction.

import (
	"context"
	"fmt"

	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// writeWithRollups writes job j (writeBatch) and keeps the daily rollups current. Once
// the transaction committed, the caller passes the returned update to the processor's
// session cache (Pending.Committed).
func (p *Processor) writeWithRollups(ctx context.Context, tx *store.Tx, j *job) (*rollup.Pending, error) {
	loc, err := workspace.Location(ctx, p.db)
	if err != nil {
		return nil, fmt.Errorf("daily rollups: %w", err)
	}
	b := rollupBatch(j)
	b.Cache = &p.sessions
	pend, err := rollup.Begin(ctx, tx, loc, b)
	if err != nil {
		return nil, err
	}
	if err := p.writeBatch(ctx, tx, j); err != nil {
		return nil, err
	}
	return pend, pend.Commit(ctx, tx)
}

// rollupBatch reads the rows of job j (see build for their columns: activity rows of 10
// values, seq, customer and time first; orders of 10, order_id, customer and time first;
// refunds of 7, order_id second; an activity row's name, channel and campaign are its
// fifth to seventh).
func rollupBatch(j *job) rollup.Batch {
	b := rollup.Batch{Moves: j.moves}
	for i := 0; i+10 <= len(j.activity); i += 10 {
		a := j.activity[i : i+10]
		b.Touches = append(b.Touches, rollup.Event{Seq: a[0].(int64), Customer: a[1].(int64), TS: a[2].(int64),
			Name: a[4].(string), Channel: a[5].(string), Campaign: a[6].(string)})
	}
	for i := 0; i+10 <= len(j.orders); i += 10 {
		b.Orders = append(b.Orders, rollup.Event{ID: j.orders[i].(string), Customer: j.orders[i+1].(int64), TS: j.orders[i+2].(int64)})
	}
	for i := 0; i+7 <= len(j.refunds); i += 7 {
		b.RefundOrders = append(b.RefundOrders, j.refunds[i+1].(string))
	}
	return b
}
