package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// Erasure is one row of the erasure list: no personal data.
type Erasure struct {
	ID            int64      `json:"id"`
	At            time.Time  `json:"at"`
	CustomerID    int64      `json:"customer_id,omitempty"`
	Digest        string     `json:"digest"`
	Suppressed    int64      `json:"identifiers_suppressed"`
	DroppedEvents int64      `json:"dropped_events"`
	LiftedAt      *time.Time `json:"lifted_at,omitempty"`
}

// Erasures lists erasures, newest first.
func Erasures(ctx context.Context, db *store.DB) ([]Erasure, error) {
	rows, err := db.Query(ctx, `SELECT e.id, e.at, e.customer_id, e.digest, e.dropped_events, e.lifted_at,
		(SELECT COUNT(*) FROM privacy_suppressions s WHERE s.erasure_id = e.id) FROM privacy_erasures e ORDER BY e.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	defer rows.Close()
	var out []Erasure
	for rows.Next() {
		var e Erasure
		var at, lifted int64
		if err := rows.Scan(&e.ID, &at, &e.CustomerID, &e.Digest, &e.DroppedEvents, &lifted, &e.Suppressed); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		if lifted > 0 {
			t := time.UnixMilli(lifted).UTC()
			e.LiftedAt = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Unsuppress lifts an erasure's suppression by hand: the person came back through a
// channel the shop verified itself (in the shop, by phone) rather than through a
// consenting identify call. Their old data stays erased.
func Unsuppress(ctx context.Context, db *store.DB, erasureID int64, actor, reason string) error {
	return db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE privacy_erasures SET lifted_at = ? WHERE id = ? AND lifted_at = 0`, time.Now().UnixMilli(), erasureID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no erasure %d still suppressed (omniroi privacy erasures lists them): %w", erasureID, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM privacy_suppressions WHERE erasure_id = ?`, erasureID); err != nil {
			return err
		}
		if err := bumpVersion(ctx, tx); err != nil {
			return err
		}
		d := map[string]any{"why": "by hand"}
		if reason != "" {
			d["reason"] = reason
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "privacy.unsuppress", Target: fmt.Sprintf("erasure:%d", erasureID), Detail: d})
	})
}
