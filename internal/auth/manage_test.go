package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// cheapHashes makes password hashing fast for tests that create many users.
func cheapHashes(t *testing.T) {
	old := DefaultParams
	DefaultParams = Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}
	t.Cleanup(func() { DefaultParams = old })
}

func actions(t *testing.T, db *store.DB, prefix string) []string {
	t.Helper()
	es, err := audit.List(context.Background(), db, audit.Filter{Action: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, es[i].Actor+" "+es[i].Action+" "+es[i].Target)
	}
	return out
}

// TestInvite: an invitation link works once, before it expires, for the invited address
// and role; a newer invitation replaces an older one; every step is audited.
func TestInvite(t *testing.T) {
	cheapHashes(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := audit.WithActor(context.Background(), audit.ActorCLI)
		now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
		owner, err := CreateUser(ctx, db, "owner@shop.example", "owner password")
		if err != nil {
			t.Fatal(err)
		}
		by := Acting{Actor: audit.UserActor(owner.Email), Role: owner.Role}

		old, oldToken, err := CreateInvite(ctx, db, by, "Ana@Shop.example", RoleAnalyst, now)
		if err != nil {
			t.Fatal(err)
		}
		if old.Email != "ana@shop.example" || old.ExpiresAt.Sub(now) != InviteTTL {
			t.Fatalf("invite %+v", old)
		}
		inv, token, err := CreateInvite(ctx, db, by, "ana@shop.example", RoleMarketer, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LookupInvite(ctx, db, oldToken, now.Add(2*time.Minute)); !errors.Is(err, ErrInviteInvalid) {
			t.Errorf("the replaced invitation still works: %v", err)
		}
		// Only the hash is stored.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM user_invites WHERE token_hash = ?`, token).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the raw invitation token is stored (%d, %v)", n, err)
		}
		if got, err := LookupInvite(ctx, db, token, now.Add(2*time.Minute)); err != nil || got.ID != inv.ID || got.Role != RoleMarketer {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		if _, err := LookupInvite(ctx, db, token, now.Add(time.Minute+InviteTTL)); !errors.Is(err, ErrInviteInvalid) {
			t.Errorf("an expired invitation works: %v", err)
		}
		if _, err := AcceptInvite(ctx, db, token, "short", now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "at least") {
			t.Errorf("short password: %v", err)
		}
		u, err := AcceptInvite(ctx, db, token, "ana's password", now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "ana@shop.example" || u.Role != RoleMarketer {
			t.Fatalf("accepted user %+v", u)
		}
		if _, err := Authenticate(ctx, db, "ana@shop.example", "ana's password"); err != nil {
			t.Fatalf("the invited user cannot log in: %v", err)
		}
		if _, err := AcceptInvite(ctx, db, token, "another password", now.Add(2*time.Hour)); !errors.Is(err, ErrInviteInvalid) {
			t.Errorf("the link worked twice: %v", err)
		}
		if _, _, err := CreateInvite(ctx, db, by, "ana@shop.example", RoleViewer, now); !errors.Is(err, ErrUserExists) {
			t.Errorf("invited an existing user: %v", err)
		}
		if _, _, err := CreateInvite(ctx, db, by, "not an address", RoleViewer, now); err == nil {
			t.Error("invited a malformed address")
		}
		if is, err := Invites(ctx, db, now.Add(time.Hour)); err != nil || len(is) != 0 {
			t.Errorf("pending after accept: %v %v", is, err)
		}
		// A pending invitation can be withdrawn.
		w, wt, err := CreateInvite(ctx, db, by, "wes@shop.example", RoleViewer, now)
		if err != nil {
			t.Fatal(err)
		}
		if is, _ := Invites(ctx, db, now); len(is) != 1 || is[0].ID != w.ID {
			t.Errorf("pending: %+v", is)
		}
		if err := RevokeInvite(ctx, db, by, w.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := AcceptInvite(ctx, db, wt, "wes's password", now); !errors.Is(err, ErrInviteInvalid) {
			t.Errorf("a withdrawn invitation works: %v", err)
		}
		want := []string{
			"cli user.add user:1",
			"user:owner@shop.example user.invite invite:1",
			"user:owner@shop.example user.invite invite:2",
			"user:ana@shop.example user.accept user:2",
			"user:owner@shop.example user.invite invite:3",
			"user:owner@shop.example user.invite_revoke invite:3",
		}
		if got := actions(t, db, "user"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestManageUsers: admins manage everyone but owners; nobody removes or demotes the last
// owner; a removed user's sessions end; role changes apply to open sessions.
func TestManageUsers(t *testing.T) {
	cheapHashes(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		mk := func(email string, r Role) User {
			u, err := CreateUserRole(ctx, db, email, "a long password", r)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		owner := mk("owner@shop.example", RoleOwner)
		admin := mk("admin@shop.example", RoleAdmin)
		mark := mk("mark@shop.example", RoleMarketer)
		asOwner := Acting{Actor: audit.UserActor(owner.Email), Role: RoleOwner}
		asAdmin := Acting{Actor: audit.UserActor(admin.Email), Role: RoleAdmin}
		asMarketer := Acting{Actor: audit.UserActor(mark.Email), Role: RoleMarketer}

		for name, err := range map[string]error{
			"marketer changes a role": func() error { _, err := SetRole(ctx, db, asMarketer, admin.ID, RoleViewer); return err }(),
			"marketer invites": func() error {
				_, _, err := CreateInvite(ctx, db, asMarketer, "x@shop.example", RoleViewer, now)
				return err
			}(),
			"admin demotes an owner": func() error { _, err := SetRole(ctx, db, asAdmin, owner.ID, RoleAdmin); return err }(),
			"admin makes an owner":   func() error { _, err := SetRole(ctx, db, asAdmin, mark.ID, RoleOwner); return err }(),
			"admin invites an owner": func() error {
				_, _, err := CreateInvite(ctx, db, asAdmin, "x@shop.example", RoleOwner, now)
				return err
			}(),
			"admin removes an owner":     func() error { _, err := RemoveUser(ctx, db, asAdmin, owner.ID); return err }(),
			"owner demotes last owner":   func() error { _, err := SetRole(ctx, db, asOwner, owner.ID, RoleAdmin); return err }(),
			"owner removes last owner":   func() error { _, err := RemoveUser(ctx, db, asOwner, owner.ID); return err }(),
			"CLI removes the last owner": func() error { _, err := RemoveUser(ctx, db, CLIActing, owner.ID); return err }(),
		} {
			if err == nil {
				t.Errorf("%s: allowed", name)
			} else if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrLastOwner) {
				t.Errorf("%s: %v, want ErrForbidden or ErrLastOwner", name, err)
			}
		}
		if u, _ := UserByEmail(ctx, db, owner.Email); u.Role != RoleOwner {
			t.Fatalf("the owner is now %s", u.Role)
		}

		// An admin changes a marketer; the open session sees the new role at once.
		sess, err := CreateSession(ctx, db, mark, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SetRole(ctx, db, asAdmin, mark.ID, RoleViewer); err != nil {
			t.Fatal(err)
		}
		if s, err := LookupSession(ctx, db, sess.Token, now); err != nil || s.User.Role != RoleViewer {
			t.Fatalf("session after the role change: %+v %v", s.User, err)
		}
		// With a second owner, the first may step down; then the second is the last.
		if _, err := SetRole(ctx, db, asOwner, admin.ID, RoleOwner); err != nil {
			t.Fatal(err)
		}
		if _, err := SetRole(ctx, db, asOwner, owner.ID, RoleAnalyst); err != nil {
			t.Fatal(err)
		}
		if _, err := RemoveUser(ctx, db, CLIActing, admin.ID); !errors.Is(err, ErrLastOwner) {
			t.Errorf("removed the last owner: %v", err)
		}
		// Removing a user ends their sessions.
		if _, err := RemoveUser(ctx, db, Acting{Actor: audit.UserActor(admin.Email), Role: RoleOwner}, mark.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := LookupSession(ctx, db, sess.Token, now); !errors.Is(err, ErrNoSession) {
			t.Errorf("the removed user's session lives: %v", err)
		}
		if _, err := RemoveUser(ctx, db, CLIActing, mark.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removing twice: %v", err)
		}
		want := []string{
			"user:admin@shop.example user.role user:3",
			"user:owner@shop.example user.role user:2",
			"user:owner@shop.example user.role user:1",
			"user:admin@shop.example user.remove user:3",
		}
		got := actions(t, db, "user.r")
		if len(got) != 0 {
			t.Errorf("the filter user.r matched %v: filters match whole names", got)
		}
		got = append(actions(t, db, "user.role"), actions(t, db, "user.remove")...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
