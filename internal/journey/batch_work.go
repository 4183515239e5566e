package journey

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/omniroi/omniroi/internal/store"
)

// Set-at-a-time writes. A work keeps the final state of the runs, timers and sends it
// changed and writes them with a handful of statements (store.RowSet), instead of the
// ~20 statements per run that each cost a network round trip on PostgreSQL. Everything
// still happens in the caller's transaction, so durability is unchanged. Any statement
// through w.q that names a buffered table first writes the buffer (stmts.before), so
// conditions, caps and smart sends read what the engine just did.

type timerOp struct {
	set  bool // false: delete
	due  int64
	step int
}

type queuedSend struct {
	idem       string // random: what providers see
	dedupe     string // run × step × channel: once-only
	runID      int64
	journey    string
	customerID int64
	step       int
	channel    string
	purpose    string
	notBefore  int64
	createdAt  int64
	experiment string // the step's test, when the run is in it
	variant    string
}

// sendShape is one kind of journey_sends update by id. set names the row's columns as
// v.<col>, in the order of cols; the row's last column is the id.
type sendShape struct {
	set   string
	cols  []string
	where string
}

var sendShapes = map[string]sendShape{
	"suppress": {set: `status = 'suppressed', reason = v.reason, lease_until = 0`, cols: []string{"reason text"}},
	"hold":     {set: `status = 'pending', reason = v.reason, not_before = v.not_before, lease_until = 0`, cols: []string{"reason text", "not_before bigint"}},
	"fail":     {set: `status = 'failed', reason = v.reason`, cols: []string{"reason text"}},
	"profiled": {set: `status = 'sent', sent_at = v.sent_at`, cols: []string{"sent_at bigint"}},
	"claim":    {set: `status = 'sending', lease_until = v.lease_until, attempts = attempts + 1, sent_at = v.sent_at`, cols: []string{"lease_until bigint", "sent_at bigint"}},
	"sent":     {set: `status = 'sent', reason = '', lease_until = 0`, where: ` AND status = 'sending'`},
	"failed":   {set: `status = 'failed', reason = v.reason, lease_until = 0`, cols: []string{"reason text"}},
	"retry":    {set: `status = 'pending', reason = v.reason, not_before = v.not_before, lease_until = 0, sent_at = 0`, cols: []string{"reason text", "not_before bigint"}},
}

// rowRef is a v.<col> reference in an update's SET list.
var rowRef = regexp.MustCompile(`\bv\.[a-z_]+`)

// updateByID is "UPDATE table SET set WHERE id = <row id>" + where for each row of rs
// (columns in set's order, then id): on PostgreSQL one UPDATE ... FROM unnest, on
// SQLite the plain statement per row, which it runs 3x faster than a one-row FROM.
func updateByID(table, set, where string) (pg func(from string) string, sqlite string) {
	pg = func(from string) string {
		w := strings.ReplaceAll(where, " status ", " "+table+".status ")
		return `UPDATE ` + table + ` SET ` + set + ` FROM ` + from + ` WHERE ` + table + `.id = v.id` + w
	}
	return pg, `UPDATE ` + table + ` SET ` + rowRef.ReplaceAllString(set, "?") + ` WHERE id = ?` + where
}

// buffer is what a work has changed and not yet written.
type buffer struct {
	runs      map[int64]*run // by id: new runs and changed ones
	runOrder  []int64
	timers    map[int64]timerOp
	timerIDs  []int64
	sends     []queuedSend
	exited    []int64 // runs whose pending sends are suppressed
	sendUpd   map[string]*store.RowSet
	sendOrder []string
}

func (b *buffer) empty() bool {
	return len(b.runs) == 0 && len(b.timers) == 0 && len(b.sends) == 0 && len(b.exited) == 0 && len(b.sendUpd) == 0
}

// buffered tables: a statement naming one of them must see the buffer written.
var bufferedTables = []string{"journey_runs", "journey_timers", "journey_sends"}

func (w *work) before(ctx context.Context, q string) error {
	if w.buf.empty() {
		return nil
	}
	for _, t := range bufferedTables {
		if strings.Contains(q, t) {
			return w.flush(ctx)
		}
	}
	return nil
}

func (w *work) touch(r *run) {
	if w.buf.runs == nil {
		w.buf.runs = map[int64]*run{}
	}
	if _, ok := w.buf.runs[r.ID]; !ok {
		w.buf.runOrder = append(w.buf.runOrder, r.ID)
	}
	w.buf.runs[r.ID] = r
}

func (w *work) setTimer(runID int64, op timerOp) {
	if w.buf.timers == nil {
		w.buf.timers = map[int64]timerOp{}
	}
	if _, ok := w.buf.timers[runID]; !ok {
		w.buf.timerIDs = append(w.buf.timerIDs, runID)
	}
	w.buf.timers[runID] = op
}

// updateSend queues an update of send id; vals follow the shape's columns.
func (w *work) updateSend(shape string, id int64, vals ...any) {
	sh, ok := sendShapes[shape]
	if !ok {
		panic("journey: unknown send update " + shape)
	}
	if w.buf.sendUpd == nil {
		w.buf.sendUpd = map[string]*store.RowSet{}
	}
	rs := w.buf.sendUpd[shape]
	if rs == nil {
		rs = store.NewRowSet(w.tx.Dialect, append(append([]string{}, sh.cols...), "id bigint")...)
		w.buf.sendUpd[shape] = rs
		w.buf.sendOrder = append(w.buf.sendOrder, shape)
	}
	rs.Add(append(vals, id)...)
}

// flush writes the buffer. Each run, timer and send appears once with its final state,
// so the statements commute except where ordered below.
func (w *work) flush(ctx context.Context) error {
	if w.q.err != nil {
		return w.q.err
	}
	b := w.buf
	if b.empty() {
		return nil
	}
	w.buf = buffer{}
	d := w.tx.Dialect
	// Rows in id order: concurrent engines then lock shared rows in the same order.
	sort.Slice(b.runOrder, func(i, j int) bool { return b.runOrder[i] < b.runOrder[j] })
	sort.Slice(b.timerIDs, func(i, j int) bool { return b.timerIDs[i] < b.timerIDs[j] })
	// bulk runs one statement over rs: pg with the rows as a FROM item v, or sqlite
	// (placeholders in rs's column order) once per row.
	bulk := func(what string, rs *store.RowSet, pg func(from string) string, sqlite string) error {
		if rs.Len() == 0 {
			return nil
		}
		if d == store.Postgres {
			t, args := rs.Table("v")
			if _, err := w.q.exec(ctx, pg(t), args...); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		for _, row := range rs.Rows() {
			if _, err := w.q.exec(ctx, sqlite, row...); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	}
	// Timers before runs: an engine firing a timer holds its row (SKIP LOCKED claim) and
	// then updates the run; taking the timer first here waits for it instead of
	// holding the run it needs.
	if len(b.timers) > 0 {
		del := store.NewRowSet(d, "run_id bigint")
		set := store.NewRowSet(d, "run_id bigint", "due_at bigint", "step bigint")
		for _, id := range b.timerIDs {
			if op := b.timers[id]; op.set {
				set.Add(id, op.due, op.step)
			} else {
				del.Add(id)
			}
		}
		if err := bulk("delete timers", del, func(t string) string {
			return `DELETE FROM journey_timers WHERE run_id IN (SELECT v.run_id FROM ` + t + `)`
		}, `DELETE FROM journey_timers WHERE run_id = ?`); err != nil {
			return err
		}
		const upsert = ` ON CONFLICT (run_id) DO UPDATE SET due_at = excluded.due_at, step = excluded.step`
		if err := bulk("set timers", set, func(t string) string {
			return `INSERT INTO journey_timers (run_id, due_at, step) SELECT run_id, due_at, step FROM ` + t + upsert
		}, `INSERT INTO journey_timers (run_id, due_at, step) VALUES (?, ?, ?)`+upsert); err != nil {
			return err
		}
	}
	if len(b.runs) > 0 {
		const cols = `id, journey, version, customer_id, entry_key, status, step, holdout, entry_seq, entry_props, started_at, updated_at, ended_at, exit_reason`
		ins := store.NewRowSet(d, "id bigint", "journey text", "version bigint", "customer_id bigint", "entry_key text", "status text", "step bigint",
			"holdout bigint", "entry_seq bigint", "entry_props text", "started_at bigint", "updated_at bigint", "ended_at bigint", "exit_reason text")
		moved := store.NewRowSet(d, "step bigint", "updated_at bigint", "id bigint")
		ended := store.NewRowSet(d, "status text", "step bigint", "ended_at bigint", "updated_at bigint", "exit_reason text", "id bigint")
		for _, id := range b.runOrder {
			r := b.runs[id]
			switch {
			case r.isNew:
				h := 0
				if r.Holdout {
					h = 1
				}
				ins.Add(r.ID, r.Journey, r.Version, r.CustomerID, r.Key, r.status, r.Step, h, r.EntrySeq, string(r.Props), r.StartedAt, r.updatedAt, r.endedAt, r.reason)
				r.isNew = false
			case r.status == "active":
				moved.Add(r.Step, r.updatedAt, r.ID)
			default:
				ended.Add(r.status, r.Step, r.endedAt, r.updatedAt, r.reason, r.ID)
			}
		}
		if err := bulk("start runs", ins, func(t string) string {
			return `INSERT INTO journey_runs (` + cols + `) SELECT ` + cols + ` FROM ` + t
		}, `INSERT INTO journey_runs (`+cols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
			return err
		}
		pg, sqlite := updateByID("journey_runs", `step = v.step, updated_at = v.updated_at`, "")
		if err := bulk("move runs", moved, pg, sqlite); err != nil {
			return err
		}
		pg, sqlite = updateByID("journey_runs", `status = v.status, step = v.step, ended_at = v.ended_at, updated_at = v.updated_at, exit_reason = v.exit_reason`, "")
		if err := bulk("end runs", ended, pg, sqlite); err != nil {
			return err
		}
	}
	if len(b.sends) > 0 {
		rs := store.NewRowSet(d, "idem_key text", "dedupe_key text", "run_id bigint", "journey text", "customer_id bigint", "step bigint", "channel text", "purpose text", "not_before bigint", "created_at bigint", "experiment text", "variant text")
		for _, s := range b.sends {
			rs.Add(s.idem, s.dedupe, s.runID, s.journey, s.customerID, s.step, s.channel, s.purpose, s.notBefore, s.createdAt, s.experiment, s.variant)
		}
		const ins = `INSERT INTO journey_sends (idem_key, dedupe_key, run_id, journey, customer_id, step, channel, purpose, not_before, created_at, experiment, variant, status) `
		if err := bulk("queue sends", rs, func(t string) string {
			return ins + `SELECT idem_key, dedupe_key, run_id, journey, customer_id, step, channel, purpose, not_before, created_at, experiment, variant, 'pending' FROM ` + t + ` ON CONFLICT (dedupe_key) DO NOTHING`
		}, ins+`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (dedupe_key) DO NOTHING`); err != nil {
			return err
		}
	}
	// After the sends: a send queued and exited in the same batch is suppressed too.
	if len(b.exited) > 0 {
		rs := store.NewRowSet(d, "run_id bigint")
		for _, id := range b.exited {
			rs.Add(id)
		}
		const set = `UPDATE journey_sends SET status = 'suppressed', reason = 'exited' WHERE status = 'pending' AND run_id `
		if err := bulk("suppress sends of exited runs", rs, func(t string) string {
			return set + `IN (SELECT v.run_id FROM ` + t + `)`
		}, set+`= ?`); err != nil {
			return err
		}
	}
	for _, shape := range b.sendOrder {
		sh := sendShapes[shape]
		pg, sqlite := updateByID("journey_sends", sh.set, sh.where)
		if err := bulk("update sends ("+shape+")", b.sendUpd[shape], pg, sqlite); err != nil {
			return err
		}
	}
	return nil
}

// endScope writes the buffer and forgets what was read for it: caches live no longer
// than one batch, so the next one reads what other processes committed meanwhile.
func (w *work) endScope(ctx context.Context) error {
	err := w.flush(ctx)
	w.merges, w.open, w.stats, w.statsLoaded = nil, nil, nil, nil
	if w.tx.Dialect != store.Postgres {
		w.nextID = 0
	}
	return err
}

// newRunID reserves a journey_runs id, so a run can be referred to (timers, sends,
// idempotency keys) before its row is written. PostgreSQL draws from the table's
// sequence in blocks; SQLite, whose one writer holds the database, counts on from the
// largest id, which is what it would assign itself.
func (w *work) newRunID(ctx context.Context, hint int) (int64, error) {
	if w.tx.Dialect != store.Postgres {
		if w.nextID == 0 {
			var max int64
			if err := w.tx.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM journey_runs`).Scan(&max); err != nil {
				return 0, fmt.Errorf("run id: %w", err)
			}
			w.nextID = max + 1
		}
		w.nextID++
		return w.nextID - 1, nil
	}
	if len(w.idPool) == 0 {
		rows, err := w.tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('journey_runs', 'id')) FROM generate_series(1, ?)`, min(max(hint, 1), 10000))
		if err != nil {
			return 0, fmt.Errorf("run ids: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return 0, fmt.Errorf("run ids: %w", err)
			}
			w.idPool = append(w.idPool, id)
		}
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("run ids: %w", err)
		}
		if len(w.idPool) == 0 {
			return 0, fmt.Errorf("run ids: sequence returned nothing")
		}
	}
	id := w.idPool[0]
	w.idPool = w.idPool[1:]
	return id, nil
}

// sortedIDs returns the distinct keys of m in order.
func sortedIDs[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
