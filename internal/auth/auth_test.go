package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("s3cret-password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=47104,t=1,p=1$") {
		t.Fatalf("hash %q does not carry the documented parameters", h)
	}
	h2, _ := HashPassword("s3cret-password")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"s3cret-password": true, "s3cret-passwort": false, "": false} {
		ok, err := VerifyPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("verify %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// Hashes made with other parameters still verify: they are read from the string.
	cheap, err := hashWith(Params{Time: 2, MemoryKiB: 1024, Threads: 2, KeyLen: 16, SaltLen: 8}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(cheap, "pw"); !ok || err != nil {
		t.Fatalf("verify with stored parameters: %v %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=1024,t=1,p=1$!!$aGFzaA"} {
		if _, err := VerifyPassword(bad, "pw"); !errors.Is(err, ErrBadHash) {
			t.Errorf("VerifyPassword(%q): %v, want ErrBadHash", bad, err)
		}
	}
}

func TestUsersAndSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := CreateUser(ctx, db, "not-an-email", "long enough"); err == nil {
			t.Error("accepted a malformed email")
		}
		if _, err := CreateUser(ctx, db, "a@example.com", "short"); err == nil {
			t.Error("accepted a 5-character password")
		}
		u, err := CreateUser(ctx, db, " A@Example.com ", "long enough")
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "a@example.com" || u.ID == 0 {
			t.Fatalf("user %+v", u)
		}
		if _, err := CreateUser(ctx, db, "a@example.com", "another one"); !errors.Is(err, ErrUserExists) {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := Authenticate(ctx, db, "a@example.com", "wrong password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := Authenticate(ctx, db, "nobody@example.com", "long enough"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("unknown user: %v", err)
		}
		got, err := Authenticate(ctx, db, "A@EXAMPLE.COM", "long enough")
		if err != nil || got.ID != u.ID {
			t.Fatalf("authenticate: %+v %v", got, err)
		}

		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s, err := CreateSession(ctx, db, u, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		back, err := LookupSession(ctx, db, s.Token, now.Add(59*time.Minute))
		if err != nil || back.User.ID != u.ID || back.CSRF != s.CSRF || !back.CheckCSRF(s.CSRF) || back.CheckCSRF(s.CSRF+"x") {
			t.Fatalf("lookup: %+v %v", back, err)
		}
		if _, err := LookupSession(ctx, db, s.Token, now.Add(time.Hour)); !errors.Is(err, ErrNoSession) {
			t.Fatalf("expired session: %v", err)
		}
		if _, err := LookupSession(ctx, db, s.Token+"x", now); !errors.Is(err, ErrNoSession) {
			t.Fatalf("unknown token: %v", err)
		}
		// A new password ends the user's sessions.
		if err := SetPassword(ctx, db, "a@example.com", "brand new password"); err != nil {
			t.Fatal(err)
		}
		if _, err := LookupSession(ctx, db, s.Token, now); !errors.Is(err, ErrNoSession) {
			t.Fatalf("session survived a password change: %v", err)
		}
		if _, err := Authenticate(ctx, db, "a@example.com", "brand new password"); err != nil {
			t.Fatal(err)
		}
		s2, _ := CreateSession(ctx, db, u, now, time.Hour)
		if err := DeleteSession(ctx, db, s2.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := LookupSession(ctx, db, s2.Token, now); !errors.Is(err, ErrNoSession) {
			t.Fatalf("deleted session: %v", err)
		}
		s3, _ := CreateSession(ctx, db, u, now, time.Minute)
		if n, err := DeleteExpiredSessions(ctx, db, now.Add(2*time.Minute)); err != nil || n != 1 {
			t.Fatalf("delete expired: %d %v", n, err)
		}
		_ = s3
		users, err := Users(ctx, db)
		if err != nil || len(users) != 1 {
			t.Fatalf("users: %v %v", users, err)
		}
	})
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := NewLimiter(2, time.Minute)
	t0 := time.Unix(1000, 0)
	if ok, _ := l.Allowed("k", t0); !ok {
		t.Fatal("fresh key refused")
	}
	l.Fail("k", t0)
	l.Fail("k", t0.Add(10*time.Second))
	ok, wait := l.Allowed("k", t0.Add(20*time.Second))
	if ok || wait != 40*time.Second {
		t.Fatalf("after 2 failures: %v %s, want refused for 40s", ok, wait)
	}
	if ok, _ := l.Allowed("other", t0); !ok {
		t.Fatal("keys are not independent")
	}
	if ok, _ := l.Allowed("k", t0.Add(61*time.Second)); !ok {
		t.Fatal("the first failure did not age out")
	}
	l.Reset("k")
	l.Fail("k", t0.Add(62*time.Second))
	if ok, _ := l.Allowed("k", t0.Add(62*time.Second)); !ok {
		t.Fatal("reset did not clear the failures")
	}
}
