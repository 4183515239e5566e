package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// Acting is who makes a user change: their name in the audit log and their role. The CLI
// acts as an owner: whoever runs it holds the server's files anyway.
type Acting struct {
	Actor string
	Role  Role
}

// CLIActing is the CLI's Acting.
var CLIActing = Acting{Actor: audit.ActorCLI, Role: RoleOwner}

var (
	// ErrForbidden is returned when the acting role may not make a change.
	ErrForbidden = errors.New("not allowed")
	// ErrLastOwner is returned for a change that would leave no owner.
	ErrLastOwner = errors.New("this is the last owner: make another user owner first")
	// ErrInviteInvalid is returned for an unknown, used or expired invitation link.
	ErrInviteInvalid = errors.New("this invitation link is not valid: it was used already, it expired, or it was withdrawn; ask for a new one")
)

// InviteTTL is how long an invitation link works.
const InviteTTL = 7 * 24 * time.Hour

// mayManage checks that by may give a user of role from the role to (from "" for a
// new user, to "" for a removal): only owners touch owners or make them.
func (by Acting) mayManage(from, to Role) error {
	if !by.Role.Can(PermManageUsers) {
		return fmt.Errorf("the %s role cannot manage users: %w", roleName(by.Role), ErrForbidden)
	}
	if by.Role != RoleOwner && (from == RoleOwner || to == RoleOwner) {
		return fmt.Errorf("only an owner can add, change or remove owners: %w", ErrForbidden)
	}
	return nil
}

func roleName(r Role) string {
	if r == "" {
		return "(no)"
	}
	return string(r)
}

// lockUsers serialises user changes on PostgreSQL, so that two owners demoting each
// other at once cannot both pass the last-owner check (SQLite has one writer already).
func lockUsers(ctx context.Context, tx *store.Tx) error {
	if tx.Dialect != store.Postgres {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7013)`)
	return err
}

func userByID(ctx context.Context, tx *store.Tx, id int64) (User, error) {
	var u User
	var created int64
	err := tx.QueryRow(ctx, `SELECT id, email, role, created_at FROM users WHERE id = ?`, id).Scan(&u.ID, &u.Email, &u.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("look up user: %w", err)
	}
	u.CreatedAt = time.UnixMilli(created).UTC()
	return u, nil
}

// UserByEmail finds a user by email.
func UserByEmail(ctx context.Context, db *store.DB, email string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	var u User
	var created int64
	err = db.QueryRow(ctx, `SELECT id, email, role, created_at FROM users WHERE email = ?`, email).Scan(&u.ID, &u.Email, &u.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("no user %s: %w", email, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("look up user: %w", err)
	}
	u.CreatedAt = time.UnixMilli(created).UTC()
	return u, nil
}

func owners(ctx context.Context, tx *store.Tx) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = ?`, string(RoleOwner)).Scan(&n)
	return n, err
}

// SetRole gives user id a new role. Admins cannot touch owners nor make them; nobody can
// demote the last owner. The change applies to the user's open sessions at once.
func SetRole(ctx context.Context, db *store.DB, by Acting, id int64, role Role) (User, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	var u User
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := lockUsers(ctx, tx); err != nil {
			return err
		}
		var err error
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		if err := by.mayManage(u.Role, role); err != nil {
			return err
		}
		if u.Role == role {
			return nil
		}
		if u.Role == RoleOwner {
			n, err := owners(ctx, tx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return fmt.Errorf("%s: %w", u.Email, ErrLastOwner)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), id); err != nil {
			return err
		}
		from := u.Role
		u.Role = role
		return audit.Record(ctx, tx, audit.Entry{Actor: by.Actor, Action: "user.role", Target: fmt.Sprintf("user:%d", id),
			Detail: map[string]any{"email": u.Email, "from": string(from), "to": string(role)}})
	})
	if err != nil {
		return User{}, fmt.Errorf("change role: %w", err)
	}
	return u, nil
}

// RemoveUser deletes user id and ends their sessions. Admins cannot remove owners; nobody
// can remove the last owner.
func RemoveUser(ctx context.Context, db *store.DB, by Acting, id int64) (User, error) {
	var u User
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := lockUsers(ctx, tx); err != nil {
			return err
		}
		var err error
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		if err := by.mayManage(u.Role, ""); err != nil {
			return err
		}
		if u.Role == RoleOwner {
			n, err := owners(ctx, tx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return fmt.Errorf("%s: %w", u.Email, ErrLastOwner)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: by.Actor, Action: "user.remove", Target: fmt.Sprintf("user:%d", id),
			Detail: map[string]any{"email": u.Email, "role": string(u.Role)}})
	})
	if err != nil {
		return User{}, fmt.Errorf("remove user: %w", err)
	}
	return u, nil
}

// Invite is a pending invitation to the dashboard.
type Invite struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	InvitedBy string    `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateInvite invites email with role and returns the invitation and its token, which is
// not stored (only its hash) and so is shown once. An earlier unused invitation of the same
// address stops working. The invitee sets their password with AcceptInvite.
func CreateInvite(ctx context.Context, db *store.DB, by Acting, email string, role Role, now time.Time) (Invite, string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Invite{}, "", err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return Invite{}, "", err
	}
	if err := by.mayManage("", role); err != nil {
		return Invite{}, "", err
	}
	token := NewToken()
	inv := Invite{Email: email, Role: role, InvitedBy: by.Actor, CreatedAt: now.UTC().Truncate(time.Millisecond)}
	inv.ExpiresAt = inv.CreatedAt.Add(InviteTTL)
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := lockUsers(ctx, tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrUserExists
		}
		// Withdrawn and replaced invitations expire at once (rows stay, so ids are never reused).
		if _, err := tx.Exec(ctx, `UPDATE user_invites SET expires_at = 0 WHERE email = ? AND used_at = 0`, email); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO user_invites (email, role, token_hash, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			email, string(role), hashToken(token), by.Actor, inv.CreatedAt.UnixMilli(), inv.ExpiresAt.UnixMilli()).Scan(&inv.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: by.Actor, Action: "user.invite", Target: fmt.Sprintf("invite:%d", inv.ID),
			Detail: map[string]any{"email": email, "role": string(role), "expires_at": inv.ExpiresAt.Format(time.RFC3339)}})
	})
	if err != nil {
		return Invite{}, "", fmt.Errorf("invite %s: %w", email, err)
	}
	return inv, token, nil
}

const inviteCols = `id, email, role, invited_by, created_at, expires_at`

func scanInvite(row interface{ Scan(...any) error }) (Invite, error) {
	var inv Invite
	var created, expires int64
	err := row.Scan(&inv.ID, &inv.Email, &inv.Role, &inv.InvitedBy, &created, &expires)
	inv.CreatedAt, inv.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	return inv, err
}

// LookupInvite returns the pending invitation of token, or ErrInviteInvalid.
func LookupInvite(ctx context.Context, db *store.DB, token string, now time.Time) (Invite, error) {
	if token == "" {
		return Invite{}, ErrInviteInvalid
	}
	inv, err := scanInvite(db.QueryRow(ctx, `SELECT `+inviteCols+` FROM user_invites WHERE token_hash = ? AND used_at = 0 AND expires_at > ?`,
		hashToken(token), now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		return Invite{}, ErrInviteInvalid
	}
	if err != nil {
		return Invite{}, fmt.Errorf("look up invitation: %w", err)
	}
	return inv, nil
}

// AcceptInvite creates the invited user with password; the link works once.
func AcceptInvite(ctx context.Context, db *store.DB, token, password string, now time.Time) (User, error) {
	if _, err := LookupInvite(ctx, db, token, now); err != nil {
		return User{}, err
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return User{}, fmt.Errorf("password must have at least %d characters", MinPasswordLen)
	}
	hash, err := HashPassword(password) // slow: outside the write transaction
	if err != nil {
		return User{}, err
	}
	var u User
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := lockUsers(ctx, tx); err != nil {
			return err
		}
		inv, err := scanInvite(tx.QueryRow(ctx, `SELECT `+inviteCols+` FROM user_invites WHERE token_hash = ? AND used_at = 0 AND expires_at > ?`,
			hashToken(token), now.UnixMilli()))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInviteInvalid // used or withdrawn while the password was hashed
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, inv.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrUserExists
		}
		if _, err := tx.Exec(ctx, `UPDATE user_invites SET used_at = ? WHERE id = ?`, now.UnixMilli(), inv.ID); err != nil {
			return err
		}
		u = User{Email: inv.Email, Role: inv.Role, CreatedAt: now.UTC().Truncate(time.Millisecond)}
		if err := tx.QueryRow(ctx, `INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			u.Email, hash, string(u.Role), u.CreatedAt.UnixMilli()).Scan(&u.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.UserActor(u.Email), Action: "user.accept", Target: fmt.Sprintf("user:%d", u.ID),
			Detail: map[string]any{"invite": inv.ID, "role": string(u.Role), "invited_by": inv.InvitedBy}})
	})
	if err != nil {
		return User{}, fmt.Errorf("accept invitation: %w", err)
	}
	return u, nil
}

// Invites lists the pending invitations (unused, not expired), newest first.
func Invites(ctx context.Context, db *store.DB, now time.Time) ([]Invite, error) {
	rows, err := db.Query(ctx, `SELECT `+inviteCols+` FROM user_invites WHERE used_at = 0 AND expires_at > ? ORDER BY id DESC`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	defer rows.Close()
	var out []Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// RevokeInvite withdraws a pending invitation.
func RevokeInvite(ctx context.Context, db *store.DB, by Acting, id int64) error {
	err := db.Write(ctx, func(tx *store.Tx) error {
		inv, err := scanInvite(tx.QueryRow(ctx, `SELECT `+inviteCols+` FROM user_invites WHERE id = ? AND used_at = 0 AND expires_at > 0`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("invitation %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := by.mayManage("", inv.Role); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE user_invites SET expires_at = 0 WHERE id = ?`, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: by.Actor, Action: "user.invite_revoke", Target: fmt.Sprintf("invite:%d", id),
			Detail: map[string]any{"email": inv.Email, "role": string(inv.Role)}})
	})
	if err != nil {
		return fmt.Errorf("withdraw invitation: %w", err)
	}
	return nil
}
