package store_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
)

// TestDataDirPrivate: under a permissive umask the data directory is created 0700 and the
// database, its WAL and shared-memory files 0600; a directory and database an older
// version left readable are tightened when opened.
func TestDataDirPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	mode := func(p string) fs.FileMode {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	check := func(dir string) {
		t.Helper()
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, _, err := db.CreateSource(ctx, "web"); err != nil { // a write: the WAL exists
			t.Fatal(err)
		}
		if m := mode(dir); m != 0o700 {
			t.Errorf("data directory %s has mode %o, want 700", dir, m)
		}
		for _, f := range []string{"omniroi.db", "omniroi.db-wal", "omniroi.db-shm"} {
			if m := mode(filepath.Join(dir, f)); m != 0o600 {
				t.Errorf("%s has mode %o, want 600", f, m)
			}
		}
	}
	check(filepath.Join(t.TempDir(), "new", "data"))

	// What an older version left: a 0755 directory with a 0644 database.
	dir := filepath.Join(t.TempDir(), "old")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, p := range []string{dir, filepath.Join(dir, "omniroi.db")} {
		if err := os.Chmod(p, map[bool]fs.FileMode{true: 0o755, false: 0o644}[p == dir]); err != nil {
			t.Fatal(err)
		}
	}
	check(dir)

	// Files written beside the database.
	f := filepath.Join(dir, "ground_truth.json")
	if err := store.WritePrivateFile(f, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if m := mode(f); m != 0o600 {
		t.Errorf("WritePrivateFile made mode %o, want 600", m)
	}
}
