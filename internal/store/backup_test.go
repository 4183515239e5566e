package store_test

import (
	"context"
	"database/sql"
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
