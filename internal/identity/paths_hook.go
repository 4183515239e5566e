package identity

// The processor keeps attribution's paths table (internal/attribution/pathstore) current:
// each batch's touches, orders, refunds and merges go into it in the batch's own write
// transaction, so the table always matches the tables it is derived from.

import (
	"context"
	"errors"
	"fmt"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/store"
)

// writePaths applies batch j to the paths table. write calls it before writing the
// batch's own rows: pathstore.Apply reads the state before the batch.
func (p *Processor) writePaths(ctx context.Context, tx *store.Tx, j *job) error {
	ch, err := pathChange(j)
	if err != nil {
		return err
	}
	ch.Cache = &p.pathRows
	err = pathstore.Apply(ctx, tx, ch)
	if errors.Is(err, pathstore.ErrInconsistent) {
		// Readers compute paths from the tables until ensurePaths builds it again, before
		// the next batch; the batch itself goes on.
		p.opt.Logger.Warn("processor: paths table out of step; rebuilding it", "err", err)
		return pathstore.Invalidate(ctx, tx)
	}
	return err
}

// pathChange reads the rows of job j (see build for their columns).
func pathChange(j *job) (ch pathstore.Change, err error) {
	defer func() {
		if r := recover(); r != nil { // a column changed type in build: a defect
			err = fmt.Errorf("paths: batch rows: %v", r)
		}
	}()
	ch.Moves = j.moves
	for i := 0; i+10 <= len(j.activity); i += 10 {
		a := j.activity[i : i+10]
		ch.Touches = append(ch.Touches, pathstore.Touch{Seq: a[0].(int64), Customer: a[1].(int64), TS: a[2].(int64),
			Name: a[4].(string), Channel: a[5].(string), Campaign: a[6].(string)})
	}
	for i := 0; i+10 <= len(j.orders); i += 10 {
		o := j.orders[i : i+10]
		ch.Orders = append(ch.Orders, pathstore.OrderWrite{ID: o[0].(string), Customer: o[1].(int64), TS: o[2].(int64),
			Revenue: o[3].(int64), Currency: o[4].(string), Channel: o[6].(string), Seq: o[9].(int64)})
	}
	for i := 0; i+7 <= len(j.refunds); i += 7 {
		r := j.refunds[i : i+7]
		ch.Refunds = append(ch.Refunds, pathstore.RefundWrite{OrderID: r[1].(string), Amount: r[4].(int64), Currency: r[5].(string), Full: r[6].(int) != 0})
	}
	return ch, nil
}

// ensurePaths builds the paths table when it is not ready (a store from before it, or
// after an inconsistency), one block per transaction; process calls it under the lease,
// before any batch.
func (p *Processor) ensurePaths(ctx context.Context) error {
	ok, err := pathstore.Ready(ctx, p.db)
	if err != nil || ok {
		return err
	}
	return pathstore.BuildAll(ctx, p.db)
}

// EnsurePaths builds the paths table under the processor lease when it is not ready (a
// store upgraded from an older format), without processing events: an analysis run from
// the command line calls it so that it reads the table instead of computing every path
// from the event tables. built reports whether it built; ErrLeaseHeld (wrapped) when
// another process holds the lease (a running server, which builds it itself).
func (p *Processor) EnsurePaths(ctx context.Context) (built bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok, err := pathstore.Ready(ctx, p.db); err != nil || ok {
		return false, err
	}
	ok, err := p.acquire(ctx)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, p.heldErr(ctx)
	}
	defer p.release()
	if ok, err := pathstore.Ready(ctx, p.db); err != nil || ok {
		return false, err
	}
	return true, pathstore.BuildAll(ctx, p.db)
}
