package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source is a sender of events (a web shop, a till, a mobile app), known by its write key.
type Source struct {
	ID        int64
	Name      string
	KeyHint   string
	CreatedAt time.Time
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// HashKey is how write keys and API tokens are stored: only their SHA-256.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// NewKey returns a random secret with a readable prefix.
func NewKey(prefix string) string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// CreateSource adds a source and returns it with its write key, which is shown once.
func (db *DB) CreateSource(ctx context.Context, name string) (Source, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Source{}, "", errors.New("source name is empty")
	}
	key := NewKey("wk_")
	src := Source{Name: name, KeyHint: key[:7], CreatedAt: time.Now().UTC()}
	err := db.Write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM sources WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a source named %q exists already", name)
		}
		return tx.QueryRow(ctx, `INSERT INTO sources (name, key_hash, key_hint, created_at) VALUES (?,?,?,?) RETURNING id`,
			name, HashKey(key), src.KeyHint, src.CreatedAt.UnixMilli()).Scan(&src.ID)
	})
	if err != nil {
		return Source{}, "", fmt.Errorf("create source: %w", err)
	}
	return src, key, nil
}

// SourceByKey finds the source a write key belongs to.
func (db *DB) SourceByKey(ctx context.Context, key string) (Source, error) {
	var s Source
	var created int64
	err := db.QueryRow(ctx, `SELECT id, name, key_hint, created_at FROM sources WHERE key_hash = ?`, HashKey(key)).
		Scan(&s.ID, &s.Name, &s.KeyHint, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up write key: %w", err)
	}
	s.CreatedAt = time.UnixMilli(created).UTC()
	return s, nil
}

// SourceByName finds a source by its name.
func (db *DB) SourceByName(ctx context.Context, name string) (Source, error) {
	var s Source
	var created int64
	err := db.QueryRow(ctx, `SELECT id, name, key_hint, created_at FROM sources WHERE name = ?`, name).
		Scan(&s.ID, &s.Name, &s.KeyHint, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up source: %w", err)
	}
	s.CreatedAt = time.UnixMilli(created).UTC()
	return s, nil
}

// EnsureSource returns the named source, creating it (with a key nobody sees) if needed.
// Importers use it for their own sources ("import").
func (db *DB) EnsureSource(ctx context.Context, name string) (Source, error) {
	s, err := db.SourceByName(ctx, name)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return s, err
	}
	s, _, err = db.CreateSource(ctx, name)
	return s, err
}

// Sources lists all sources by id.
func (db *DB) Sources(ctx context.Context) ([]Source, error) {
	rows, err := db.Query(ctx, `SELECT id, name, key_hint, created_at FROM sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	var out []Source
	for rows.Next() {
		var s Source
		var created int64
		if err := rows.Scan(&s.ID, &s.Name, &s.KeyHint, &created); err != nil {
			return nil, err
		}
		s.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}
