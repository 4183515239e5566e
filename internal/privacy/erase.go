package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
)

// EraseOptions say who erases and why. Reason is recorded in the audit log with the
// person's identifiers cut out of it.
type EraseOptions struct {
	Actor  string
	Reason string
}

// EraseReport says what an erasure removed, in counts: it holds no personal data and is
// what the audit log records.
type EraseReport struct {
	ErasureID  int64            `json:"erasure_id"`
	CustomerID int64            `json:"customer_id,omitempty"`
	Customers  []int64          `json:"customers"` // the customer and those merged into it
	Digest     string           `json:"digest"`
	Deleted    map[string]int64 `json:"deleted"`  // rows per table
	Redacted   map[string]int64 `json:"redacted"` // other people's rows with the person's values cut out
	Files      int              `json:"message_copies_deleted"`
	Suppressed int              `json:"identifiers_suppressed"`
	SharedKept int              `json:"shared_identifiers_kept,omitempty"`
	Compaction string           `json:"compaction"`
	Seconds    float64          `json:"seconds"`
	// Phases times the steps (find, delete, compact), in seconds.
	Phases map[string]float64 `json:"phases"`
}

// ErasureSource is the source of the marker event an erasure appends.
const ErasureSource = "privacy"

// Erase removes a person from the store (docs/privacy.md, "Erasure"):
//
//  1. their identifiers go on the suppression list (keyed hashes), so nothing new about
//     them gets in while the rest runs, or after;
//  2. their events (every joined identity) and rejected payloads naming them are deleted,
//     other people's events that mention them are redacted;
//  3. every derived row (customer, identities, touchpoints, orders, refunds, conflicts,
//     merges, consent, journey runs, timers, sends, decisions, channel consent, contact
//     suppressions, segment changes) is deleted, and other customers' traits that held
//     their values are cut; the dashboard's stored analyses are deleted, all of them;
//  4. the erasure is recorded in the audit log (customer id, counts, digest);
//  5. their message copies in DATA/outbox are deleted;
//  6. the bytes leave the database files: SQLite deletes with secure_delete, then VACUUM
//     and a WAL checkpoint(TRUNCATE); PostgreSQL VACUUMs the tables.
func Erase(ctx context.Context, db *store.DB, q Query, opt EraseOptions) (*EraseReport, error) {
	t0 := time.Now()
	s, err := Find(ctx, db, q)
	if err != nil {
		return nil, err
	}
	if opt.Actor == "" {
		opt.Actor = audit.ActorSystem
	}
	rep := &EraseReport{CustomerID: s.CustomerID, Customers: nonNil(s.Customers), Deleted: map[string]int64{}, Redacted: map[string]int64{}, SharedKept: s.Shared,
		Phases: map[string]float64{}}
	phase := func(name string, t time.Time) time.Time {
		rep.Phases[name] = time.Since(t).Seconds()
		return time.Now()
	}
	e := &erasure{s: s, ids: s.identifiers(), rep: rep, opt: opt}

	// 1. Suppress first: from this commit on, every writer's gate drops their events.
	if err := e.suppress(ctx, db); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	tp := phase("suppress", t0)
	// 2. Find everything, reading outside the write transaction.
	if err := e.find(ctx, db); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	tp = phase("find", tp)
	// 3 and 4. One transaction: the rows, the processor's epoch, the audit record.
	if err := e.deleteRows(ctx, db); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	// 5. Message copies on disk.
	if err := e.deleteMessageCopies(); err != nil {
		return rep, err
	}
	tp = phase("delete", tp)
	// 6. Out of the files.
	if rep.Compaction, err = Compact(ctx, db); err != nil {
		return rep, fmt.Errorf("erase: the rows are deleted, but compaction failed (run omniroi privacy compact): %w", err)
	}
	phase("compact", tp)
	rep.Seconds = time.Since(t0).Seconds()
	return rep, nil
}

// erasure is one run of Erase: the subject, what was found to remove, and the report.
type erasure struct {
	s   *Subject
	ids [][2]string // the subject's identifiers, kind and value
	rep *EraseReport
	opt EraseOptions

	// Found by find, before the deleting transaction.
	m        *matcher
	sc       *scanResult
	rejected []rejectedRow
	files    []messageFile
	others   []int64 // other customers whose traits hold the subject's values
	marker   event.Event
}

// suppress records the erasure and puts the subject's identifiers on the suppression
// list, in one transaction that holds the event log.
func (e *erasure) suppress(ctx context.Context, db *store.DB) error {
	return db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		key, err := loadKey(ctx, tx, true)
		if err != nil {
			return err
		}
		e.rep.Digest = digest(key, e.s)
		if err := tx.QueryRow(ctx, `INSERT INTO privacy_erasures (at, customer_id, digest) VALUES (?, ?, ?) RETURNING id`,
			time.Now().UnixMilli(), e.s.CustomerID, e.rep.Digest).Scan(&e.rep.ErasureID); err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
		for _, kv := range e.ids {
			if _, err := tx.Exec(ctx, `INSERT INTO privacy_suppressions (hash, kind, erasure_id, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (hash) DO UPDATE SET erasure_id = excluded.erasure_id`, hashID(key, kv[0], kv[1]), kv[0], e.rep.ErasureID, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("suppress: %w", err)
			}
		}
		e.rep.Suppressed = len(e.ids)
		return bumpVersion(ctx, tx)
	})
}

// find reads what the erasure removes or redacts: the subject's events and those that
// mention them, rejected payloads naming them, their message copies, other customers
// holding their values, and the marker event.
func (e *erasure) find(ctx context.Context, db *store.DB) error {
	var err error
	e.m = newMatcher(e.s)
	if e.sc, err = scanEvents(ctx, db, e.s, e.m); err != nil {
		return err
	}
	if e.rejected, err = rejectedNaming(ctx, db, e.m); err != nil {
		return err
	}
	in, arg := store.InInt64(db.Dialect, "customer_id", e.s.Customers)
	sends, err := rowsAsMaps(ctx, db, `SELECT idem_key FROM journey_sends WHERE `+in, arg)
	if err != nil {
		return err
	}
	var keys []string
	for _, r := range sends {
		keys = append(keys, str(r["idem_key"]))
	}
	if e.files, err = outboxFiles(db.DataDir, keys, e.m, false); err != nil {
		return err
	}
	if e.others, err = otherCustomersNaming(ctx, db, e.s, e.m); err != nil {
		return err
	}
	e.marker, err = markerEvent(ctx, db, e.rep.ErasureID)
	return err
}

// deleteRows deletes and redacts the rows with secure_delete on, in one transaction that
// also bumps the processor's epoch, appends the marker and records the audit entry.
func (e *erasure) deleteRows(ctx context.Context, db *store.DB) error {
	restore, err := secureDelete(ctx, db)
	if err != nil {
		return err
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		// SQLite gives a new row the largest seq plus one: deleting the newest events would
		// hand their seqs out again, below the processor's and journey engine's cursors.
		// The marker takes the old maximum's successor, so seqs keep growing.
		var oldMax int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&oldMax); err != nil {
			return err
		}
		if err := e.deleteEvents(ctx, tx); err != nil {
			return err
		}
		if err := e.deleteDerived(ctx, tx); err != nil {
			return err
		}
		// The dashboard's stored analyses can hold the person's rows (customer value
		// per customer): all of them go, the dashboard computes them again.
		if n, err := store.ClearSnapshots(ctx, tx); err != nil {
			return err
		} else if n > 0 {
			e.rep.Deleted["analysis_snapshots"] = n
		}
		n, err := identity.ScrubTraits(ctx, tx, e.others, e.m.redactValue)
		if err != nil {
			return err
		}
		if n > 0 {
			e.rep.Redacted["customers"] = int64(n)
		}
		if err := identity.BumpEpoch(ctx, tx); err != nil {
			return err
		}
		if err := insertMarker(ctx, tx, e.marker, oldMax); err != nil {
			return err
		}
		return e.audit(ctx, tx)
	})
	rerr := restore()
	if err != nil {
		return err
	}
	return rerr
}

// del deletes the rows of table matching where and counts them in the report.
func (e *erasure) del(ctx context.Context, tx *store.Tx, table, where string, args ...any) error {
	res, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE `+where, args...)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", table, err)
	}
	n, _ := res.RowsAffected()
	e.rep.Deleted[table] += n
	return nil
}

// deleteEvents deletes the subject's events and the rejected payloads naming them, and
// cuts their values out of other people's events.
func (e *erasure) deleteEvents(ctx context.Context, tx *store.Tx) error {
	var own []int64
	for _, ev := range e.sc.own {
		own = append(own, ev.Seq)
	}
	for start := 0; start < len(own); start += 10000 {
		c, a := store.InInt64(tx.Dialect, "seq", own[start:min(start+10000, len(own))])
		if err := e.del(ctx, tx, "events", c, a); err != nil {
			return err
		}
	}
	for _, ev := range e.sc.mentions {
		anon := ev.AnonID
		if e.m.anons[identity.NormalizeID(anon)] {
			anon = ""
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET body = ?, anonymous_id = ? WHERE seq = ?`, string(e.m.redact(ev.Body)), anon, ev.Seq); err != nil {
			return fmt.Errorf("redact event %d: %w", ev.Seq, err)
		}
		e.rep.Redacted["events"]++
	}
	var rej []int64
	for _, r := range e.rejected {
		rej = append(rej, r.ID)
	}
	c, a := store.InInt64(tx.Dialect, "id", rej)
	return e.del(ctx, tx, "rejected_events", c, a)
}

// deleteDerived deletes every row derived from the subject: the customer and its
// identities, orders and refunds, conflicts and merges, consent, journey state and
// contact suppressions.
func (e *erasure) deleteDerived(ctx context.Context, tx *store.Tx) error {
	s := e.s
	roll, err := rollup.BeginErase(ctx, tx, s.Customers) // their counts leave the daily rollups
	if err != nil {
		return err
	}
	cin, carg := store.InInt64(tx.Dialect, "customer_id", s.Customers)
	orderIDs, err := textsOf(ctx, tx, `SELECT order_id FROM orders WHERE `+cin, carg)
	if err != nil {
		return err
	}
	oin, oarg := store.InText(tx.Dialect, "order_id", orderIDs)
	if err := e.del(ctx, tx, "refunds", cin+" OR "+oin, carg, oarg); err != nil {
		return err
	}
	idin, idarg := store.InInt64(tx.Dialect, "id", s.Customers)
	if err := e.del(ctx, tx, "customers", idin, idarg); err != nil {
		return err
	}
	for _, t := range []string{"identities", "activity", "orders", "order_summaries", "customer_orders", "customer_consent", "journey_sends", "journey_decisions", "journey_consent", "segment_changes", "lead_score_changes"} {
		if err := e.del(ctx, tx, t, cin, carg); err != nil {
			return err
		}
	}
	if err := roll.Commit(ctx, tx); err != nil {
		return err
	}
	var vals []string
	for _, kv := range e.ids {
		vals = append(vals, kv[1])
	}
	vin, varg := store.InText(tx.Dialect, "value", vals)
	oc, oca := store.InInt64(tx.Dialect, "other_id", s.Customers)
	uin, uarg := store.InText(tx.Dialect, "user_id", s.UserIDs)
	ouin, ouarg := store.InText(tx.Dialect, "other_user_id", s.UserIDs)
	if err := e.del(ctx, tx, "identity_conflicts", strings.Join([]string{cin, oc, vin, uin, ouin}, " OR "), carg, oca, varg, uarg, ouarg); err != nil {
		return err
	}
	sin, sarg := store.InInt64(tx.Dialect, "survivor_id", s.Customers)
	min_, marg := store.InInt64(tx.Dialect, "merged_id", s.Customers)
	if err := e.del(ctx, tx, "customer_merges", strings.Join([]string{sin, min_, vin}, " OR "), sarg, marg, varg); err != nil {
		return err
	}
	runs, err := idsOf(ctx, tx, `SELECT id FROM journey_runs WHERE `+cin, carg)
	if err != nil {
		return err
	}
	rin, rarg := store.InInt64(tx.Dialect, "run_id", runs)
	if err := e.del(ctx, tx, "journey_timers", rin, rarg); err != nil {
		return err
	}
	if err := e.del(ctx, tx, "journey_runs", cin, carg); err != nil {
		return err
	}
	ain, aarg := store.InText(tx.Dialect, "address", append(append([]string{}, s.Emails...), s.Phones...))
	return e.del(ctx, tx, "journey_suppressions", ain, aarg)
}

// audit records the erasure in the audit log: counts and the digest, the reason with the
// subject's identifiers cut out, no personal data.
func (e *erasure) audit(ctx context.Context, tx *store.Tx) error {
	s, rep := e.s, e.rep
	target := "customer:" + strconv.FormatInt(s.CustomerID, 10)
	if s.CustomerID == 0 {
		target = "identifier"
	}
	detail := map[string]any{"erasure": rep.ErasureID, "digest": rep.Digest, "deleted": rep.Deleted, "redacted": rep.Redacted,
		"identifiers_suppressed": rep.Suppressed, "message_copies": len(e.files)}
	if r := scrubText(e.opt.Reason, e.m); r != "" {
		detail["reason"] = r
	}
	if len(s.Customers) > 1 {
		detail["merged_customers"] = s.Customers[1:]
	}
	return audit.Record(ctx, tx, audit.Entry{Actor: e.opt.Actor, Action: "privacy.erase", Target: target, Detail: detail})
}

// deleteMessageCopies removes the subject's message copies from DATA/outbox.
func (e *erasure) deleteMessageCopies() error {
	for _, f := range e.files {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("erase message copy: %w", err)
		}
		e.rep.Files++
	}
	return nil
}

// textsOf reads a one-column query of text values.
func textsOf(ctx context.Context, tx *store.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func idsOf(ctx context.Context, tx *store.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// otherCustomersNaming finds other customers whose row holds the subject's values: their
// traits were set by an event of theirs that mentioned the person (a referrer, an
// identity conflict).
func otherCustomersNaming(ctx context.Context, db *store.DB, s *Subject, m *matcher) ([]int64, error) {
	var conds []string
	var args []any
	for _, e := range s.Emails {
		conds = append(conds, `email = ?`, `LOWER(traits) LIKE ? ESCAPE '\'`)
		args = append(args, e, "%"+likeEscape(e)+"%")
	}
	for _, p := range s.Phones {
		conds = append(conds, `phone = ?`)
		args = append(args, p)
	}
	for _, q := range m.quoted {
		conds = append(conds, `traits LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(string(q))+"%")
	}
	if len(conds) == 0 {
		return nil, nil
	}
	notIn, a := store.InInt64(db.Dialect, "id", s.Customers)
	rows, err := db.Query(ctx, `SELECT id FROM customers WHERE NOT (`+notIn+`) AND (`+strings.Join(conds, " OR ")+`)`, append([]any{a}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("customers naming the person: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// markerEvent is an event without identifiers that an erasure appends, so that every
// cache keyed on the event log (dashboard, API) recomputes without the person. Its
// anonymousId is a placeholder the identity processor never treats as a person.
func markerEvent(ctx context.Context, db *store.DB, erasureID int64) (event.Event, error) {
	src, err := db.EnsureSource(ctx, ErasureSource)
	if err != nil {
		return event.Event{}, err
	}
	now := time.Now()
	body, _ := json.Marshal(map[string]any{"type": "track", "event": "Privacy Erasure", "anonymousId": "anonymous",
		"messageId": fmt.Sprintf("privacy-erasure-%d-%d", erasureID, now.UnixNano()), "properties": map[string]any{"erasure_id": erasureID}})
	ev, err := event.Normalize(body, "", now, time.Time{})
	if err != nil {
		return ev, err
	}
	ev.SourceID = src.ID
	return ev, nil
}

// scrubText cuts the person's identifiers and names out of free text (an erasure reason).
func scrubText(s string, m *matcher) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	words := strings.Fields(s)
	for i, w := range words {
		t := strings.Trim(w, ".,;:()<>\"'")
		if m.matchString(t) {
			words[i] = erased
		}
	}
	out := strings.Join(words, " ")
	for _, n := range m.names {
		out = replaceFold(out, string(n), erased)
	}
	if len(out) > 500 {
		out = out[:500]
	}
	return out
}

// insertMarker appends the marker event; on SQLite with seq oldMax+1 (see Erase), on
// PostgreSQL from the sequence, which never hands a number out twice.
func insertMarker(ctx context.Context, tx *store.Tx, ev event.Event, oldMax int64) error {
	if tx.Dialect == store.Postgres {
		_, err := store.InsertEvents(ctx, tx, []event.Event{ev})
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO events (seq, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		oldMax+1, ev.SourceID, ev.MessageID, ev.Type, ev.Name, ev.UserID, ev.AnonymousID, ev.Timestamp.UnixMilli(), ev.ReceivedAt.UnixMilli(), string(ev.Body))
	if err != nil {
		return fmt.Errorf("erasure marker: %w", err)
	}
	return nil
}
