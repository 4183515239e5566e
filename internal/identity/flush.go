package identity

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/store"
)

// rowsPerStmt is how many rows one prepared multi-row INSERT carries: many rows per
// statement is what makes SQLite fast, and preparing one fixed-size statement per batch
// avoids re-parsing a huge statement for every chunk.
const rowsPerStmt = 256

// writer writes rows with multi-row INSERTs prepared once per transaction.
type writer struct {
	ctx   context.Context
	tx    *store.Tx
	stmts map[string]*sql.Stmt
}

func (w *writer) close() {
	for _, s := range w.stmts {
		s.Close()
	}
}

func insertSQL(d store.Dialect, head, tail string, cols, rows int) string {
	var b strings.Builder
	if d == store.SQLite {
		// OR FAIL: a failed statement keeps its earlier rows instead of undoing them, and the
		// whole transaction is rolled back on any error anyway. Without it, SQLite copies
		// every page a multi-row statement touches into a statement journal first.
		head = strings.Replace(head, "INSERT INTO", "INSERT OR FAIL INTO", 1)
	}
	b.WriteString(head)
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	b.WriteByte(' ')
	b.WriteString(tail)
	return store.Rebind(d, b.String())
}

// insert writes the rows in args (cols values per row): head is "INSERT INTO t (a,b) VALUES",
// tail an optional ON CONFLICT clause (or "UPDATE ... FROM (VALUES" and ") AS v WHERE ...").
// It returns the number of rows changed.
func (w *writer) insert(head, tail string, cols int, args []any) (int64, error) {
	var affected int64
	count := func(r sql.Result) {
		if k, err := r.RowsAffected(); err == nil {
			affected += k
		}
	}
	n := len(args) / cols
	full := n / rowsPerStmt * rowsPerStmt
	if full > 0 {
		st, ok := w.stmts[head]
		if !ok {
			var err error
			st, err = w.tx.Tx.PrepareContext(w.ctx, insertSQL(w.tx.Dialect, head, tail, cols, rowsPerStmt))
			if err != nil {
				return 0, err
			}
			w.stmts[head] = st
		}
		for i := 0; i < full; i += rowsPerStmt {
			r, err := st.ExecContext(w.ctx, args[i*cols:(i+rowsPerStmt)*cols]...)
			if err != nil {
				return 0, err
			}
			count(r)
		}
	}
	if n > full {
		r, err := w.tx.Tx.ExecContext(w.ctx, insertSQL(w.tx.Dialect, head, tail, cols, n-full), args[full*cols:]...)
		if err != nil {
			return 0, err
		}
		count(r)
	}
	return affected, nil
}

// job is one batch turned into plain rows, ready for the writer goroutine: building it
// reads the in-memory graph, writing it does not, so the next batch can be applied while
// this one is written.
type job struct {
	from, start, cursor       int64
	moves                     [][2]int64 // pre-existing customer → survivor
	merges, ids, custs        []any
	oldIDs                    []any // identities already in the database: kind, value, customer_id, user_ids, shared
	oldCusts                  []any // customers already in the database whose traits changed
	counters                  []any // customers whose traits did not change: id, first, last, events
	activity, orders, refunds []any
	conflicts                 []any
	groups, members           []any // trust.go
	consent                   []any // customer_consent rows (privacy_consent.go)
	unidentified, badOrders   int64
	notes                     []store.Rejection
}

// build turns batch b (events up to seq cursor) into a job.
func (p *Processor) build(b *batch, from, cursor int64) *job {
	j := &job{from: from, start: b.start, cursor: cursor,
		unidentified: p.unidentified + b.unidentified, badOrders: p.badOrders + b.badOrders, notes: b.notes}
	for _, m := range b.merges {
		j.merges = append(j.merges, m.seq, m.ts, b.final(m.survivor), m.merged, m.via.kind, m.via.value)
		if m.merged <= b.start { // created in an earlier batch: its rows are in the database
			j.moves = append(j.moves, [2]int64{m.merged, b.final(m.merged)})
		}
	}
	// On SQLite, rows known to exist are updated with UPDATE OR FAIL rather than upserted:
	// an upsert's DO UPDATE always needs a statement journal (a copy of every page it
	// touches), which cost ~10% of the writer. PostgreSQL keeps the upserts.
	split := p.db.Dialect == store.SQLite
	j.ids = make([]any, 0, len(b.dirtyIDs)*7)
	for _, k := range b.dirtyIDs {
		id := p.g.ids[k]
		id.dirty = false
		shared := 0
		if id.shared {
			shared = 1
		}
		if split && id.seq <= b.start { // introduced by an earlier batch: the row exists
			j.oldIDs = append(j.oldIDs, k.kind, k.value, id.cust, strings.Join(id.userIDs, "\n"), shared)
			continue
		}
		j.ids = append(j.ids, k.kind, k.value, id.cust, id.firstSeen, id.seq, strings.Join(id.userIDs, "\n"), shared)
	}
	for _, c := range b.dirtyCusts {
		c.dirty = false
		if p.g.custs[c.id] != c {
			continue // merged away in this batch
		}
		switch {
		case c.id > b.start || !split && c.traitsDirty:
			j.custs = append(j.custs, c.id, c.first, c.last, c.userID, c.email, c.phone, c.name, c.traitsJSON(), c.events)
			c.traitsDirty = false
		case c.traitsDirty:
			j.oldCusts = append(j.oldCusts, c.id, c.first, c.last, c.userID, c.email, c.phone, c.name, c.traitsJSON(), c.events)
			c.traitsDirty = false
		default: // traits unchanged
			j.counters = append(j.counters, c.id, c.first, c.last, c.events)
		}
	}
	j.activity = make([]any, 0, len(b.activity)*10)
	for _, a := range b.activity {
		j.activity = append(j.activity, a.seq, b.final(a.cust), a.ts, a.typ, a.name, a.res.Channel, a.res.Campaign, a.res.Source, a.res.Medium, a.sourceID)
	}
	for _, k := range b.orderKeys {
		o := b.orders[k]
		j.orders = append(j.orders, o.OrderID, b.final(o.CustomerID), o.Time.UnixMilli(), o.RevenueMinor, o.Currency, o.Location, o.Channel, string(o.Items), o.SourceID, o.Seq)
	}
	for _, r := range b.refunds {
		full := 0
		if r.Full {
			full = 1
		}
		j.refunds = append(j.refunds, r.Seq, r.OrderID, b.final(r.CustomerID), r.Time.UnixMilli(), r.AmountMinor, r.Currency, full)
	}
	for _, c := range b.conflicts {
		j.conflicts = append(j.conflicts, c.seq, c.ts, c.key.kind, c.key.value, b.final(c.cust), b.final(c.other), c.userID, c.otherUserID, c.reason)
	}
	p.buildGroups(b, j)
	p.buildConsent(b, j)
	return j
}

// write stores job j and the new cursor in tx.
func (p *Processor) write(ctx context.Context, tx *store.Tx, j *job) error {
	// The lease holder is the only writer; check we still are, and that nobody moved the
	// cursor under us, in the same transaction that writes.
	var owner string
	var expires int64
	if err := tx.QueryRow(ctx, `SELECT owner, expires_at FROM leases WHERE name = ?`, LeaseName).Scan(&owner, &expires); err != nil || owner != p.opt.Owner {
		return errLeaseLost
	}
	var cur string
	err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, CursorSetting).Scan(&cur)
	if err == nil && cur != strconv.FormatInt(j.start, 10) || err != nil && j.start != 0 {
		return fmt.Errorf("processor cursor moved to %s under us (another processor?): %w", cur, errLeaseLost)
	}
	if err := p.checkEpoch(ctx, tx); err != nil {
		return err
	}
	if err := p.writePaths(ctx, tx, j); err != nil { // paths_hook.go
		return err
	}

	w := &writer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer w.close()
	// Merged customers' rows move to the survivor, up to 200 customers per statement.
	for start := 0; start < len(j.moves); start += 200 {
		moves := j.moves[start:min(start+200, len(j.moves))]
		var cases, in strings.Builder
		args := make([]any, 0, len(moves)*3)
		for i, m := range moves {
			cases.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
			args = append(args, m[0], m[1])
			if i > 0 {
				in.WriteByte(',')
			}
			in.WriteByte('?')
		}
		for _, m := range moves {
			args = append(args, m[0])
		}
		for _, tc := range [][2]string{
			{"identities", "customer_id"}, {"activity", "customer_id"}, {"orders", "customer_id"}, {"refunds", "customer_id"},
			{"identity_conflicts", "customer_id"}, {"identity_conflicts", "other_id"}, {"customer_merges", "survivor_id"},
		} {
			q := "UPDATE " + tc[0] + " SET " + tc[1] + " = CASE " + tc[1] + cases.String() + " END WHERE " + tc[1] + " IN (" + in.String() + ")"
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				return fmt.Errorf("merge customers: move %s: %w", tc[0], err)
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM customers WHERE id IN ("+in.String()+")", args[len(moves)*2:]...); err != nil {
			return fmt.Errorf("merge customers: %w", err)
		}
		if err := moveGroupMembers(ctx, tx, cases.String(), in.String(), args, len(moves)); err != nil {
			return err
		}
	}
	type rows struct {
		what, head, tail string
		cols             int
		rows             []any
	}
	counters := rows{"customers", `INSERT INTO customers (id, first_seen, last_seen, events) VALUES`,
		`ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, events = excluded.events`, 4, j.counters}
	idTail := `ON CONFLICT (kind, value) DO UPDATE SET customer_id = excluded.customer_id, user_ids = excluded.user_ids, shared = excluded.shared`
	custTail := `ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, user_id = excluded.user_id,
			email = excluded.email, phone = excluded.phone, name = excluded.name, traits = excluded.traits, events = excluded.events`
	if tx.Dialect == store.SQLite {
		// build sent only new identities and customers to the INSERTs: no upsert, so no
		// statement journal; a duplicate would be a bug and fails the batch.
		idTail, custTail = "", ""
		counters = rows{"customers", `UPDATE OR FAIL customers SET first_seen = v.column2, last_seen = v.column3, events = v.column4 FROM (VALUES`,
			`) AS v WHERE customers.id = v.column1`, 4, j.counters}
	}
	for _, t := range []rows{
		{"merge log", `INSERT INTO customer_merges (seq, ts, survivor_id, merged_id, kind, value) VALUES`, "", 6, j.merges},
		{"identities", `INSERT INTO identities (kind, value, customer_id, first_seen, seq, user_ids, shared) VALUES`, idTail, 7, j.ids},
		{"customers", `INSERT INTO customers (id, first_seen, last_seen, user_id, email, phone, name, traits, events) VALUES`, custTail, 9, j.custs},
		// Only ever updates (the customer exists): the cheap path for a returning visitor.
		counters,
		// SQLite only (see build): rows that exist, updated in place.
		{"identities", `UPDATE OR FAIL identities SET customer_id = v.column3, user_ids = v.column4, shared = v.column5 FROM (VALUES`,
			`) AS v WHERE identities.kind = v.column1 AND identities.value = v.column2`, 5, j.oldIDs},
		{"customers", `UPDATE OR FAIL customers SET first_seen = v.column2, last_seen = v.column3, user_id = v.column4, email = v.column5,
			phone = v.column6, name = v.column7, traits = v.column8, events = v.column9 FROM (VALUES`,
			`) AS v WHERE customers.id = v.column1`, 9, j.oldCusts},
		{"activity", `INSERT INTO activity (seq, customer_id, ts, type, name, channel, campaign, source, medium, source_id) VALUES`, "", 10, j.activity},
		// The same order_id again: the later event by event time wins, whatever the arrival order.
		{"orders", `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, items, source_id, seq) VALUES`,
			`ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, ts = excluded.ts, revenue_minor = excluded.revenue_minor,
			currency = excluded.currency, location = excluded.location, channel = excluded.channel, items = excluded.items,
			source_id = excluded.source_id, seq = excluded.seq
			WHERE excluded.ts > orders.ts OR (excluded.ts = orders.ts AND excluded.seq > orders.seq)`, 10, j.orders},
		{"refunds", `INSERT INTO refunds (seq, order_id, customer_id, ts, amount_minor, currency, full_refund) VALUES`, "", 7, j.refunds},
		{"identity conflicts", `INSERT INTO identity_conflicts (seq, ts, kind, value, customer_id, other_id, user_id, other_user_id, reason) VALUES`, "", 9, j.conflicts},
		{"groups", `INSERT INTO groups (group_id, name, traits, first_seen, last_seen) VALUES`,
			`ON CONFLICT (group_id) DO UPDATE SET name = excluded.name, traits = excluded.traits, first_seen = excluded.first_seen, last_seen = excluded.last_seen`, 5, j.groups},
		{"group members", `INSERT INTO group_members (group_id, customer_id, first_seen, seq) VALUES`, earlierMember, 4, j.members},
	} {
		if len(t.rows) == 0 {
			continue
		}
		n, err := w.insert(t.head, t.tail, t.cols, t.rows)
		if err != nil {
			return fmt.Errorf("write %s: %w", t.what, err)
		}
		if strings.HasPrefix(t.head, "UPDATE") && n != int64(len(t.rows)/t.cols) {
			return fmt.Errorf("write %s: updated %d rows of %d: the in-memory graph and the database disagree", t.what, n, len(t.rows)/t.cols)
		}
	}
	if err := p.writeConsent(ctx, tx, w, j); err != nil {
		return err
	}
	if err := store.InsertRejections(ctx, tx, j.notes); err != nil {
		return err
	}
	for _, s := range []struct {
		k string
		v int64
	}{{CursorSetting, j.cursor}, {UnidentifiedSetting, j.unidentified}, {BadOrdersSetting, j.badOrders}} {
		if err := store.SetSetting(ctx, tx, s.k, strconv.FormatInt(s.v, 10)); err != nil {
			return err
		}
	}
	return nil
}
