package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/store"
)

// backupFiles are the data-directory files a SQLite backup carries: those omniroi itself
// writes there and reads back (the demo's ground truth, which the attribution pages
// compare with, and its spend exports). The demo's outbox/ (copies of simulated
// deliveries, also recorded in the database) is left out.
var backupFiles = demo.Files

func init() {
	b := &Command{
		Name:    "backup",
		Summary: "write a consistent copy of the data to FILE, also while the server runs",
		Usage: `omniroi backup FILE [--data DIR | --db DSN] [--json]

SQLite: FILE is one SQLite database file (created 0600) holding a snapshot of the event
log and everything derived from it, taken while writers go on, plus the data directory's
own files (ground_truth.json and the demo's spend exports). FILE must not exist yet.
PostgreSQL (--db): runs pg_dump --format=custom into FILE; pg_dump must be on PATH.
Restore with omniroi restore FILE into an empty data directory or database.`,
	}
	b.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(b, env)
		pos, err := idParseArgs(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return ErrUsage
		}
		db, err := store.OpenExisting(ctx, store.Config{DataDir: sf.Data, DSN: sf.DB})
		if err != nil {
			return err
		}
		defer db.Close()
		start := time.Now()
		opt := store.BackupOptions{Version: Version, Files: backupFiles}
		var info *store.BackupInfo
		if sf.DB != "" {
			info, err = db.BackupPostgres(ctx, sf.DB, pos[0], opt)
		} else {
			info, err = db.BackupSQLite(ctx, pos[0], opt)
		}
		if err != nil {
			return err
		}
		took := time.Since(start)
		if sf.JSON {
			return PrintJSON(env.Stdout, map[string]any{"backup": info, "seconds": took.Seconds()})
		}
		fmt.Fprintf(env.Stdout, "backed up %d events (schema %s) to %s: %s in %s\n",
			info.Events, info.Schema(), Clean(info.Path), byteSize(info.Bytes), took.Round(time.Millisecond))
		if len(info.Files) > 0 {
			fmt.Fprintf(env.Stdout, "with the data directory's %s\n", strings.Join(info.Files, ", "))
		}
		if sf.DB != "" {
			// A dump holds the database only: name the data-directory files it leaves out.
			var left []string
			for _, f := range backupFiles {
				if _, err := os.Stat(filepath.Join(sf.Data, f)); err == nil {
					left = append(left, f)
				}
			}
			if len(left) > 0 {
				fmt.Fprintf(env.Stdout, "not in the dump: %s in %s; copy them beside it if you need them\n", strings.Join(left, ", "), Clean(sf.Data))
			}
		}
		return nil
	}
	Register(b)

	r := &Command{
		Name:    "restore",
		Summary: "restore a backup made by omniroi backup into an empty data directory or database",
		Usage: `omniroi restore FILE [--data DIR | --db DSN] [--json]

SQLite: DIR must be empty or not exist; it gets the database and the files the backup
carries. PostgreSQL (--db): the database must hold no tables (create one with createdb);
runs pg_restore, which must be on PATH. The restored data keeps the backup's schema:
omniroi serve applies newer migrations when it starts, as always, so a backup taken
before an upgrade can also be served by the version that made it.`,
	}
	r.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(r, env)
		pos, err := idParseArgs(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return ErrUsage
		}
		start := time.Now()
		var info *store.BackupInfo
		where := sf.Data
		if sf.DB != "" {
			info, err = store.RestorePostgres(ctx, pos[0], sf.DB)
			where = store.RedactDSN(sf.DB)
		} else {
			info, err = store.RestoreSQLite(ctx, pos[0], sf.Data)
		}
		if err != nil {
			return err
		}
		if sf.JSON {
			return PrintJSON(env.Stdout, map[string]any{"restored": info, "into": where, "seconds": time.Since(start).Seconds()})
		}
		from := ""
		if !info.CreatedAt.IsZero() {
			from = " (made " + info.CreatedAt.Format(time.RFC3339) + ")"
		}
		fmt.Fprintf(env.Stdout, "restored %d events (schema %s) from %s%s into %s\n",
			info.Events, info.Schema(), Clean(info.Path), from, Clean(where))
		if len(info.Files) > 0 {
			fmt.Fprintf(env.Stdout, "with %s\n", strings.Join(info.Files, ", "))
		}
		if sf.DB != "" {
			fmt.Fprintln(env.Stdout, "start it with: omniroi serve --db DSN")
		} else {
			fmt.Fprintf(env.Stdout, "start it with: omniroi serve --data %s\n", Clean(sf.Data))
		}
		return nil
	}
	Register(r)
}

// byteSize formats n bytes for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
