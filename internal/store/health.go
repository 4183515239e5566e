package store

import (
	"context"
	"fmt"
	"time"
)

// ProbeWrite proves the store can commit a write: it updates the one row of health_probe
// in a transaction of its own (on SQLite through the one write connection, so a writer
// stuck for longer than ctx allows counts as unwritable too).
func (db *DB) ProbeWrite(ctx context.Context) error {
	err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE health_probe SET at = ? WHERE id = 1`, time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	return nil
}
