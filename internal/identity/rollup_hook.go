package identity

// The processor keeps the daily rollups (internal/rollup, table daily_rollups) current:
// each batch's update is prepared before the batch's rows are written and finished after,
// in the batch's own write transaction.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

// ensureRollups builds the daily rollups when they are not kept for the business time
// zone: a store upgraded from before the table (its migration creates it empty), or a
// time zone changed since. process calls it under the lease, before any batch, so the
// table is filled when the processor starts rather than with the next event, which may
// not come for hours. Until it is, rollup.ForPeriod computes a period from the
// processor's tables.
//
// The rows are computed outside the write transaction (about 20 seconds on the default
// demo), so that collection is not held up meanwhile: under the lease and before the
// batch, only an erasure can change the tables they are computed from, and the write
// checks that none committed (the processor epoch) or leaves the table for the next turn.
func (p *Processor) ensureRollups(ctx context.Context) error {
	loc, err := workspace.Location(ctx, p.db)
	if err != nil {
		return fmt.Errorf("daily rollups: %w", err)
	}
	if ok, err := rollup.Current(ctx, p.db, loc); err != nil || ok {
		return err
	}
	start := time.Now()
	epoch, err := p.readEpoch(ctx)
	if err != nil {
		return err
	}
	rows, err := rollup.Compute(ctx, p.db, loc)
	if err != nil {
		return err
	}
	if p.rollupsComputed != nil {
		p.rollupsComputed() // tests: an erasure lands here
	}
	moved := false
	err = p.db.Write(ctx, func(tx *store.Tx) error {
		q := `SELECT value FROM settings WHERE key = ?`
		if tx.Dialect == store.Postgres {
			q += ` FOR UPDATE` // waits for an erasure in flight (checkEpoch)
		}
		var now string
		if err := tx.QueryRow(ctx, q, EpochSetting).Scan(&now); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read processor epoch: %w", err)
		}
		if moved = now != epoch; moved {
			return nil
		}
		return rollup.Replace(ctx, tx, rows, loc)
	})
	if err != nil {
		return fmt.Errorf("daily rollups: %w", err)
	}
	if moved {
		p.opt.Logger.Info("processor: an erasure came while the daily rollups were computed; they are computed again")
		return nil
	}
	if len(rows) == 0 {
		return nil // a new store: nothing to say
	}
	p.opt.Logger.Info("processor: daily rollups built", "time_zone", loc.String(), "rows", len(rows), "took", time.Since(start).Round(time.Millisecond))
	return nil
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
