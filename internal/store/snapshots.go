package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AnalysisSnapshot is an analysis as it was last computed (the analysis_snapshots
// table): Version is the data version it was computed at, Format the encoding of Body.
type AnalysisSnapshot struct {
	Key, Version, Format string
	At                   time.Time
	Body                 []byte
}

// ErrGuardMoved says a snapshot was not written because the guard setting changed
// while it was computed (an erasure committed meanwhile: the result may hold the
// erased person).
var ErrGuardMoved = errors.New("the data changed under the analysis (an erasure); snapshot not kept")

// LoadSnapshot reads the snapshot of key; ok is false when there is none.
func (db *DB) LoadSnapshot(ctx context.Context, key string) (s AnalysisSnapshot, ok bool, err error) {
	var at int64
	err = db.QueryRow(ctx, `SELECT key, version, format, computed_at, body FROM analysis_snapshots WHERE key = ?`, key).
		Scan(&s.Key, &s.Version, &s.Format, &at, &s.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read analysis snapshot %s: %w", key, err)
	}
	s.At = time.UnixMilli(at)
	return s, true, nil
}

// SaveSnapshot writes s, replacing the key's row, when the setting guardKey still holds
// guard (read in the same transaction; FOR UPDATE on PostgreSQL waits for an erasure in
// flight). Otherwise it writes nothing and returns ErrGuardMoved.
func (db *DB) SaveSnapshot(ctx context.Context, s AnalysisSnapshot, guardKey, guard string) error {
	err := db.Write(ctx, func(tx *Tx) error {
		q := `SELECT value FROM settings WHERE key = ?`
		if tx.Dialect == Postgres {
			q += ` FOR UPDATE`
		}
		var v string
		if err := tx.QueryRow(ctx, q, guardKey).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if v != guard {
			return ErrGuardMoved
		}
		_, err := tx.Exec(ctx, `INSERT INTO analysis_snapshots (key, version, format, computed_at, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET version = excluded.version, format = excluded.format, computed_at = excluded.computed_at, body = excluded.body`,
			s.Key, s.Version, s.Format, s.At.UnixMilli(), s.Body)
		return err
	})
	if err != nil && !errors.Is(err, ErrGuardMoved) {
		return fmt.Errorf("write analysis snapshot %s: %w", s.Key, err)
	}
	return err
}

// ClearSnapshots deletes every analysis snapshot inside tx (an erasure, a rebuild) and
// returns how many there were.
func ClearSnapshots(ctx context.Context, tx *Tx) (int64, error) {
	res, err := tx.Exec(ctx, `DELETE FROM analysis_snapshots`)
	if err != nil {
		return 0, fmt.Errorf("delete analysis snapshots: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
