package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestRestoreRefusesNewerBackup: a backup whose schema has a migration this binary does
// not know was made by a newer omniroi; restoring it here would run old code on a newer
// schema, so it is refused and nothing is written.
func TestRestoreRefusesNewerBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.SQLite(t)
	file := filepath.Join(t.TempDir(), "b.db")
	info, err := db.BackupSQLite(ctx, file, store.BackupOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Migrations) == 0 || info.Schema() == "" {
		t.Fatalf("backup names no schema: %+v", info)
	}
	// Pretend a newer omniroi made it: one more migration in its description.
	c, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(`UPDATE omniroi_backup SET value = replace(value, '"migrations":[', '"migrations":["9999_from_the_future.sql",') WHERE key = 'info'`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	dir := filepath.Join(t.TempDir(), "restored")
	_, err = store.RestoreSQLite(ctx, file, dir)
	if err == nil || !strings.Contains(err.Error(), "newer omniroi") || !strings.Contains(err.Error(), "9999_from_the_future.sql") {
		t.Fatalf("restore of a newer backup: %v", err)
	}
	if _, err := store.ReadBackup(ctx, file); err != nil {
		t.Fatalf("the backup itself reads fine: %v", err)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*")); len(entries) != 0 {
		t.Fatalf("a refused restore wrote %v", entries)
	}
}

// TestBackupHoldsOnlyLiveRows: a row deleted before the backup leaves its bytes in the
// database file (free space, free pages) until SQLite reuses them; the backup, a VACUUM
// INTO copy, holds only live rows, so an old email is not in it.
func TestBackupHoldsOnlyLiveRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	marker := "deleted-row-marker-5f1c9a@example.com"
	for i := 0; i < 200; i++ {
		v := fmt.Sprintf("kept-%d", i)
		if i == 100 {
			v = marker
		}
		if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, fmt.Sprintf("test.%03d", i), v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `PRAGMA secure_delete = OFF`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM settings WHERE value = ?`, marker); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	live, err := os.ReadFile(store.SQLitePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(live, []byte(marker)) {
		t.Fatal("the deleted row's bytes are not in the database file: this test proves nothing here")
	}
	file := filepath.Join(t.TempDir(), "b.db")
	if _, err := db.BackupSQLite(ctx, file, store.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	copyBytes, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(copyBytes, []byte(marker)) {
		t.Fatal("the backup holds the bytes of a row deleted before it")
	}
	if !bytes.Contains(copyBytes, []byte("kept-199")) {
		t.Fatal("the backup lacks a live row")
	}
}
