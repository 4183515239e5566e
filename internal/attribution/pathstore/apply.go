package pathstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/omniroi/omniroi/internal/store"
)

// Change is what one batch of the event processor writes, as Apply needs it.
type Change struct {
	// Touches are the batch's new activity rows, with final customer ids. Order events
	// are included: their campaign is the order's campaign (they are not stored as touches).
	Touches []Touch
	Orders  []OrderWrite  // orders the batch upserts (one per order id)
	Refunds []RefundWrite // refunds the batch adds
	Moves   [][2]int64    // customers of earlier batches merged into another: {merged, survivor}
}

// OrderWrite is an order the processor writes; it replaces a stored order of the same
// id when it is later (event time, then seq), as the processor's upsert does.
type OrderWrite struct {
	ID                string
	Customer, TS, Seq int64
	Revenue           int64
	Currency, Channel string
}

// RefundWrite is one refund of an order.
type RefundWrite struct {
	OrderID  string
	Amount   int64
	Currency string
	Full     bool
}

// ErrInconsistent means the table does not hold what the processor's tables say it
// should: the caller invalidates it (Invalidate) and it is built again.
var ErrInconsistent = errors.New("paths: table out of step with the processor's tables")

type rowKey struct{ block, day int64 }

func cmpKey(x, y rowKey) int {
	if c := cmp.Compare(x.block, y.block); c != 0 {
		return c
	}
	return cmp.Compare(x.day, y.day)
}

type orderPos struct {
	cid, ts, seq, revenue int64
}

// Apply updates the table for one batch of the processor. It runs inside the processor's
// write transaction before the batch's own rows are written, so the tables it reads
// still hold the state before the batch.
func Apply(ctx context.Context, tx *store.Tx, ch Change) (err error) {
	if len(ch.Touches) == 0 && len(ch.Orders) == 0 && len(ch.Refunds) == 0 && len(ch.Moves) == 0 {
		return nil
	}
	a := &applier{tx: tx, moved: map[int64]int64{}, rows: map[rowKey]*loaded{}}
	defer func() {
		if r := recover(); r != nil { // an edit reached a row nobody loaded: a defect
			err = fmt.Errorf("%w: %v", ErrInconsistent, r)
		}
	}()
	return a.run(ctx, ch)
}

type loaded struct {
	row     Row
	old     []byte // stored data; nil when no row existed
	touched bool
}

type applier struct {
	tx    *store.Tx
	moved map[int64]int64
	rows  map[rowKey]*loaded
	need  map[rowKey]bool
}

func (a *applier) final(c int64) int64 {
	if s, ok := a.moved[c]; ok {
		return s
	}
	return c
}

func (a *applier) want(cid, ts int64) { a.need[rowKey{BlockOf(cid), DayOf(ts)}] = true }

func (a *applier) row(cid, ts int64) *loaded {
	k := rowKey{BlockOf(cid), DayOf(ts)}
	l := a.rows[k]
	if l == nil { // every row an edit reaches was asked for; this is a defect, not data
		panic(fmt.Sprintf("paths: row %v not loaded", k))
	}
	l.touched = true
	return l
}

func (a *applier) run(ctx context.Context, ch Change) error {
	a.need = map[rowKey]bool{}
	for _, m := range ch.Moves {
		a.moved[m[0]] = m[1]
	}
	jobOrd := map[string]OrderWrite{}
	for _, o := range ch.Orders {
		jobOrd[o.ID] = o
	}
	jobRef := map[string][]RefundWrite{}
	for _, r := range ch.Refunds {
		jobRef[r.OrderID] = append(jobRef[r.OrderID], r)
	}

	// Stored state of the orders the batch writes or refunds.
	ids := make([]string, 0, len(jobOrd)+len(jobRef))
	for id := range jobOrd {
		ids = append(ids, id)
	}
	for id := range jobRef {
		if _, ok := jobOrd[id]; !ok {
			ids = append(ids, id)
		}
	}
	pre := map[string]orderPos{}
	if len(ids) > 0 {
		in, arg := store.InText(a.tx.Dialect, "order_id", ids)
		if err := a.scanOrders(ctx, `SELECT order_id, customer_id, ts, seq, revenue_minor FROM orders WHERE `+in, pre, arg); err != nil {
			return err
		}
	}
	applied := map[string]OrderWrite{}
	for id, o := range jobOrd {
		p, ok := pre[id]
		if !ok || o.TS > p.ts || o.TS == p.ts && o.Seq > p.seq {
			applied[id] = o
		}
	}

	// Customers whose set of orders changes: their first order may change.
	affected := map[int64]bool{}
	for b, s := range a.moved {
		affected[b], affected[s] = true, true
	}
	for id, o := range applied {
		affected[o.Customer] = true
		if p, ok := pre[id]; ok {
			affected[p.cid] = true
		}
	}
	if len(affected) > 0 {
		cids := make([]int64, 0, len(affected))
		for c := range affected {
			cids = append(cids, c)
		}
		slices.Sort(cids)
		in, arg := store.InInt64(a.tx.Dialect, "customer_id", cids)
		if err := a.scanOrders(ctx, `SELECT order_id, customer_id, ts, seq, revenue_minor FROM orders WHERE `+in, pre, arg); err != nil {
			return err
		}
	}
	post := func(id string) (cid, ts int64, ok bool) {
		if o, ok := applied[id]; ok {
			return o.Customer, o.TS, true
		}
		if p, ok := pre[id]; ok {
			return a.final(p.cid), p.ts, true
		}
		return 0, 0, false
	}

	// First orders before and after, per customer.
	type first struct {
		id string
		ts int64
	}
	earlier := func(m map[int64]first, c int64, id string, ts int64) {
		f, ok := m[c]
		if !ok || OrderBefore(ts, id, f.ts, f.id) {
			m[c] = first{id, ts}
		}
	}
	preFirst, postFirst := map[int64]first{}, map[int64]first{}
	postAffected := map[int64]bool{}
	for c := range affected {
		postAffected[a.final(c)] = true
	}
	for id, p := range pre {
		if affected[p.cid] {
			earlier(preFirst, p.cid, id, p.ts)
		}
	}
	for id := range pre {
		if c, ts, _ := post(id); postAffected[c] {
			earlier(postFirst, c, id, ts)
		}
	}
	for id, o := range applied {
		if _, ok := pre[id]; !ok && postAffected[o.Customer] {
			earlier(postFirst, o.Customer, id, o.TS)
		}
	}
	flagged := map[string]bool{}
	for _, f := range preFirst {
		flagged[f.id] = true
	}
	for _, f := range postFirst {
		flagged[f.id] = true
	}

	// The rows every edit reaches.
	var movedCIDs []int64
	for b := range a.moved {
		movedCIDs = append(movedCIDs, b)
	}
	if len(movedCIDs) > 0 {
		slices.Sort(movedCIDs)
		in, arg := store.InInt64(a.tx.Dialect, "customer_id", movedCIDs)
		rows, err := a.tx.Query(ctx, `SELECT customer_id, ts FROM activity WHERE `+in, arg)
		if err != nil {
			return fmt.Errorf("paths: merged customers' activity: %w", err)
		}
		for rows.Next() {
			var c, ts int64
			if err := rows.Scan(&c, &ts); err != nil {
				rows.Close()
				return fmt.Errorf("paths: merged customers' activity: %w", err)
			}
			a.want(c, ts)
			a.want(a.final(c), ts)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("paths: merged customers' activity: %w", err)
		}
		for _, p := range pre {
			if _, ok := a.moved[p.cid]; ok {
				a.want(p.cid, p.ts)
				a.want(a.final(p.cid), p.ts)
			}
		}
	}
	for _, t := range ch.Touches {
		if t.Name != OrderCompleted {
			a.want(t.Customer, t.TS)
		}
	}
	for id, o := range applied {
		if p, ok := pre[id]; ok {
			a.want(a.final(p.cid), p.ts)
		}
		a.want(o.Customer, o.TS)
	}
	for id := range jobRef {
		if c, ts, ok := post(id); ok {
			a.want(c, ts)
		}
	}
	for id := range flagged {
		if c, ts, ok := post(id); ok {
			a.want(c, ts)
		}
	}
	if err := a.load(ctx); err != nil {
		return err
	}

	// 1. Merged customers' entries move to the survivor.
	if len(a.moved) > 0 {
		keys := make([]rowKey, 0, len(a.rows))
		for k := range a.rows {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, cmpKey)
		var mt []Touch
		var mo []Order
		for _, k := range keys {
			l := a.rows[k]
			r := &l.row
			kt := r.Touches[:0]
			for _, t := range r.Touches {
				if s, ok := a.moved[t.Customer]; ok {
					t.Customer = s
					mt = append(mt, t)
					l.touched = true
					continue
				}
				kt = append(kt, t)
			}
			r.Touches = kt
			ko := r.Orders[:0]
			for _, o := range r.Orders {
				if s, ok := a.moved[o.Customer]; ok {
					o.Customer = s
					mo = append(mo, o)
					l.touched = true
					continue
				}
				ko = append(ko, o)
			}
			r.Orders = ko
		}
		for _, t := range mt {
			l := a.row(t.Customer, t.TS)
			l.row.Touches = append(l.row.Touches, t)
		}
		for _, o := range mo {
			l := a.row(o.Customer, o.TS)
			l.row.Orders = append(l.row.Orders, o)
		}
	}

	// 2. Orders the batch replaces or adds.
	campaign := map[int64]string{}
	for _, t := range ch.Touches {
		if t.Name == OrderCompleted {
			campaign[t.Seq] = t.Campaign
		}
	}
	appliedIDs := make([]string, 0, len(applied))
	for id := range applied {
		appliedIDs = append(appliedIDs, id)
	}
	slices.Sort(appliedIDs)
	for _, id := range appliedIDs {
		o := applied[id]
		if p, ok := pre[id]; ok {
			if !a.removeOrder(a.final(p.cid), p.ts, id) {
				return fmt.Errorf("%w: order %q missing", ErrInconsistent, id)
			}
		}
		l := a.row(o.Customer, o.TS)
		l.row.Orders = append(l.row.Orders, Order{Customer: o.Customer, TS: o.TS, ID: id, Revenue: o.Revenue,
			Currency: o.Currency, Channel: o.Channel, Campaign: campaign[o.Seq]})
	}

	// 3. New touches.
	for _, t := range ch.Touches {
		if t.Name != OrderCompleted {
			l := a.row(t.Customer, t.TS)
			l.row.Touches = append(l.row.Touches, t)
		}
	}

	// 4. Refunds of the orders the batch refunds or replaces.
	refIDs := make([]string, 0, len(jobRef)+len(applied))
	for id := range jobRef {
		refIDs = append(refIDs, id)
	}
	for id := range applied {
		if _, ok := jobRef[id]; !ok {
			refIDs = append(refIDs, id)
		}
	}
	if len(refIDs) > 0 {
		stored := map[string][]RefundWrite{}
		in, arg := store.InText(a.tx.Dialect, "order_id", refIDs)
		rows, err := a.tx.Query(ctx, `SELECT order_id, amount_minor, currency, full_refund FROM refunds WHERE `+in, arg)
		if err != nil {
			return fmt.Errorf("paths: read refunds: %w", err)
		}
		for rows.Next() {
			var id string
			var r RefundWrite
			var full int
			if err := rows.Scan(&id, &r.Amount, &r.Currency, &full); err != nil {
				rows.Close()
				return fmt.Errorf("paths: read refunds: %w", err)
			}
			r.Full = full != 0
			stored[id] = append(stored[id], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("paths: read refunds: %w", err)
		}
		for _, id := range refIDs {
			c, ts, ok := post(id)
			if !ok {
				continue // refunded before the order arrived: its entry is made with it
			}
			o := a.findOrder(c, ts, id)
			if o == nil {
				return fmt.Errorf("%w: refunded order %q missing", ErrInconsistent, id)
			}
			o.Refunded = Refunded(o.Revenue, o.Currency, append(stored[id], jobRef[id]...))
		}
	}

	// 5. First-order flags.
	for id := range flagged {
		c, ts, ok := post(id)
		if !ok {
			continue
		}
		o := a.findOrder(c, ts, id)
		if o == nil {
			return fmt.Errorf("%w: order %q missing", ErrInconsistent, id)
		}
		o.First = postFirst[c].id == id
	}
	return a.store(ctx)
}

func (a *applier) scanOrders(ctx context.Context, q string, into map[string]orderPos, args ...any) error {
	rows, err := a.tx.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("paths: read orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p orderPos
		if err := rows.Scan(&id, &p.cid, &p.ts, &p.seq, &p.revenue); err != nil {
			return fmt.Errorf("paths: read orders: %w", err)
		}
		into[id] = p
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("paths: read orders: %w", err)
	}
	return nil
}

func (a *applier) findOrder(cid, ts int64, id string) *Order {
	l := a.row(cid, ts)
	for i := range l.row.Orders {
		if o := &l.row.Orders[i]; o.ID == id && o.Customer == cid && o.TS == ts {
			return o
		}
	}
	return nil
}

func (a *applier) removeOrder(cid, ts int64, id string) bool {
	l := a.row(cid, ts)
	for i, o := range l.row.Orders {
		if o.ID == id && o.Customer == cid && o.TS == ts {
			l.row.Orders = slices.Delete(l.row.Orders, i, i+1)
			return true
		}
	}
	return false
}

// load reads every needed row, one query per block.
func (a *applier) load(ctx context.Context) error {
	byBlock := map[int64][]int64{}
	for k := range a.need {
		byBlock[k.block] = append(byBlock[k.block], k.day)
		a.rows[k] = &loaded{row: Row{Block: k.block, Day: k.day}}
	}
	for block, days := range byBlock {
		slices.Sort(days)
		in, arg := store.InInt64(a.tx.Dialect, "day", days)
		rows, err := a.tx.Query(ctx, `SELECT day, data FROM paths WHERE block = ? AND `+in, block, arg)
		if err != nil {
			return fmt.Errorf("paths: read rows: %w", err)
		}
		for rows.Next() {
			var day int64
			var data []byte
			if err := rows.Scan(&day, &data); err != nil {
				rows.Close()
				return fmt.Errorf("paths: read rows: %w", err)
			}
			r, err := DecodeRow(block, day, data)
			if err != nil {
				rows.Close()
				return errors.Join(ErrInconsistent, err)
			}
			l := a.rows[rowKey{block, day}]
			l.row, l.old = r, data
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("paths: read rows: %w", err)
		}
	}
	return nil
}

// store writes the rows that changed, in key order.
func (a *applier) store(ctx context.Context) error {
	keys := make([]rowKey, 0, len(a.rows))
	for k, l := range a.rows {
		if l.touched {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpKey)
	for _, k := range keys {
		l := a.rows[k]
		if err := putRow(ctx, a.tx, &l.row, l.old); err != nil {
			return err
		}
	}
	return nil
}
