package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

const eventCols = 10

// rows per multi-row INSERT: well under SQLite's 32,766 variable limit.
const insertChunk = 200

var insertSQL sync.Map // map[string]string keyed by dialect+rows

func insertEventsSQL(d Dialect, rows int) string {
	key := string(d) + fmt.Sprint(rows)
	if q, ok := insertSQL.Load(key); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO events (source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body, client_ip) VALUES ")
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(" ON CONFLICT (source_id, message_id) DO NOTHING")
	q := Rebind(d, b.String())
	insertSQL.Store(key, q)
	return q
}

// LockEventLog makes event-log writers take turns on PostgreSQL, so that sequence
// numbers become visible in order and a reader tailing seq never skips a late commit.
// SQLite's single writer already gives that.
func LockEventLog(ctx context.Context, tx *Tx) error {
	if tx.Dialect != Postgres {
		return nil
	}
	_, err := tx.Tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7001)`)
	return err
}

// InsertEvents appends events inside tx. An event whose (source, messageId) is already
// stored is skipped: clients retry, and at-least-once in must be exactly-once stored.
// It returns how many events were new. Call LockEventLog first in the same transaction.
func InsertEvents(ctx context.Context, tx *Tx, evs []event.Event) (int, error) {
	inserted := 0
	args := make([]any, 0, insertChunk*eventCols)
	for start := 0; start < len(evs); start += insertChunk {
		end := min(start+insertChunk, len(evs))
		args = args[:0]
		for _, e := range evs[start:end] {
			args = append(args, e.SourceID, e.MessageID, e.Type, e.Name, e.UserID, e.AnonymousID,
				e.Timestamp.UnixMilli(), e.ReceivedAt.UnixMilli(), string(e.Body), e.ClientIP)
		}
		res, err := tx.Tx.ExecContext(ctx, insertEventsSQL(tx.Dialect, end-start), args...)
		if err != nil {
			return inserted, fmt.Errorf("insert events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += int(n)
	}
	return inserted, nil
}

// ReadEvents returns up to limit events with seq > after, in seq order.
func (db *DB) ReadEvents(ctx context.Context, after int64, limit int) ([]event.Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return scanEvents(rows)
}

// ReadTrackEvents returns up to limit track events named in names with after < seq <= upTo,
// in seq order: a follower of the log that acts on a few event names reads only those.
func (db *DB) ReadTrackEvents(ctx context.Context, after, upTo int64, names []string, limit int) ([]event.Event, error) {
	if len(names) == 0 {
		return nil, nil
	}
	cond, arg := InText(db.Dialect, "name", names)
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE seq > ? AND seq <= ? AND type = 'track' AND `+cond+` ORDER BY seq LIMIT ?`,
		after, upTo, arg, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return scanEvents(rows)
}

// TrackEventsBetween returns the track events named in names with from <= timestamp < to,
// in no particular order (a scan of the log: for replays and backfills, not hot paths).
func (db *DB) TrackEventsBetween(ctx context.Context, from, to time.Time, names []string) ([]event.Event, error) {
	if len(names) == 0 {
		return nil, nil
	}
	cond, arg := InText(db.Dialect, "name", names)
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE ts >= ? AND ts < ? AND type = 'track' AND `+cond, from.UnixMilli(), to.UnixMilli(), arg)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return scanEvents(rows)
}

const eventColumns = `seq, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body, client_ip`

func scanEvents(rows *sql.Rows) ([]event.Event, error) {
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var e event.Event
		var ts, recv int64
		var body string
		if err := rows.Scan(&e.Seq, &e.SourceID, &e.MessageID, &e.Type, &e.Name, &e.UserID, &e.AnonymousID, &ts, &recv, &body, &e.ClientIP); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Timestamp = time.UnixMilli(ts).UTC()
		e.ReceivedAt = time.UnixMilli(recv).UTC()
		e.Body = []byte(body)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// MaxEventSeq is the newest seq in the log (0 when empty).
func (db *DB) MaxEventSeq(ctx context.Context) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&n)
	return n, err
}

// Rejection is one event (or request) turned away, with why and where.
type Rejection struct {
	SourceID   int64
	ReceivedAt time.Time
	Origin     string
	Position   int
	Reason     string
	Body       string
}

// maxRejectedBody bounds what we keep of a rejected payload.
const maxRejectedBody = 2048

// InsertRejections records rejected events so users can see what was turned away and why.
func InsertRejections(ctx context.Context, tx *Tx, rs []Rejection) error {
	for _, r := range rs {
		body := r.Body
		if len(body) > maxRejectedBody {
			body = body[:maxRejectedBody]
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rejected_events (source_id, received_at, origin, position, reason, body) VALUES (?,?,?,?,?,?)`,
			r.SourceID, r.ReceivedAt.UnixMilli(), r.Origin, r.Position, r.Reason, strings.ToValidUTF8(body, "?")); err != nil {
			return fmt.Errorf("record rejected event: %w", err)
		}
	}
	return nil
}
