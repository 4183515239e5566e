package store

import (
	"context"
	"fmt"
)

// RelaxSync makes SQLite commits skip the fsync (synchronous=NORMAL: in WAL mode a
// commit survives a process crash but not a power cut) until restore is called. Only for
// bulk work that can be redone from scratch, such as building the demo; PostgreSQL is
// left alone.
func (db *DB) RelaxSync(ctx context.Context) (restore func() error, err error) {
	if db.Dialect != SQLite {
		return func() error { return nil }, nil
	}
	if _, err := db.W.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return nil, fmt.Errorf("relax sync: %w", err)
	}
	return func() error {
		if _, err := db.W.ExecContext(context.Background(), `PRAGMA synchronous = FULL`); err != nil {
			return fmt.Errorf("restore sync: %w", err)
		}
		return nil
	}, nil
}
