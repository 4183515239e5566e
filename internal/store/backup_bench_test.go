package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// BenchmarkBackup compares ways to copy a live SQLite database of 200,000 events
// (docs/decisions.md, "Backups"):
//
//   - vacuum_into: VACUUM INTO, what omniroi backup uses (one read transaction);
//   - backup_api: SQLite's online backup API in one step (sqlite3_backup_step(-1));
//   - omniroi: store.BackupSQLite, VACUUM INTO plus the integrity check of the copy and
//     the backup's own tables.
//
// go test ./internal/store -run '^$' -bench Backup -benchtime 3x
func BenchmarkBackup(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fillEvents(b, db, 200_000)
	st, err := os.Stat(store.SQLitePath(dir))
	if err != nil {
		b.Fatal(err)
	}
	size := st.Size()
	b.Logf("database: %.1f MB", float64(size)/1e6)
	out := b.TempDir()
	n := 0
	next := func() string { n++; return filepath.Join(out, fmt.Sprintf("copy-%d.db", n)) }

	b.Run("vacuum_into", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			p := next()
			if _, err := db.W.ExecContext(ctx, `VACUUM INTO ?`, p); err != nil {
				b.Fatal(err)
			}
			os.Remove(p)
		}
	})
	b.Run("backup_api", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			p := next()
			conn, err := db.W.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			err = conn.Raw(func(dc any) error {
				bk, err := dc.(interface {
					NewBackup(string) (*sqlite.Backup, error)
				}).NewBackup(p)
				if err != nil {
					return err
				}
				if _, err := bk.Step(-1); err != nil {
					bk.Finish()
					return err
				}
				return bk.Finish()
			})
			conn.Close()
			if err != nil {
				b.Fatal(err)
			}
			os.Remove(p)
		}
	})
	b.Run("omniroi", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			p := next()
			if _, err := db.BackupSQLite(ctx, p, store.BackupOptions{}); err != nil {
				b.Fatal(err)
			}
			os.Remove(p)
		}
	})
}

// fillEvents appends n track events shaped like the demo's (a product view with a page
// context, about 400 bytes of body).
func fillEvents(b *testing.B, db *store.DB, n int) {
	ctx := context.Background()
	src, err := db.EnsureSource(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 5000
	for start := 0; start < n; start += batch {
		evs := make([]event.Event, 0, batch)
		for i := start; i < min(n, start+batch); i++ {
			ts := t0.Add(time.Duration(i) * time.Minute)
			body := fmt.Sprintf(`{"type":"track","event":"Product Viewed","userId":"c-%d","properties":{"product_id":"sku-%d","price":%d.50,"currency":"EUR"},"context":{"page":{"url":"https://bakery.example/p/%d?utm_source=google&utm_medium=cpc","referrer":"https://www.google.com/"},"userAgent":"Mozilla/5.0 (X11; Linux x86_64)"},"messageId":"m-%d","timestamp":"%s"}`,
				i%20000, i%300, i%40, i%300, i, ts.Format(time.RFC3339))
			evs = append(evs, event.Event{SourceID: src.ID, MessageID: fmt.Sprintf("m-%d", i), Type: "track", Name: "Product Viewed",
				UserID: fmt.Sprintf("c-%d", i%20000), Timestamp: ts, ReceivedAt: ts, Body: []byte(body)})
		}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := store.InsertEvents(ctx, tx, evs)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
