// Package storetest opens fresh databases for tests: SQLite in a temp dir always, and
// PostgreSQL when OMNIROI_TEST_PG holds a DSN (each test gets a database of its own).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/testenv"
)

// Each runs fn against SQLite and against PostgreSQL, as subtests "sqlite" and "postgres".
// The PostgreSQL run skips with a reason when OMNIROI_TEST_PG is unset, and fails under CI=true.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a new SQLite database in a temp dir, closed at cleanup.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN creates a new empty database on the server named by OMNIROI_TEST_PG and
// returns its DSN; the database is dropped at cleanup.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("OMNIROI_TEST_PG")
	testenv.Need(t, "PostgreSQL tests need OMNIROI_TEST_PG=postgres://user@host/db (see .ci/run)", base != "")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		testenv.Need(t, "PostgreSQL at OMNIROI_TEST_PG is not reachable: "+err.Error(), false)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "omniroi_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OMNIROI_TEST_PG is not a URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres opens a new PostgreSQL database (see PostgresDSN), closed at cleanup.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	db, err := store.Open(context.Background(), store.Config{DSN: dsn, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
