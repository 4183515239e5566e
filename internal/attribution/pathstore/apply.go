package pathstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

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
	// Cache, when set, keeps the rows the batch leaves decoded for the next batch (see
	// RowCache). nil decodes every row it reads.
	Cache *RowCache
}

// RowCache holds the rows the last Apply left, decoded, beside their stored bytes. A busy
// day's row of a block holds every touch of that day, and the processor edits it in
// every batch: decoding it again was most of an edit's cost. A cached row is used only
// when the bytes read from the table are the bytes it was cached with, so whatever else
// wrote the table (a rebuild, an erasure, a rolled-back transaction, another process)
// the row is the one the table holds. One processor uses a cache, one batch at a time.
type RowCache struct {
	mu   sync.Mutex
	rows map[rowKey]cachedRow
	strs *interner // one copy of each touch's name, channel and campaign the rows hold
}

// interner keeps one copy of each string it is given, so that the rows the processor
// keeps share their names, channels and campaigns (Encode then finds them by address) and
// hold no part of an event's memory. Order ids are not interned: each is new.
type interner struct {
	m map[string]string
}

// maxInterned bounds the interner: past it, a new table starts (strings already handed
// out stay valid; only their sharing is lost).
const maxInterned = 20_000

func (in *interner) str(s string) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = map[string]string{}
	}
	s = strings.Clone(s)
	in.m[s] = s
	return s
}

func (in *interner) bytes(b []byte) string {
	if v, ok := in.m[string(b)]; ok {
		return v
	}
	return in.str(string(b))
}

// interner returns the cache's interner (a fresh one without a cache).
func (c *RowCache) interner() *interner {
	if c == nil {
		return &interner{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.strs == nil {
		c.strs = &interner{}
	}
	return c.strs
}

type cachedRow struct {
	data []byte
	row  Row
}

// take removes and returns the cached row of k when it was cached with data.
func (c *RowCache) take(k rowKey, data []byte) (Row, bool) {
	if c == nil {
		return Row{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rows[k]
	if !ok {
		return Row{}, false
	}
	delete(c.rows, k)
	if !bytes.Equal(e.data, data) {
		return Row{}, false
	}
	return e.row, true
}

// replace makes rows the whole cache: the rows of the last batch, so memory stays that
// of one batch's rows.
func (c *RowCache) replace(rows map[rowKey]cachedRow) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.rows = rows
	c.mu.Unlock()
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
	a := &applier{tx: tx, cache: ch.Cache, strs: ch.Cache.interner(), moved: map[int64]int64{}, rows: map[rowKey]*loaded{}}
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
	cache *RowCache
	strs  *interner
	moved map[int64]int64
	rows  map[rowKey]*loaded
	need  map[rowKey]bool

	jobOrd   map[string]OrderWrite    // orders the batch writes, by id
	jobRef   map[string][]RefundWrite // refunds the batch adds, by order id
	pre      map[string]orderPos      // stored state of the orders the batch reaches
	applied  map[string]OrderWrite    // the batch's orders that replace or add a stored one
	affected map[int64]bool           // customers (before merges) whose set of orders changes
	// postFirst is each affected customer's first order after the batch (final ids).
	postFirst map[int64]firstOrder
	flagged   map[string]bool // orders whose first-order flag may change
}

// firstOrder is a customer's earliest order.
type firstOrder struct {
	id string
	ts int64
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

// run applies the batch in named steps: index it, read the stored state it reaches,
// work out which rows change, load them, edit them and write back the changed ones.
func (a *applier) run(ctx context.Context, ch Change) error {
	a.index(ch)
	if err := a.readBatchOrders(ctx); err != nil {
		return err
	}
	if err := a.readAffectedOrders(ctx); err != nil {
		return err
	}
	a.firstOrders()
	if err := a.wantRows(ctx, ch); err != nil {
		return err
	}
	if err := a.load(ctx); err != nil {
		return err
	}
	a.moveMerged()
	if err := a.putOrders(ch); err != nil {
		return err
	}
	a.addTouches(ch)
	if err := a.putRefunds(ctx); err != nil {
		return err
	}
	if err := a.flagFirstOrders(); err != nil {
		return err
	}
	return a.store(ctx)
}

// index records the batch's merges, orders and refunds by key.
func (a *applier) index(ch Change) {
	a.need = map[rowKey]bool{}
	for _, m := range ch.Moves {
		a.moved[m[0]] = m[1]
	}
	a.jobOrd = map[string]OrderWrite{}
	for _, o := range ch.Orders {
		a.jobOrd[o.ID] = o
	}
	a.jobRef = map[string][]RefundWrite{}
	for _, r := range ch.Refunds {
		a.jobRef[r.OrderID] = append(a.jobRef[r.OrderID], r)
	}
}

// readBatchOrders reads the stored state of the orders the batch writes or refunds and
// keeps the batch's orders that win over the stored ones (later event time, then seq).
func (a *applier) readBatchOrders(ctx context.Context) error {
	ids := make([]string, 0, len(a.jobOrd)+len(a.jobRef))
	for id := range a.jobOrd {
		ids = append(ids, id)
	}
	for id := range a.jobRef {
		if _, ok := a.jobOrd[id]; !ok {
			ids = append(ids, id)
		}
	}
	a.pre = map[string]orderPos{}
	if len(ids) > 0 {
		in, arg := store.InText(a.tx.Dialect, "order_id", ids)
		if err := a.scanOrders(ctx, `SELECT order_id, customer_id, ts, seq, revenue_minor FROM orders WHERE `+in, a.pre, arg); err != nil {
			return err
		}
	}
	a.applied = map[string]OrderWrite{}
	for id, o := range a.jobOrd {
		p, ok := a.pre[id]
		if !ok || o.TS > p.ts || o.TS == p.ts && o.Seq > p.seq {
			a.applied[id] = o
		}
	}
	return nil
}

// readAffectedOrders reads every stored order of the customers whose set of orders
// changes (merged, or gaining or losing an order): their first order may change.
func (a *applier) readAffectedOrders(ctx context.Context) error {
	a.affected = map[int64]bool{}
	for b, s := range a.moved {
		a.affected[b], a.affected[s] = true, true
	}
	for id, o := range a.applied {
		a.affected[o.Customer] = true
		if p, ok := a.pre[id]; ok {
			a.affected[p.cid] = true
		}
	}
	if len(a.affected) == 0 {
		return nil
	}
	cids := make([]int64, 0, len(a.affected))
	for c := range a.affected {
		cids = append(cids, c)
	}
	slices.Sort(cids)
	in, arg := store.InInt64(a.tx.Dialect, "customer_id", cids)
	return a.scanOrders(ctx, `SELECT order_id, customer_id, ts, seq, revenue_minor FROM orders WHERE `+in, a.pre, arg)
}

// post is where an order is after the batch: its final customer and time.
func (a *applier) post(id string) (cid, ts int64, ok bool) {
	if o, ok := a.applied[id]; ok {
		return o.Customer, o.TS, true
	}
	if p, ok := a.pre[id]; ok {
		return a.final(p.cid), p.ts, true
	}
	return 0, 0, false
}

// firstOrders works out the affected customers' first orders before and after the batch;
// both are flagged for a look (one loses the flag, the other gains it).
func (a *applier) firstOrders() {
	earlier := func(m map[int64]firstOrder, c int64, id string, ts int64) {
		f, ok := m[c]
		if !ok || OrderBefore(ts, id, f.ts, f.id) {
			m[c] = firstOrder{id, ts}
		}
	}
	preFirst := map[int64]firstOrder{}
	a.postFirst = map[int64]firstOrder{}
	postAffected := map[int64]bool{}
	for c := range a.affected {
		postAffected[a.final(c)] = true
	}
	for id, p := range a.pre {
		if a.affected[p.cid] {
			earlier(preFirst, p.cid, id, p.ts)
		}
	}
	for id := range a.pre {
		if c, ts, _ := a.post(id); postAffected[c] {
			earlier(a.postFirst, c, id, ts)
		}
	}
	for id, o := range a.applied {
		if _, ok := a.pre[id]; !ok && postAffected[o.Customer] {
			earlier(a.postFirst, o.Customer, id, o.TS)
		}
	}
	a.flagged = map[string]bool{}
	for _, f := range preFirst {
		a.flagged[f.id] = true
	}
	for _, f := range a.postFirst {
		a.flagged[f.id] = true
	}
}

// wantRows marks the rows every edit reaches.
func (a *applier) wantRows(ctx context.Context, ch Change) error {
	if err := a.wantMerged(ctx); err != nil {
		return err
	}
	for _, t := range ch.Touches {
		if t.Name != OrderCompleted {
			a.want(t.Customer, t.TS)
		}
	}
	for id, o := range a.applied {
		if p, ok := a.pre[id]; ok {
			a.want(a.final(p.cid), p.ts)
		}
		a.want(o.Customer, o.TS)
	}
	for id := range a.jobRef {
		if c, ts, ok := a.post(id); ok {
			a.want(c, ts)
		}
	}
	for id := range a.flagged {
		if c, ts, ok := a.post(id); ok {
			a.want(c, ts)
		}
	}
	return nil
}

// wantMerged marks the rows of merged customers' touches and orders, and the rows of
// their survivors on the same days.
func (a *applier) wantMerged(ctx context.Context) error {
	var movedCIDs []int64
	for b := range a.moved {
		movedCIDs = append(movedCIDs, b)
	}
	if len(movedCIDs) == 0 {
		return nil
	}
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
	for _, p := range a.pre {
		if _, ok := a.moved[p.cid]; ok {
			a.want(p.cid, p.ts)
			a.want(a.final(p.cid), p.ts)
		}
	}
	return nil
}

// moveMerged moves merged customers' entries to their survivor.
func (a *applier) moveMerged() {
	if len(a.moved) == 0 {
		return
	}
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

// putOrders replaces or adds the orders the batch writes, with their order event's campaign.
func (a *applier) putOrders(ch Change) error {
	campaign := map[int64]string{}
	for _, t := range ch.Touches {
		if t.Name == OrderCompleted {
			campaign[t.Seq] = t.Campaign
		}
	}
	appliedIDs := make([]string, 0, len(a.applied))
	for id := range a.applied {
		appliedIDs = append(appliedIDs, id)
	}
	slices.Sort(appliedIDs)
	for _, id := range appliedIDs {
		o := a.applied[id]
		if p, ok := a.pre[id]; ok {
			if !a.removeOrder(a.final(p.cid), p.ts, id) {
				return fmt.Errorf("%w: order %q missing", ErrInconsistent, id)
			}
		}
		l := a.row(o.Customer, o.TS)
		l.row.Orders = append(l.row.Orders, Order{Customer: o.Customer, TS: o.TS, ID: id, Revenue: o.Revenue,
			Currency: a.strs.str(o.Currency), Channel: a.strs.str(o.Channel), Campaign: a.strs.str(campaign[o.Seq])})
	}
	return nil
}

// addTouches adds the batch's touches (order events are the orders, not touches).
func (a *applier) addTouches(ch Change) {
	for _, t := range ch.Touches {
		if t.Name != OrderCompleted {
			l := a.row(t.Customer, t.TS)
			t.Name, t.Channel, t.Campaign = a.strs.str(t.Name), a.strs.str(t.Channel), a.strs.str(t.Campaign)
			l.row.Touches = append(l.row.Touches, t)
		}
	}
}

// putRefunds sets the refunded amount of the orders the batch refunds or replaces, from
// their stored refunds and the batch's.
func (a *applier) putRefunds(ctx context.Context) error {
	refIDs := make([]string, 0, len(a.jobRef)+len(a.applied))
	for id := range a.jobRef {
		refIDs = append(refIDs, id)
	}
	for id := range a.applied {
		if _, ok := a.jobRef[id]; !ok {
			refIDs = append(refIDs, id)
		}
	}
	if len(refIDs) == 0 {
		return nil
	}
	stored, err := a.readRefunds(ctx, refIDs)
	if err != nil {
		return err
	}
	for _, id := range refIDs {
		c, ts, ok := a.post(id)
		if !ok {
			continue // refunded before the order arrived: its entry is made with it
		}
		o := a.findOrder(c, ts, id)
		if o == nil {
			return fmt.Errorf("%w: refunded order %q missing", ErrInconsistent, id)
		}
		o.Refunded = Refunded(o.Revenue, o.Currency, append(stored[id], a.jobRef[id]...))
	}
	return nil
}

// readRefunds reads the stored refunds of orders ids.
func (a *applier) readRefunds(ctx context.Context, ids []string) (map[string][]RefundWrite, error) {
	stored := map[string][]RefundWrite{}
	in, arg := store.InText(a.tx.Dialect, "order_id", ids)
	rows, err := a.tx.Query(ctx, `SELECT order_id, amount_minor, currency, full_refund FROM refunds WHERE `+in, arg)
	if err != nil {
		return nil, fmt.Errorf("paths: read refunds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var r RefundWrite
		var full int
		if err := rows.Scan(&id, &r.Amount, &r.Currency, &full); err != nil {
			return nil, fmt.Errorf("paths: read refunds: %w", err)
		}
		r.Full = full != 0
		stored[id] = append(stored[id], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("paths: read refunds: %w", err)
	}
	return stored, nil
}

// flagFirstOrders sets the first-order flag of the flagged orders.
func (a *applier) flagFirstOrders() error {
	for id := range a.flagged {
		c, ts, ok := a.post(id)
		if !ok {
			continue
		}
		o := a.findOrder(c, ts, id)
		if o == nil {
			return fmt.Errorf("%w: order %q missing", ErrInconsistent, id)
		}
		o.First = a.postFirst[c].id == id
	}
	return nil
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
			k := rowKey{block, day}
			r, ok := a.cache.take(k, data)
			if !ok {
				r, err = decodeRow(block, day, data, a.strs)
				if err != nil {
					rows.Close()
					return errors.Join(ErrInconsistent, err)
				}
			}
			l := a.rows[k]
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
	var keep map[rowKey]cachedRow
	if a.cache != nil {
		keep = make(map[rowKey]cachedRow, len(a.rows))
		for k, l := range a.rows {
			if !l.touched && l.old != nil {
				keep[k] = cachedRow{l.old, l.row}
			}
		}
	}
	for _, k := range keys {
		l := a.rows[k]
		data, err := writeRow(ctx, a.tx, &l.row, l.old)
		if err != nil {
			return err
		}
		if keep != nil && data != nil {
			keep[k] = cachedRow{data, l.row}
		}
	}
	a.cache.replace(keep)
	return nil
}
