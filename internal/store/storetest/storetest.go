// Package storetest opens fresh databases for tests: SQLite in a temp dir always, and
// PostgreSQL when OMNIROI_TEST_PG holds a DSN (each test gets a database of its own).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
	if testing.Short() {
		// go test -short: commits skip the fsync (synchronous=NORMAL; a commit still
		// survives a crash of the process, not a power cut). A test's thousands of small
		// commits waited on the disk for most of their time on a busy machine. Without
		// -short, as CI runs, the store keeps production's synchronous=FULL.
		if _, err := db.RelaxSync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// PostgresDSN creates a new empty database on the server named by OMNIROI_TEST_PG and
// returns its DSN; the database is dropped at cleanup.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return newPostgres(t, "")
}

// Postgres opens a new PostgreSQL database, migrated, closed and dropped at cleanup. It is
// a copy of a template database migrated once per server and schema (see
// migratedTemplate): creating a database and applying every migration took 5-7 s per
// test on a loaded 2-core machine, copying the template a fraction of that.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	base := os.Getenv("OMNIROI_TEST_PG")
	testenv.Need(t, "PostgreSQL tests need OMNIROI_TEST_PG=postgres://user@host/db (see .ci/run)", base != "")
	tmpl, err := migratedTemplate(base)
	if err != nil {
		t.Fatalf("migrated template database: %v", err)
	}
	dsn := newPostgres(t, tmpl)
	db, err := store.Open(context.Background(), store.Config{DSN: dsn, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newPostgres creates a database on the server named by OMNIROI_TEST_PG, empty or a copy
// of template, dropped at cleanup, and returns its DSN.
func newPostgres(t testing.TB, template string) string {
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
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if err := retryInUse(func() error { _, err := admin.Exec(create); return err }); err != nil {
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
	return withDatabase(t, base, name)
}

func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OMNIROI_TEST_PG is not a URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// retryInUse runs f until it succeeds, fails otherwise than with PostgreSQL's "object in
// use" (a database copied or renamed while a session that just closed is still leaving
// it), or 30 s have passed.
func retryInUse(f func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // polling, with the deadline above
	}
}

var pgTemplate struct {
	once sync.Once
	name string
	err  error
}

// migratedTemplate returns the name of a database on base's server holding this
// binary's migrations and nothing else, named by store.SchemaDigest. The first test
// process to need it builds it, under an advisory lock that makes the others wait and
// then find it; later runs with the same migrations reuse it. A template left by other
// migrations (another branch) is left alone: its name differs.
func migratedTemplate(base string) (string, error) {
	pgTemplate.once.Do(func() { pgTemplate.name, pgTemplate.err = buildTemplate(base) })
	return pgTemplate.name, pgTemplate.err
}

func buildTemplate(base string) (string, error) {
	ctx := context.Background()
	name := "omniroi_tmpl_" + store.SchemaDigest()[:16]
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7001)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7001)`)
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		return name, nil
	}
	// Built under another name and renamed when complete, so a process killed halfway
	// leaves no template that looks finished.
	building := name + "_building"
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + building
	dir, err := os.MkdirTemp("", "omniroi-template")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{DSN: u.String(), DataDir: dir})
	if err != nil {
		return "", err
	}
	if err := db.Close(); err != nil {
		return "", err
	}
	err = retryInUse(func() error {
		_, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name)
		return err
	})
	if err != nil {
		return "", err
	}
	return name, nil
}
