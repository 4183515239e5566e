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
//     their values are cut;
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
	ids := s.identifiers()

	// 1. Suppress first: from this commit on, every writer's gate drops their events.
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		key, err := loadKey(ctx, tx, true)
		if err != nil {
			return err
		}
		rep.Digest = digest(key, s)
		if err := tx.QueryRow(ctx, `INSERT INTO privacy_erasures (at, customer_id, digest) VALUES (?, ?, ?) RETURNING id`,
			time.Now().UnixMilli(), s.CustomerID, rep.Digest).Scan(&rep.ErasureID); err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
		for _, kv := range ids {
			if _, err := tx.Exec(ctx, `INSERT INTO privacy_suppressions (hash, kind, erasure_id, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (hash) DO UPDATE SET erasure_id = excluded.erasure_id`, hashID(key, kv[0], kv[1]), kv[0], rep.ErasureID, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("suppress: %w", err)
			}
		}
		rep.Suppressed = len(ids)
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}

	tp := phase("suppress", t0)
	// 2. Find everything, reading outside the write transaction.
	m := newMatcher(s)
	sc, err := scanEvents(ctx, db, s, m)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	rejected, err := rejectedNaming(ctx, db, m)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	in, arg := store.InInt64(db.Dialect, "customer_id", s.Customers)
	sends, err := rowsAsMaps(ctx, db, `SELECT idem_key FROM journey_sends WHERE `+in, arg)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	var keys []string
	for _, r := range sends {
		keys = append(keys, str(r["idem_key"]))
	}
	files, err := outboxFiles(db.DataDir, keys, m, false)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	others, err := otherCustomersNaming(ctx, db, s, m)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	marker, err := markerEvent(ctx, db, rep.ErasureID)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}

	tp = phase("find", tp)
	// 3 and 4. One transaction: the rows, the processor's epoch, the audit record.
	restore, err := secureDelete(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		del := func(table, where string, args ...any) error {
			res, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE `+where, args...)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
			n, _ := res.RowsAffected()
			rep.Deleted[table] += n
			return nil
		}
		// SQLite gives a new row the largest seq plus one: deleting the newest events would
		// hand their seqs out again, below the processor's and journey engine's cursors.
		// The marker takes the old maximum's successor, so seqs keep growing.
		var oldMax int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&oldMax); err != nil {
			return err
		}
		var own []int64
		for _, e := range sc.own {
			own = append(own, e.Seq)
		}
		for start := 0; start < len(own); start += 10000 {
			c, a := store.InInt64(tx.Dialect, "seq", own[start:min(start+10000, len(own))])
			if err := del("events", c, a); err != nil {
				return err
			}
		}
		for _, e := range sc.mentions {
			anon := e.AnonID
			if m.anons[identity.NormalizeID(anon)] {
				anon = ""
			}
			if _, err := tx.Exec(ctx, `UPDATE events SET body = ?, anonymous_id = ? WHERE seq = ?`, string(m.redact(e.Body)), anon, e.Seq); err != nil {
				return fmt.Errorf("redact event %d: %w", e.Seq, err)
			}
			rep.Redacted["events"]++
		}
		var rej []int64
		for _, r := range rejected {
			rej = append(rej, r.ID)
		}
		c, a := store.InInt64(tx.Dialect, "id", rej)
		if err := del("rejected_events", c, a); err != nil {
			return err
		}

		cin, carg := store.InInt64(tx.Dialect, "customer_id", s.Customers)
		var orderIDs []string
		rows, err := tx.Query(ctx, `SELECT order_id FROM orders WHERE `+cin, carg)
		if err != nil {
			return err
		}
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return err
			}
			orderIDs = append(orderIDs, o)
		}
		rows.Close()
		oin, oarg := store.InText(tx.Dialect, "order_id", orderIDs)
		if err := del("refunds", cin+" OR "+oin, carg, oarg); err != nil {
			return err
		}
		idin, idarg := store.InInt64(tx.Dialect, "id", s.Customers)
		if err := del("customers", idin, idarg); err != nil {
			return err
		}
		for _, t := range []string{"identities", "activity", "orders", "order_summaries", "customer_orders", "customer_consent", "journey_sends", "journey_decisions", "journey_consent", "segment_changes", "lead_score_changes"} {
			if err := del(t, cin, carg); err != nil {
				return err
			}
		}
		var vals []string
		for _, kv := range ids {
			vals = append(vals, kv[1])
		}
		vin, varg := store.InText(tx.Dialect, "value", vals)
		oc, oca := store.InInt64(tx.Dialect, "other_id", s.Customers)
		uin, uarg := store.InText(tx.Dialect, "user_id", s.UserIDs)
		ouin, ouarg := store.InText(tx.Dialect, "other_user_id", s.UserIDs)
		if err := del("identity_conflicts", strings.Join([]string{cin, oc, vin, uin, ouin}, " OR "), carg, oca, varg, uarg, ouarg); err != nil {
			return err
		}
		sin, sarg := store.InInt64(tx.Dialect, "survivor_id", s.Customers)
		min_, marg := store.InInt64(tx.Dialect, "merged_id", s.Customers)
		if err := del("customer_merges", strings.Join([]string{sin, min_, vin}, " OR "), sarg, marg, varg); err != nil {
			return err
		}
		runs, err := idsOf(ctx, tx, `SELECT id FROM journey_runs WHERE `+cin, carg)
		if err != nil {
			return err
		}
		rin, rarg := store.InInt64(tx.Dialect, "run_id", runs)
		if err := del("journey_timers", rin, rarg); err != nil {
			return err
		}
		if err := del("journey_runs", cin, carg); err != nil {
			return err
		}
		ain, aarg := store.InText(tx.Dialect, "address", append(append([]string{}, s.Emails...), s.Phones...))
		if err := del("journey_suppressions", ain, aarg); err != nil {
			return err
		}
		n, err := identity.ScrubTraits(ctx, tx, others, m.redactValue)
		if err != nil {
			return err
		}
		if n > 0 {
			rep.Redacted["customers"] = int64(n)
		}
		if err := identity.BumpEpoch(ctx, tx); err != nil {
			return err
		}
		if err := insertMarker(ctx, tx, marker, oldMax); err != nil {
			return err
		}
		target := "customer:" + strconv.FormatInt(s.CustomerID, 10)
		if s.CustomerID == 0 {
			target = "identifier"
		}
		detail := map[string]any{"erasure": rep.ErasureID, "digest": rep.Digest, "deleted": rep.Deleted, "redacted": rep.Redacted,
			"identifiers_suppressed": rep.Suppressed, "message_copies": len(files)}
		if r := scrubText(opt.Reason, m); r != "" {
			detail["reason"] = r
		}
		if len(s.Customers) > 1 {
			detail["merged_customers"] = s.Customers[1:]
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: opt.Actor, Action: "privacy.erase", Target: target, Detail: detail})
	})
	rerr := restore()
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("erase: %w", rerr)
	}

	// 5. Message copies on disk.
	for _, f := range files {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("erase message copy: %w", err)
		}
		rep.Files++
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
