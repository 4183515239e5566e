package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Setting reads a setting; ok is false when it is not set.
func (db *DB) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = db.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read setting %s: %w", key, err)
	}
	return value, true, nil
}

// SetSetting writes a setting inside tx.
func SetSetting(ctx context.Context, tx *Tx, key, value string) error {
	_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("write setting %s: %w", key, err)
	}
	return nil
}

// AcquireLease takes or renews the named lease for owner until now+ttl. It reports false
// when another live owner holds it.
func (db *DB) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := time.Now().UnixMilli()
	got := false
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE leases.owner = excluded.owner OR leases.expires_at < ?`, name, owner, now+ttl.Milliseconds(), now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		got = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	return got, nil
}

// ReleaseLease gives the lease up if owner holds it.
func (db *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := db.Exec(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner)
	return err
}
