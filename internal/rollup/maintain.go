package rollup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
)

// Batch is what one batch of the event processor writes, as the rollup needs it.
type Batch struct {
	Touches []Event // the batch's new activity rows (order events included): seq, final customer id and time
	Orders  []Event // the orders it upserts: ID, final customer and event time
	// RefundOrders are the order ids of the refunds it adds.
	RefundOrders []string
	// Moves are customers of earlier batches merged into another: {merged, survivor}.
	Moves [][2]int64
	// Cache, when set, holds the session events of customers and days earlier batches
	// touched (see SessionCache); nil reads them from the table every batch.
	Cache *SessionCache
}

// Event is one row a batch writes: its customer and time (ms), the order id of an order
// and the seq of an activity row.
type Event struct {
	ID       string
	Seq      int64
	Customer int64
	TS       int64
	// Name, Channel and Campaign of an activity row (for SessionCache).
	Name, Channel, Campaign string
}

// Pending is a batch's rollup update between Begin and Commit.
type Pending struct {
	loc     *time.Location
	rebuild bool
	sess    scope // after the batch: the customers and days whose sessions can change
	ord     scope // and those whose orders can
	before  map[Key]Counts
	// fresh are the customers and days of sess no one was merged into, and added the
	// seqs of the batch's activity rows: their activity before the batch is the activity
	// after it without those rows, so Commit counts their sessions before and after from
	// one read (Begin computes the rest of before).
	fresh scope
	added map[int64]bool

	cache   *SessionCache
	touches []Event              // the batch's activity rows
	merging scope                // customers someone was merged into, and their days
	update  map[[2]int64][]touch // the cache's entries after the batch
}

// Begin prepares the rollup update of batch b. The processor calls it inside its write
// transaction before it writes the batch's rows (it reads the state before the batch),
// and Commit after.
//
// Sessions can change on the customer and day of every new activity row, and on every
// activity day of a customer merged into another (for the survivor too). Orders can
// change on the day of every order written, every order day of a customer whose orders
// change (an order added, re-sent to another customer, or a merge: the first purchase
// may move), and the day of an order a refund is added to. Those contributions are
// computed now and again in Commit, and the difference is added to the rows.
func Begin(ctx context.Context, tx *store.Tx, loc *time.Location, b Batch) (*Pending, error) {
	var tz string
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(value), '') FROM settings WHERE key = ?`, TimeZoneSetting).Scan(&tz); err != nil {
		return nil, fmt.Errorf("daily rollups: %w", err)
	}
	if tz != loc.String() {
		b.Cache.Reset()
		return &Pending{loc: loc, rebuild: true}, nil
	}
	b.Cache.begin(loc, b.Moves)
	p := &Pending{loc: loc, cache: b.Cache, touches: b.Touches}
	if len(b.Touches) == 0 && len(b.Orders) == 0 && len(b.RefundOrders) == 0 && len(b.Moves) == 0 {
		return p, nil
	}
	moved := map[int64]int64{}
	merged := map[int64][]int64{} // survivor → customers merged into it
	for _, m := range b.Moves {
		moved[m[0]] = m[1]
		merged[m[1]] = append(merged[m[1]], m[0])
	}
	final := func(c int64) int64 {
		if s, ok := moved[c]; ok {
			return s
		}
		return c
	}
	day := func(ts int64) int64 { return commerce.LocalDay(time.UnixMilli(ts), loc) }
	// A customer's sessions of a day change with their activity of that day; their orders'
	// figures and first purchase with their orders and refunds. Both change on a merge.
	sess, ord := scope{}, scope{}
	for _, t := range b.Touches {
		sess.add(t.Customer, day(t.TS))
	}
	written := map[string]bool{}
	affected := map[int64]bool{}
	ids := slices.Clone(b.RefundOrders)
	for _, o := range b.Orders {
		ord.add(o.Customer, day(o.TS))
		written[o.ID] = true
		affected[o.Customer] = true
		ids = append(ids, o.ID)
	}
	for _, m := range b.Moves {
		affected[m[0]], affected[m[1]] = true, true
	}
	if len(ids) > 0 {
		in, arg := store.InText(tx.Dialect, "order_id", ids)
		if err := scanTimes(ctx, tx, `SELECT customer_id, ts, order_id FROM orders WHERE `+in, arg, func(c, ts int64, id string) {
			ord.add(final(c), day(ts))
			if written[id] {
				affected[c] = true // the order may change hands
			}
		}); err != nil {
			return nil, err
		}
	}
	if len(affected) > 0 {
		cs := make([]int64, 0, len(affected))
		for c := range affected {
			cs = append(cs, c)
		}
		in, arg := store.InInt64(tx.Dialect, "customer_id", cs)
		if err := scanTimes(ctx, tx, `SELECT customer_id, ts, order_id FROM orders WHERE `+in, arg, func(c, ts int64, _ string) {
			ord.add(final(c), day(ts))
		}); err != nil {
			return nil, err
		}
	}
	if len(moved) > 0 {
		ms := make([]int64, 0, len(moved))
		for m := range moved {
			ms = append(ms, m)
		}
		in, arg := store.InInt64(tx.Dialect, "customer_id", ms)
		if err := scanTimes(ctx, tx, `SELECT customer_id, ts, '' FROM activity WHERE `+in, arg, func(c, ts int64, _ string) {
			sess.add(final(c), day(ts))
		}); err != nil {
			return nil, err
		}
	}
	// Before the batch, the same days of the customers merged into each.
	preimage := func(post scope) scope {
		pre := scope{}
		for c, days := range post {
			for d := range days {
				pre.add(c, d)
				for _, m := range merged[c] {
					pre.add(m, d)
				}
			}
		}
		return pre
	}
	// The activity of a customer no one was merged into changes only by the batch's new
	// rows (writeBatch moves existing rows only on a merge): its sessions before the batch
	// are counted in Commit from the same read as after, passing over those rows. The
	// survivors' sessions before are read now, with those of the customers merged into them.
	fresh, merging := scope{}, scope{}
	for c, days := range sess {
		if len(merged[c]) > 0 {
			merging[c] = days
		} else {
			fresh[c] = days
		}
	}
	added := make(map[int64]bool, len(b.Touches))
	for _, t := range b.Touches {
		added[t.Seq] = true
	}
	before, err := contributionSplit(ctx, tx, tx.Dialect, preimage(merging), preimage(ord), loc)
	if err != nil {
		return nil, err
	}
	p.sess, p.ord, p.before, p.fresh, p.added, p.merging = sess, ord, before, fresh, added, merging
	return p, nil
}

func scanTimes(ctx context.Context, tx *store.Tx, q string, arg any, fn func(c, ts int64, id string)) error {
	rows, err := tx.Query(ctx, q, arg)
	if err != nil {
		return fmt.Errorf("daily rollups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, ts int64
		var id string
		if err := rows.Scan(&c, &ts, &id); err != nil {
			return fmt.Errorf("daily rollups: %w", err)
		}
		fn(c, ts, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("daily rollups: %w", err)
	}
	return nil
}

// Commit finishes the update Begin prepared, after the batch's rows are written: the
// contribution of the same customers and days is computed again and the difference
// added to the rows. When the table was counted in another time zone (or never: a store
// from before it), it rebuilds the whole table instead.
func (p *Pending) Commit(ctx context.Context, tx *store.Tx) error {
	if p.rebuild {
		return Rebuild(ctx, tx, p.loc)
	}
	if p.sess == nil {
		return nil
	}
	after, err := p.sessionsBeforeAfter(ctx, tx)
	if err != nil {
		return err
	}
	for k, c := range p.before {
		x := after[k]
		x.sub(c)
		after[k] = x
	}
	return addRows(ctx, tx, Rows(after))
}

// sessionsBeforeAfter reads the activity of p.sess once, after the batch, and returns
// the contribution of p.sess and p.ord after the batch; the sessions of p.fresh without
// the batch's rows (p.added) are added to p.before from the same read.
func (p *Pending) sessionsBeforeAfter(ctx context.Context, tx *store.Tx) (map[Key]Counts, error) {
	out := map[Key]Counts{}
	timeout := pathstore.DefaultVisitTimeout.Milliseconds()
	// The customers and days the cache holds are counted from it; the rest are read.
	read, cached, groups := p.fromCache(p.cache, p.touches)
	freshRead := func(c, d int64) bool { return p.fresh.has(c, d) && read.has(c, d) }
	after := &sessionCounter{in: read.has, loc: p.loc, out: out, timeout: timeout}
	counters := []*sessionCounter{after}
	if len(p.fresh) > 0 { // a nil scope would be every customer (an erasure has none)
		counters = append(counters, &sessionCounter{in: freshRead, loc: p.loc, out: p.before, timeout: timeout, skip: p.added})
	}
	if p.cache != nil && len(read) > 0 {
		for c, days := range read {
			for d := range days {
				p.update[[2]int64{c, d}] = []touch{}
			}
		}
		counters = append(counters, &sessionCounter{in: read.has, loc: p.loc, keep: func(day int64, t *touch) {
			k := [2]int64{t.cust, day}
			p.update[k] = append(p.update[k], *t)
		}})
	}
	orders, refunds, err := load(ctx, tx, tx.Dialect, read, p.ord, nil, counters...)
	if err != nil {
		return nil, err
	}
	if len(groups) > 0 {
		ca := &sessionCounter{in: cached.has, loc: p.loc, out: out, timeout: timeout}
		cf := &sessionCounter{in: func(c, d int64) bool { return p.fresh.has(c, d) && cached.has(c, d) }, loc: p.loc, out: p.before, timeout: timeout, skip: p.added}
		for _, g := range groups { // one customer and day each: the counters start afresh
			if len(g) == 0 {
				continue
			}
			// Every event of g is of the same customer and business day, which the cache
			// holds: the scope is decided once for the group, not per event.
			day := commerce.LocalDay(time.UnixMilli(g[0].ts), p.loc)
			fresh := p.fresh.has(g[0].cust, day)
			for i := range g {
				ca.count(&g[i], day)
				if fresh {
					cf.count(&g[i], day)
				}
			}
		}
	}
	ordersInto(orders, refunds, p.ord.has, p.loc, out)
	return out, nil
}

var rollupCols = []string{"day bigint", "channel text", "campaign text", "location text", "currency text",
	"sessions bigint", "orders bigint", "revenue_minor bigint", "refunds_minor bigint", "new_customers bigint"}

const insertCols = `day, channel, campaign, location, currency, sessions, orders, revenue_minor, refunds_minor, new_customers`

// addRows adds the figures of rows to the table (a row not there yet is inserted) and
// deletes the rows of their days that end with nothing, 2,000 rows per statement.
func addRows(ctx context.Context, tx *store.Tx, rows []Row) error {
	return writeRows(ctx, tx, rows, ` ON CONFLICT (day, channel, campaign, location, currency) DO UPDATE SET
		sessions = daily_rollups.sessions + excluded.sessions, orders = daily_rollups.orders + excluded.orders,
		revenue_minor = daily_rollups.revenue_minor + excluded.revenue_minor, refunds_minor = daily_rollups.refunds_minor + excluded.refunds_minor,
		new_customers = daily_rollups.new_customers + excluded.new_customers`, true)
}

func writeRows(ctx context.Context, tx *store.Tx, rows []Row, conflict string, prune bool) error {
	for start := 0; start < len(rows); start += 2000 {
		part := rows[start:min(start+2000, len(rows))]
		rs := store.NewRowSet(tx.Dialect, rollupCols...)
		var days []int64
		for _, r := range part {
			rs.Add(r.Day, r.Channel, r.Campaign, r.Location, r.Currency, r.Sessions, r.Orders, r.RevenueMinor, r.RefundsMinor, r.NewCustomers)
			days = append(days, r.Day)
		}
		from, args := rs.Table("v")
		// WHERE 1 = 1: SQLite reads ON CONFLICT after a bare FROM as a join's ON.
		if _, err := tx.Exec(ctx, `INSERT INTO daily_rollups (`+insertCols+`) SELECT v.day, v.channel, v.campaign, v.location, v.currency,
			v.sessions, v.orders, v.revenue_minor, v.refunds_minor, v.new_customers FROM `+from+` WHERE 1 = 1`+conflict, args...); err != nil {
			return fmt.Errorf("daily rollups: write: %w", err)
		}
		if !prune {
			continue
		}
		slices.Sort(days)
		in, arg := store.InInt64(tx.Dialect, "day", slices.Compact(days))
		if _, err := tx.Exec(ctx, `DELETE FROM daily_rollups WHERE `+in+` AND sessions = 0 AND orders = 0 AND revenue_minor = 0 AND refunds_minor = 0 AND new_customers = 0`, arg); err != nil {
			return fmt.Errorf("daily rollups: write: %w", err)
		}
	}
	return nil
}

// Rebuild computes the whole table again inside tx from the processor's tables, counting
// days in loc, and records loc as its time zone.
func Rebuild(ctx context.Context, tx *store.Tx, loc *time.Location) error {
	if _, err := tx.Exec(ctx, `DELETE FROM daily_rollups`); err != nil {
		return fmt.Errorf("daily rollups: %w", err)
	}
	m, err := contribution(ctx, tx, tx.Dialect, nil, loc)
	if err != nil {
		return err
	}
	return Replace(ctx, tx, Rows(m), loc)
}

// Replace makes rows (Compute's, counted in loc) the whole table inside tx and records
// loc as its time zone. The caller guarantees that the processor's tables did not change
// since rows were computed (the processor builds the table before its first batch).
func Replace(ctx context.Context, tx *store.Tx, rows []Row, loc *time.Location) error {
	if _, err := tx.Exec(ctx, `DELETE FROM daily_rollups`); err != nil {
		return fmt.Errorf("daily rollups: %w", err)
	}
	if err := writeRows(ctx, tx, rows, "", false); err != nil {
		return err
	}
	return store.SetSetting(ctx, tx, TimeZoneSetting, loc.String())
}

// Current reports whether daily_rollups counts its days in loc, i.e. the processor keeps
// it for the business time zone.
func Current(ctx context.Context, db *store.DB, loc *time.Location) (bool, error) {
	tz, ok, err := db.Setting(ctx, TimeZoneSetting)
	if err != nil {
		return false, err
	}
	return ok && tz == loc.String(), nil
}

// BeginErase prepares the rollup update of an erasure (internal/privacy): the customers'
// activity, orders and refunds are about to be deleted. Their contribution, and that of
// the orders of other customers they refunded, is computed now; Commit, after the rows
// are deleted, takes it out of the rows. A table that is not kept is left alone.
func BeginErase(ctx context.Context, tx *store.Tx, customers []int64) (*Pending, error) {
	var tz string
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(value), '') FROM settings WHERE key = ?`, TimeZoneSetting).Scan(&tz); err != nil {
		return nil, fmt.Errorf("daily rollups: %w", err)
	}
	if tz == "" || len(customers) == 0 {
		return &Pending{}, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("daily rollups: %w", err)
	}
	s := scope{}
	add := func(c, ts int64, _ string) { s.add(c, commerce.LocalDay(time.UnixMilli(ts), loc)) }
	in, arg := store.InInt64(tx.Dialect, "customer_id", customers)
	rin, _ := store.InInt64(tx.Dialect, "r.customer_id", nil)
	for _, q := range []string{
		`SELECT customer_id, ts, '' FROM activity WHERE ` + in,
		`SELECT customer_id, ts, '' FROM orders WHERE ` + in,
		`SELECT o.customer_id, o.ts, '' FROM refunds r JOIN orders o ON o.order_id = r.order_id WHERE ` + rin,
	} {
		if err := scanTimes(ctx, tx, q, arg, add); err != nil {
			return nil, err
		}
	}
	before, err := contribution(ctx, tx, tx.Dialect, s, loc)
	if err != nil {
		return nil, err
	}
	return &Pending{loc: loc, sess: s, ord: s, before: before}, nil
}
