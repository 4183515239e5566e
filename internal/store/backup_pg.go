package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// PostgreSQL backups are pg_dump's custom format, made and restored by PostgreSQL's own
// tools: pg_dump reads in one repeatable-read snapshot, so a dump taken while events
// arrive holds a consistent prefix of the event log.

// PGTool finds a PostgreSQL client program (pg_dump, pg_restore) on PATH. The error
// says what to install and which command to run by hand.
func PGTool(name, manual string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not on PATH: install the PostgreSQL client tools of your server's version (Debian and Ubuntu: apt-get install postgresql-client), or run it yourself:\n  %s", name, manual)
	}
	return p, nil
}

// PGConn splits a DSN into what to pass to libpq's tools: a connection string without
// the password, and the password as PGPASSWORD, so that it never shows in a process
// list. A key=value DSN is passed as it is.
func PGConn(dsn string) (conn string, env []string) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.User == nil {
		return dsn, nil
	}
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	return u.String(), env
}

// RedactDSN hides a DSN's password for messages.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// BackupPostgres dumps db, which dsn names, into dst (pg_dump --format=custom), which
// must not exist yet; dst is created 0600 before pg_dump writes into it. The dump reads
// a snapshot exported from a transaction of db, so the counts in the returned
// description are those of the dump.
func (db *DB) BackupPostgres(ctx context.Context, dsn, dst string, opt BackupOptions) (*BackupInfo, error) {
	if db.Dialect != Postgres {
		return nil, errors.New("backup: not a PostgreSQL database")
	}
	conn, env := PGConn(dsn)
	pgDump, err := PGTool("pg_dump", "pg_dump --format=custom --file "+dst+" '"+RedactDSN(dsn)+"'")
	if err != nil {
		return nil, err
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s already exists: give the backup a new name (e.g. with the date) or remove the old file first", dst)
	}
	if err != nil {
		return nil, fmt.Errorf("create backup file: %w", err)
	}
	info := &BackupInfo{Format: BackupFormat, Dialect: Postgres, CreatedAt: time.Now().UTC().Truncate(time.Second), Version: opt.Version, Path: dst, Files: []string{}}
	tx, err := db.R.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		f.Close()
		os.Remove(dst)
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer tx.Rollback()
	var snapshot string
	err = tx.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot)
	if err == nil {
		err = tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events`).Scan(&info.Events, &info.LastSeq)
	}
	if err == nil {
		info.Migrations, err = migrationNames(ctx, tx)
	}
	if err != nil {
		f.Close()
		os.Remove(dst)
		return nil, fmt.Errorf("backup: %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pgDump, "--format=custom", "--no-password", "--snapshot="+snapshot, "--dbname="+conn)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return nil, fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	syncDir(filepath.Dir(dst))
	if st, err := os.Stat(dst); err == nil {
		info.Bytes = st.Size()
	}
	return info, nil
}

// RestorePostgres restores a pg_dump custom-format file into the database dsn names,
// which must hold no tables yet, and clears the leases the dumped processes held. Like
// RestoreSQLite it keeps the dump's schema; omniroi serve migrates it.
func RestorePostgres(ctx context.Context, src, dsn string) (*BackupInfo, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fileStarts(src, "SQLite format 3\x00") {
		return nil, fmt.Errorf("%s is a SQLite backup: restore it into a data directory with omniroi restore %s --data DIR", src, src)
	}
	conn, env := PGConn(dsn)
	pgRestore, err := PGTool("pg_restore", "pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname '"+RedactDSN(dsn)+"' "+src)
	if err != nil {
		return nil, err
	}
	db, err := openPostgres(ctx, dsn)
	if err != nil {
		return nil, err
	}
	var tables int
	err = db.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if tables > 0 {
		return nil, fmt.Errorf("%w: the database %s already has %d tables; restore only into a new, empty database (createdb NAME)", ErrNotEmpty, RedactDSN(dsn), tables)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pgRestore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--no-password", "--dbname="+conn, src)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pg_restore: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	db, err = openPostgres(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open the restored database: %w", err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `DELETE FROM leases`); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	info := &BackupInfo{Format: BackupFormat, Dialect: Postgres, Path: src, Bytes: st.Size(), Files: []string{}}
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events`).Scan(&info.Events, &info.LastSeq); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	info.Migrations, err = migrationNames(ctx, db.R)
	return info, err
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// migrationNames lists the applied migrations in order.
func migrationNames(ctx context.Context, q queryer) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
