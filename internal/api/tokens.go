package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
)

// Token is an API token as listed (the secret itself is only shown at creation).
type Token struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Hint      string    `json:"hint"`
	Role      auth.Role `json:"role"`  // what the token may do, as a dashboard user of that role
	Scope     string    `json:"scope"` // ScopeRead or ScopeWrite: kept for scripts that read it
	CreatedAt time.Time `json:"created_at"`
}

// Token scopes, from before tokens had roles: a read token is an analyst token (reads
// everything), a write token a marketer token (also applies, enables and disables journeys).
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// Roles of the scopes: `omniroi token add NAME` and `--write`.
const (
	DefaultRole = auth.RoleAnalyst
	WriteRole   = auth.RoleMarketer
)

// scopeOf names a role's scope: write when it may change anything, else read.
func scopeOf(r auth.Role) string {
	for _, p := range auth.Permissions {
		if p != auth.PermReadReports && p != auth.PermReadPersonal && p != auth.PermReadAudit && r.Can(p) {
			return ScopeWrite
		}
	}
	return ScopeRead
}

// CreateToken adds an API token with the default (analyst) role and returns the secret,
// which is not stored (only its SHA-256) and so is shown once.
func CreateToken(ctx context.Context, db *store.DB, name string) (Token, string, error) {
	return CreateRoleToken(ctx, db, name, DefaultRole)
}

// CreateScopedToken is CreateToken with a scope: ScopeRead (analyst) or ScopeWrite (marketer).
func CreateScopedToken(ctx context.Context, db *store.DB, name, scope string) (Token, string, error) {
	switch scope {
	case ScopeRead:
		return CreateRoleToken(ctx, db, name, DefaultRole)
	case ScopeWrite:
		return CreateRoleToken(ctx, db, name, WriteRole)
	}
	return Token{}, "", fmt.Errorf("token scope %q: want %s or %s", scope, ScopeRead, ScopeWrite)
}

// CreateRoleToken adds an API token that acts with role; recorded in the audit log as
// done by audit.ActorFrom(ctx).
func CreateRoleToken(ctx context.Context, db *store.DB, name string, role auth.Role) (Token, string, error) {
	if _, err := auth.ParseRole(string(role)); err != nil {
		return Token{}, "", err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return Token{}, "", errors.New("token name is empty")
	}
	secret := store.NewKey("ot_")
	t := Token{Name: name, Hint: secret[:7], Role: role, Scope: scopeOf(role), CreatedAt: time.Now().UTC()}
	err := db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a token named %q exists already", name)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO api_tokens (name, token_hash, token_hint, scope, role, created_at) VALUES (?,?,?,?,?,?) RETURNING id`,
			name, store.HashKey(secret), t.Hint, t.Scope, string(role), t.CreatedAt.UnixMilli()).Scan(&t.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "token.add", Target: fmt.Sprintf("token:%d", t.ID),
			Detail: map[string]any{"name": name, "role": string(role)}})
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	return t, secret, nil
}

const tokenCols = `id, name, token_hint, role, created_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created int64
	err := row.Scan(&t.ID, &t.Name, &t.Hint, &t.Role, &created)
	t.CreatedAt = time.UnixMilli(created).UTC()
	t.Scope = scopeOf(t.Role)
	return t, err
}

// CheckToken returns the token a secret belongs to, or store.ErrNotFound.
func CheckToken(ctx context.Context, db *store.DB, secret string) (Token, error) {
	t, err := scanToken(db.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = ?`, store.HashKey(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("check token: %w", err)
	}
	return t, nil
}

// ListTokens lists the API tokens by id.
func ListTokens(ctx context.Context, db *store.DB) ([]Token, error) {
	rows, err := db.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken deletes the token named name; recorded in the audit log as done by
// audit.ActorFrom(ctx).
func RevokeToken(ctx context.Context, db *store.DB, name string) error {
	return db.Write(ctx, func(tx *store.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `DELETE FROM api_tokens WHERE name = ? RETURNING id`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no token named %q: %w", name, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "token.revoke", Target: fmt.Sprintf("token:%d", id),
			Detail: map[string]any{"name": name}})
	})
}
