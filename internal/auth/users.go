package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// User is a person who can log in to the dashboard.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// MinPasswordLen is the shortest password CreateUser accepts.
const MinPasswordLen = 8

var (
	// ErrBadCredentials is returned for an unknown email or a wrong password, alike.
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrNoSession is returned for a missing, unknown or expired session token.
	ErrNoSession = errors.New("no valid session")
	// ErrUserExists is returned by CreateUser for an email that has an account.
	ErrUserExists = errors.New("a user with this email exists already")
)

// NormalizeEmail trims and lower-cases an email address and checks its form.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return "", fmt.Errorf("%q is not an email address", email)
	}
	return email, nil
}

// CreateUser adds a dashboard user with the owner role and an argon2id hash of password.
func CreateUser(ctx context.Context, db *store.DB, email, password string) (User, error) {
	return CreateUserRole(ctx, db, email, password, RoleOwner)
}

// CreateUserRole adds a dashboard user with the given role, recorded in the audit log as
// done by audit.ActorFrom(ctx).
func CreateUserRole(ctx context.Context, db *store.DB, email, password string, role Role) (User, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return User{}, fmt.Errorf("password must have at least %d characters", MinPasswordLen)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{Email: email, Role: role, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	err = db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrUserExists
		}
		if err := tx.QueryRow(ctx, `INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			email, hash, string(role), u.CreatedAt.UnixMilli()).Scan(&u.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "user.add", Target: fmt.Sprintf("user:%d", u.ID),
			Detail: map[string]any{"email": email, "role": string(role)}})
	})
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", email, err)
	}
	return u, nil
}

// SetPassword replaces a user's password and ends all their sessions (recorded in the
// audit log as done by audit.ActorFrom(ctx)).
func SetPassword(ctx context.Context, db *store.DB, email, password string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("password must have at least %d characters", MinPasswordLen)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE users SET password_hash = ? WHERE email = ? RETURNING id`, hash, email).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", email, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if _, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "user.password", Target: fmt.Sprintf("user:%d", id),
			Detail: map[string]any{"email": email}})
	})
}

// Users lists all users by id.
func Users(ctx context.Context, db *store.DB) ([]User, error) {
	rows, err := db.Query(ctx, `SELECT id, email, role, created_at FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.ID, &u.Email, &u.Role, &created); err != nil {
			return nil, err
		}
		u.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// dummyHash is verified against when the email is unknown, so that a login for a missing
// user takes as long as one with a wrong password and does not reveal who has an account.
var dummyHash = sync.OnceValue(func() string { h, _ := HashPassword("omniroi-no-such-user"); return h })

// Authenticate checks an email and password.
func Authenticate(ctx context.Context, db *store.DB, email, password string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var u User
	var hash string
	var created int64
	err := db.QueryRow(ctx, `SELECT id, email, role, password_hash, created_at FROM users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Role, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := VerifyPasswordContext(ctx, dummyHash(), password); errors.Is(err, ErrBusy) || ctx.Err() != nil {
			return User{}, cmp.Or(err, ctx.Err())
		}
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	ok, err := VerifyPasswordContext(ctx, hash, password)
	if errors.Is(err, ErrBusy) || ctx.Err() != nil {
		return User{}, cmp.Or(err, ctx.Err())
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", email, err)
	}
	if !ok {
		return User{}, ErrBadCredentials
	}
	u.CreatedAt = time.UnixMilli(created).UTC()
	return u, nil
}

// Session is a logged-in browser.
type Session struct {
	User      User
	Token     string // the cookie value; only its hash is stored
	CSRF      string // the token every form of this session must send back
	ExpiresAt time.Time
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// csrfFor derives the session's CSRF token from its secret token: nothing more to store,
// and someone who can read the sessions table (hashes only) cannot compute it.
func csrfFor(token string) string {
	h := sha256.Sum256([]byte("omniroi-csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// NewToken returns 32 random bytes, URL-safe encoded.
func NewToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateSession starts a session for u that lasts ttl.
func CreateSession(ctx context.Context, db *store.DB, u User, now time.Time, ttl time.Duration) (Session, error) {
	s := Session{User: u, Token: NewToken(), ExpiresAt: now.Add(ttl).UTC().Truncate(time.Millisecond)}
	s.CSRF = csrfFor(s.Token)
	_, err := db.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hashToken(s.Token), u.ID, now.UnixMilli(), s.ExpiresAt.UnixMilli())
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	return s, nil
}

// LookupSession finds the live session of a cookie token.
func LookupSession(ctx context.Context, db *store.DB, token string, now time.Time) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	s := Session{Token: token, CSRF: csrfFor(token)}
	var exp, created int64
	err := db.QueryRow(ctx, `SELECT s.expires_at, u.id, u.email, u.role, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`,
		hashToken(token)).Scan(&exp, &s.User.ID, &s.User.Email, &s.User.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	if exp <= now.UnixMilli() {
		return Session{}, ErrNoSession
	}
	s.ExpiresAt = time.UnixMilli(exp).UTC()
	s.User.CreatedAt = time.UnixMilli(created).UTC()
	return s, nil
}

// DeleteSession ends a session (logout). Unknown tokens are not an error.
func DeleteSession(ctx context.Context, db *store.DB, token string) error {
	if _, err := db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that expired before now and reports how many.
func DeleteExpiredSessions(ctx context.Context, db *store.DB, now time.Time) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// CheckCSRF compares a submitted CSRF token with the session's, in constant time.
func (s Session) CheckCSRF(submitted string) bool {
	return s.CSRF != "" && subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(submitted)) == 1
}
