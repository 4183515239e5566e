package privacy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// secureDelete turns SQLite's secure_delete on for the write connection (deleted rows are
// overwritten with zeros instead of left in free space) and returns how to restore it.
// The write pool has one connection, so the pragma covers the erasure's transaction.
func secureDelete(ctx context.Context, db *store.DB) (func() error, error) {
	if db.Dialect != store.SQLite {
		return func() error { return nil }, nil
	}
	var was int
	if err := db.W.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&was); err != nil {
		return nil, fmt.Errorf("secure_delete: %w", err)
	}
	if _, err := db.W.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return nil, fmt.Errorf("secure_delete: %w", err)
	}
	return func() error {
		_, err := db.W.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA secure_delete = %d`, was))
		return err
	}, nil
}

// compactTables are the tables an erasure or retention run deletes from or rewrites.
var compactTables = []string{"events", "rejected_events", "customers", "identities", "identity_conflicts", "customer_merges",
	"activity", "orders", "refunds", "customer_consent", "journey_runs", "journey_timers", "journey_sends",
	"journey_decisions", "journey_consent", "journey_suppressions", "segment_changes", "lead_score_changes"}

// Compact takes deleted bytes out of the database files. SQLite: VACUUM rewrites the file
// without free pages or the free space inside pages that older updates left behind (with
// a file-backed temporary copy, so a large database does not need its size in memory),
// then a checkpoint(TRUNCATE) empties the WAL, which held earlier page images. It retries
// the checkpoint while readers hold old snapshots, for up to a minute. PostgreSQL: VACUUM
// marks the dead rows' space free and removes their index entries; the server's WAL and
// backups keep their own history (docs/privacy.md).
func Compact(ctx context.Context, db *store.DB) (string, error) {
	if db.Dialect == store.Postgres {
		if _, err := db.W.ExecContext(ctx, `VACUUM (ANALYZE) `+strings.Join(compactTables, ", ")); err != nil {
			return "", fmt.Errorf("vacuum: %w", err)
		}
		return "postgres: rows deleted, VACUUM (ANALYZE) " + fmt.Sprint(len(compactTables)) + " tables", nil
	}
	var temp int
	if err := db.W.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp); err != nil {
		return "", fmt.Errorf("temp_store: %w", err)
	}
	if _, err := db.W.ExecContext(ctx, `PRAGMA temp_store = FILE`); err != nil {
		return "", fmt.Errorf("temp_store: %w", err)
	}
	_, verr := db.W.ExecContext(ctx, `VACUUM`)
	if _, err := db.W.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA temp_store = %d`, temp)); err != nil && verr == nil {
		verr = err
	}
	if verr != nil {
		return "", fmt.Errorf("vacuum: %w", verr)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var busy, logFrames, done int
		if err := db.W.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return "", fmt.Errorf("wal checkpoint: %w", err)
		}
		if busy == 0 {
			return "sqlite: secure_delete, VACUUM, wal_checkpoint(TRUNCATE)", nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("wal checkpoint: readers kept the WAL busy for a minute; run omniroi privacy compact again")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
