package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Token is a read API token as listed (the secret itself is only shown at creation).
type Token struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Hint      string    `json:"hint"`
	Scope     string    `json:"scope"` // ScopeRead or ScopeWrite
	CreatedAt time.Time `json:"created_at"`
}

// Token scopes: a read token may only GET; a write token may also change things (POST,
// PUT, DELETE), such as applying a journey.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// CreateToken adds a read API token named name and returns the secret, which is not
// stored (only its SHA-256) and so is shown once.
func CreateToken(ctx context.Context, db *store.DB, name string) (Token, string, error) {
	return CreateScopedToken(ctx, db, name, ScopeRead)
}

// CreateScopedToken is CreateToken with a scope (ScopeRead or ScopeWrite).
func CreateScopedToken(ctx context.Context, db *store.DB, name, scope string) (Token, string, error) {
	if scope != ScopeRead && scope != ScopeWrite {
		return Token{}, "", fmt.Errorf("token scope %q: want %s or %s", scope, ScopeRead, ScopeWrite)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return Token{}, "", errors.New("token name is empty")
	}
	secret := store.NewKey("ot_")
	t := Token{Name: name, Hint: secret[:7], Scope: scope, CreatedAt: time.Now().UTC()}
	err := db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a token named %q exists already", name)
		}
		return tx.QueryRow(ctx, `INSERT INTO api_tokens (name, token_hash, token_hint, scope, created_at) VALUES (?,?,?,?,?) RETURNING id`,
			name, store.HashKey(secret), t.Hint, scope, t.CreatedAt.UnixMilli()).Scan(&t.ID)
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	return t, secret, nil
}

// CheckToken returns the token a secret belongs to, or store.ErrNotFound.
func CheckToken(ctx context.Context, db *store.DB, secret string) (Token, error) {
	var t Token
	var created int64
	err := db.QueryRow(ctx, `SELECT id, name, token_hint, scope, created_at FROM api_tokens WHERE token_hash = ?`, store.HashKey(secret)).
		Scan(&t.ID, &t.Name, &t.Hint, &t.Scope, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("check token: %w", err)
	}
	t.CreatedAt = time.UnixMilli(created).UTC()
	return t, nil
}

// ListTokens lists the API tokens by id.
func ListTokens(ctx context.Context, db *store.DB) ([]Token, error) {
	rows, err := db.Query(ctx, `SELECT id, name, token_hint, scope, created_at FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Hint, &t.Scope, &created); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken deletes the token named name.
func RevokeToken(ctx context.Context, db *store.DB, name string) error {
	res, err := db.Exec(ctx, `DELETE FROM api_tokens WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no token named %q: %w", name, store.ErrNotFound)
	}
	return nil
}
