// Package store opens the database (SQLite by default, PostgreSQL when a DSN is given),
// applies migrations and holds the raw SQL shared by the domains.
//
// Queries are written once with `?` placeholders in the common subset of both SQL
// dialects; Rebind turns them into `$n` for PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dialect names the SQL database behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config says where the data lives: DSN (postgres://...) wins over DataDir.
type Config struct {
	DataDir string
	DSN     string
}

// DB is an open database: a write pool and a read pool. On SQLite the write pool has one
// connection, so writers queue in Go instead of fighting over the file lock.
type DB struct {
	Dialect Dialect
	W       *sql.DB
	R       *sql.DB
	DataDir string // directory for files beside the database (ground truth, exports); set for SQLite and PostgreSQL alike when given
}

// Open opens (and creates) the database and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	var db *DB
	var err error
	if cfg.DSN != "" {
		db, err = openPostgres(ctx, cfg.DSN)
	} else {
		db, err = openSQLite(ctx, cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	db.DataDir = cfg.DataDir
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(ctx context.Context, dir string) (*DB, error) {
	if dir == "" {
		dir = "omniroi-data"
	}
	if err := EnsurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, "omniroi.db")
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	// synchronous(FULL): a commit is on disk before we answer 2xx, power loss included.
	pragmas := "_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(OFF)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	// wal_autocheckpoint(10000) on the writer (the only connection that commits): the WAL
	// is copied back every 40 MB instead of every 4 MB, so a page rewritten by several
	// commits (index leaves, customers) is checkpointed once. Halved checkpoint CPU when
	// processing the demo's 942k events.
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=wal_autocheckpoint(10000)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return &DB{Dialect: SQLite, W: w, R: r}, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	w, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	w.SetMaxOpenConns(8)
	w.SetMaxIdleConns(8)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.PingContext(pctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{Dialect: Postgres, W: w, R: w}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	err := db.W.Close()
	if db.R != db.W {
		err = errors.Join(err, db.R.Close())
	}
	return err
}

// Rebind turns `?` placeholders into `$1, $2, ...` on PostgreSQL.
// Queries must not contain `?` inside string literals.
func (db *DB) Rebind(q string) string { return Rebind(db.Dialect, q) }

// Rebind turns `?` placeholders into `$1, $2, ...` for PostgreSQL.
func Rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Exec runs a write statement outside an explicit transaction.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.W.ExecContext(ctx, db.Rebind(q), args...)
}

// Query reads from the read pool.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.R.QueryContext(ctx, db.Rebind(q), args...)
}

// QueryRow reads one row from the read pool.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.R.QueryRowContext(ctx, db.Rebind(q), args...)
}

// Tx is a write transaction whose statements are rebound for the dialect.
type Tx struct {
	*sql.Tx
	Dialect Dialect
}

func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, Rebind(tx.Dialect, q), args...)
}

func (tx *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, Rebind(tx.Dialect, q), args...)
}

func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, Rebind(tx.Dialect, q), args...)
}

// Write runs fn in one write transaction and commits it, or rolls back on error.
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{Tx: stx, Dialect: db.Dialect}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the embedded migrations in name order, each once. Files are written in
// PostgreSQL's dialect with a few words rewritten for SQLite.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := db.W.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`), name).Scan(&n); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return err
		}
		stmts := string(body)
		if db.Dialect == SQLite {
			stmts = sqliteRewriter.Replace(stmts)
		}
		err = db.Write(ctx, func(tx *Tx) error {
			if db.Dialect == Postgres {
				// Two processes starting at once must not both apply a migration.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7000)`); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil || n > 0 {
					return err
				}
			}
			for _, stmt := range splitSQL(stmts) {
				if _, err := tx.Tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w\n%s", err, stmt)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

var sqliteRewriter = strings.NewReplacer(
	"BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY",
	"BYTEA", "BLOB",
	"DOUBLE PRECISION", "REAL",
)

// splitSQL splits a migration on semicolons at line ends; migrations keep one statement
// per `;`-terminated block and no semicolons inside literals.
func splitSQL(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		var lines []string
		for _, l := range strings.Split(part, "\n") {
			if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "--") {
				continue
			}
			lines = append(lines, l)
		}
		if stmt := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";")); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// SumMinor is an SQL aggregate summing expr, an integer column of money or counts, that
// cannot fail on overflow: SQLite's SUM raises "integer overflow" and PostgreSQL's
// bigint SUM returns a numeric that no longer scans into an int64, so one absurd stored
// amount would take a report down. On SQLite it is TOTAL (exact while the sum is below
// 2^53, about 9 × 10^15) cast back to an integer, which saturates at int64's bounds; on
// PostgreSQL the exact numeric sum held to int64's bounds. An empty set sums to 0.
func SumMinor(d Dialect, expr string) string {
	if d == Postgres {
		return "LEAST(GREATEST(COALESCE(SUM(" + expr + "), 0), -9223372036854775808), 9223372036854775807)::BIGINT"
	}
	return "CAST(TOTAL(" + expr + ") AS INTEGER)"
}

// SumMinor is SumMinor for db's dialect.
func (db *DB) SumMinor(expr string) string { return SumMinor(db.Dialect, expr) }
