package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A SQLite backup is one SQLite database file: a VACUUM INTO copy of the live database
// (one read transaction, so it is a consistent snapshot while writers go on), plus two
// tables of its own: omniroi_backup (what the backup is) and omniroi_backup_files (the
// data-directory files it carries). Restore drops both tables again.

// BackupFormat is the layout version written into every backup.
const BackupFormat = 1

const (
	backupInfoTable  = "omniroi_backup"
	backupFilesTable = "omniroi_backup_files"
	// SQLiteFile is the database file's name inside the data directory.
	SQLiteFile = "omniroi.db"
)

// BackupInfo describes a backup. SQLite backups carry it inside the file.
type BackupInfo struct {
	Format     int       `json:"format"`
	Dialect    Dialect   `json:"dialect"`
	CreatedAt  time.Time `json:"created_at"`
	Version    string    `json:"omniroi_version"`
	Migrations []string  `json:"migrations"`     // applied schema migrations, in order
	Events     int64     `json:"events"`         // events in the copy
	LastSeq    int64     `json:"last_event_seq"` // the highest event seq in the copy
	Files      []string  `json:"files"`          // data-directory files inside the backup
	Path       string    `json:"path"`
	Bytes      int64     `json:"bytes"`
}

// Schema is the last migration the backup's database had applied.
func (b *BackupInfo) Schema() string {
	if len(b.Migrations) == 0 {
		return ""
	}
	return b.Migrations[len(b.Migrations)-1]
}

// BackupOptions configure a backup.
type BackupOptions struct {
	Version string   // the omniroi version recorded in the backup
	Files   []string // names of files in the data directory to carry when they exist
}

// ErrNotEmpty is returned by a restore whose target already holds something.
var ErrNotEmpty = errors.New("the restore target is not empty")

// SQLitePath is the database file of a data directory ("" means omniroi-data).
func SQLitePath(dataDir string) string {
	if dataDir == "" {
		dataDir = "omniroi-data"
	}
	return filepath.Join(dataDir, SQLiteFile)
}

// OpenExisting opens a database that must already exist, without applying migrations:
// for backups, which copy what is there and must never create an empty database in a
// mistyped directory nor upgrade the data before it is saved.
func OpenExisting(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.DSN != "" {
		db, err := openPostgres(ctx, cfg.DSN)
		if err != nil {
			return nil, err
		}
		db.DataDir = cfg.DataDir
		return db, nil
	}
	path := SQLitePath(cfg.DataDir)
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (is --data right?)", path)
		}
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	db, err := openSQLite(ctx, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	db.DataDir = cfg.DataDir
	return db, nil
}

// BackupSQLite writes a consistent copy of the database, and the named data-directory
// files that exist, to dst, which must not exist yet. The copy is made through a
// connection of the read pool in one read transaction, so writers (in this process or in
// a running server) are not held up. dst is created 0600 and appears only when complete
// and checked (PRAGMA integrity_check).
func (db *DB) BackupSQLite(ctx context.Context, dst string, opt BackupOptions) (*BackupInfo, error) {
	if db.Dialect != SQLite {
		return nil, errors.New("backup: this database is PostgreSQL; use pg_dump (see docs/operations.md)")
	}
	dst, err := filepath.Abs(dst)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dst); err == nil {
		return nil, fmt.Errorf("%s already exists: give the backup a new name (e.g. with the date) or remove the old file first", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// VACUUM INTO wants a file that does not exist or is empty: an empty temp file made
	// 0600 here keeps the copy private from its first byte.
	tmpf, err := os.CreateTemp(filepath.Dir(dst), ".omniroi-backup-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create backup file: %w", err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmp)
			os.Remove(tmp + "-journal")
		}
	}()
	if err := db.vacuumInto(ctx, tmp); err != nil {
		return nil, err
	}
	info := &BackupInfo{Format: BackupFormat, Dialect: SQLite, CreatedAt: time.Now().UTC().Truncate(time.Second), Version: opt.Version, Path: dst}
	if err := finishBackup(ctx, tmp, db.DataDir, opt.Files, info); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := publish(tmp, dst); err != nil {
		return nil, err
	}
	done = true
	if st, err := os.Stat(dst); err == nil {
		info.Bytes = st.Size()
	}
	return info, nil
}

// vacuumInto runs VACUUM INTO on a read-pool connection. The read pool is query_only,
// which SQLite counts VACUUM INTO against; the connection is switched for the one
// statement and then discarded, so no writable connection goes back into the pool.
func (db *DB) vacuumInto(ctx context.Context, path string) error {
	conn, err := db.R.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("backup: copy the database: %w", err)
	}
	return nil
}

// finishBackup checks the fresh copy at path and adds the backup's own tables to it.
func finishBackup(ctx context.Context, path, dataDir string, files []string, info *BackupInfo) error {
	c, err := openFile(path, false)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := integrityCheck(ctx, c); err != nil {
		return fmt.Errorf("backup: the copy failed its check: %w", err)
	}
	if info.Migrations, err = migrationNames(ctx, c); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := c.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events`).Scan(&info.Events, &info.LastSeq); err != nil {
		return fmt.Errorf("backup: count events: %w", err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TABLE ` + backupInfoTable + ` (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE ` + backupFilesTable + ` (name TEXT PRIMARY KEY, body BLOB NOT NULL)`,
		// Leases name the processes that held them when the copy was made; none of them
		// runs on a restored copy.
		`DELETE FROM leases`,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	info.Files = []string{}
	for _, name := range files {
		if !safeFileName(name) {
			return fmt.Errorf("backup: %q is not a plain file name", name)
		}
		p := filepath.Join(dataDirOrDefault(dataDir), name)
		st, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+backupFilesTable+` (name, body) VALUES (?, ?)`, name, body); err != nil {
			return fmt.Errorf("backup: store %s: %w", name, err)
		}
		info.Files = append(info.Files, name)
	}
	js, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+backupInfoTable+` (key, value) VALUES ('info', ?)`, string(js)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return tx.Commit()
}

// ReadBackup opens a SQLite backup read-only, checks it and returns its description.
func ReadBackup(ctx context.Context, path string) (*BackupInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fileStarts(path, "PGDMP") {
		return nil, fmt.Errorf("%s is a PostgreSQL dump: restore it into a database with omniroi restore %s --db DSN", path, path)
	}
	c, err := openFile(path, true)
	if err != nil {
		return nil, fmt.Errorf("%s is not an omniroi backup: %w", path, err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, backupInfoTable).Scan(&n); err != nil {
		return nil, fmt.Errorf("%s is not an omniroi backup: %w", path, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s is not an omniroi backup (it has no %s table); make backups with omniroi backup", path, backupInfoTable)
	}
	var js string
	if err := c.QueryRowContext(ctx, `SELECT value FROM `+backupInfoTable+` WHERE key = 'info'`).Scan(&js); err != nil {
		return nil, fmt.Errorf("%s: read the backup's description: %w", path, err)
	}
	info := new(BackupInfo)
	if err := json.Unmarshal([]byte(js), info); err != nil {
		return nil, fmt.Errorf("%s: the backup's description: %w", path, err)
	}
	if info.Format != BackupFormat {
		return nil, fmt.Errorf("%s is a backup of format %d; this omniroi reads format %d", path, info.Format, BackupFormat)
	}
	if err := integrityCheck(ctx, c); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", path, err)
	}
	info.Path, _ = filepath.Abs(path)
	info.Bytes = st.Size()
	return info, nil
}

// RestoreSQLite restores a backup made by BackupSQLite into dataDir, which must be
// empty or not exist. The database is put in place last, after the files it carries.
// It keeps the backup's schema: the next omniroi serve applies the migrations its
// version has, so a backup taken before an upgrade can be served by the old version.
func RestoreSQLite(ctx context.Context, src, dataDir string) (*BackupInfo, error) {
	info, err := ReadBackup(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := knownMigrations(info); err != nil {
		return nil, err
	}
	dir := dataDirOrDefault(dataDir)
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	tmpf, err := os.CreateTemp(dir, ".omniroi-restore-*.tmp")
	if err != nil {
		return nil, err
	}
	tmp := tmpf.Name()
	done := false
	defer func() {
		if !done {
			os.Remove(tmp)
			os.Remove(tmp + "-journal")
		}
	}()
	in, err := os.Open(src)
	if err != nil {
		tmpf.Close()
		return nil, err
	}
	_, err = io.Copy(tmpf, in)
	in.Close()
	if err == nil {
		err = tmpf.Sync()
	}
	if cerr := tmpf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := unpackBackup(ctx, tmp, dir); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, SQLitePath(dir)); err != nil {
		return nil, err
	}
	done = true
	syncDir(dir)
	return info, nil
}

// unpackBackup writes the files a backup carries into dir and drops the backup's tables.
func unpackBackup(ctx context.Context, path, dir string) error {
	c, err := openFile(path, false)
	if err != nil {
		return err
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, `SELECT name, body FROM `+backupFilesTable+` ORDER BY name`)
	if err != nil {
		return fmt.Errorf("restore: read the files: %w", err)
	}
	type file struct {
		name string
		body []byte
	}
	var files []file
	for rows.Next() {
		var f file
		if err := rows.Scan(&f.name, &f.body); err != nil {
			rows.Close()
			return err
		}
		files = append(files, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range files {
		if !safeFileName(f.name) {
			return fmt.Errorf("restore: the backup carries a file named %q, which is not a plain file name", f.name)
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.body); err != nil {
			return fmt.Errorf("restore %s: %w", f.name, err)
		}
	}
	for _, s := range []string{`DROP TABLE ` + backupFilesTable, `DROP TABLE ` + backupInfoTable, `DELETE FROM leases`} {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	return nil
}

// knownMigrations refuses a backup whose schema is newer than this binary's.
func knownMigrations(info *BackupInfo) error {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, m := range info.Migrations {
		if !have[m] {
			return fmt.Errorf("the backup was made by a newer omniroi (its schema has %s, which this version does not know): restore it with that version or a later one", m)
		}
	}
	return nil
}

// openFile opens a single SQLite file outside the store's pools: read-only, or read-write
// in rollback-journal mode so that the file stays self-contained.
func openFile(path string, readOnly bool) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)"
	if readOnly {
		dsn += "&mode=ro"
	} else {
		dsn += "&mode=rw&_pragma=journal_mode(DELETE)&_pragma=synchronous(FULL)"
	}
	c, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	c.SetMaxOpenConns(1)
	if err := c.Ping(); err != nil {
		c.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return c, nil
}

func integrityCheck(ctx context.Context, c *sql.DB) error {
	rows, err := c.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		if len(msgs) > 5 {
			msgs = append(msgs[:5], "...")
		}
		return fmt.Errorf("integrity_check: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// emptyDir fails with ErrNotEmpty when dir exists and holds anything.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	var names []string
	for i, e := range entries {
		if i == 3 {
			names = append(names, "...")
			break
		}
		names = append(names, e.Name())
	}
	return fmt.Errorf("%w: %s holds %s; restore only into an empty or new directory (move the current one aside first)", ErrNotEmpty, dir, strings.Join(names, ", "))
}

func dataDirOrDefault(dir string) string {
	if dir == "" {
		return "omniroi-data"
	}
	return dir
}

// safeFileName accepts a plain file name that is not the database's own.
func safeFileName(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name &&
		!strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, SQLiteFile)
}

// publish moves the finished file tmp to dst without replacing a file that appeared
// there meanwhile (a hard link fails if dst exists), falling back to a rename where the
// file system has no hard links.
func publish(tmp, dst string) error {
	if err := os.Link(tmp, dst); err == nil {
		os.Remove(tmp)
	} else if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists", dst)
	} else if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	syncDir(filepath.Dir(dst))
	return nil
}

func writeFileAtomic(path string, body []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".omniroi-restore-file-*")
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable; file systems that cannot sync a directory are
// ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// fileStarts reports whether the file at path begins with magic.
func fileStarts(path, magic string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(magic))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == magic
}
