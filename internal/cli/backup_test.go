package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// derivedTables are rebuilt from the event log by `omniroi rebuild`.
var derivedTables = []string{"customers", "identities", "identity_conflicts", "customer_merges", "activity", "orders", "refunds"}

// TestBackupRestoreSQLite: a demo's data directory is backed up and restored into a new
// one; every table holds the same rows, the data directory's files come back byte for
// byte, and a rebuild of the restored copy gives the same derived tables.
func TestBackupRestoreSQLite(t *testing.T) {
	testenv.Slow(t, "backup and restore of a demo")
	data := t.TempDir()
	mustCLI(t, "demo", "--customers", "120", "--no-serve", "--data", data)
	backup := filepath.Join(t.TempDir(), "omniroi.backup")
	mustCLI(t, "backup", backup, "--data", data)
	st, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode %v, want 0600", st.Mode().Perm())
	}
	checkIntegrity(t, backup)

	restored := filepath.Join(t.TempDir(), "restored")
	out := mustCLI(t, "restore", backup, "--data", restored)
	if !strings.Contains(out, "ground_truth.json") {
		t.Errorf("restore does not name the files it restored: %s", out)
	}
	src := openDir(t, data)
	dst := openDir(t, restored)
	want, got := tableSums(t, src), tableSums(t, dst)
	delete(want, "leases")
	delete(got, "leases")
	if len(want) < 20 {
		t.Fatalf("only %d tables in the source: %v", len(want), want)
	}
	compareSums(t, "restored", want, got)
	if want["events"].rows < 1000 {
		t.Errorf("the demo stored %d events, want a real log", want["events"].rows)
	}
	for _, f := range backupFiles {
		a, err := os.ReadFile(filepath.Join(data, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(restored, f))
		if err != nil {
			t.Errorf("restored data directory: %v", err)
		} else if !bytes.Equal(a, b) {
			t.Errorf("%s differs after restore", f)
		}
	}
	if _, err := os.Stat(filepath.Join(restored, "outbox")); err == nil {
		t.Errorf("the demo's outbox was restored; backups leave it out")
	}

	// The restored copy rebuilds to the same derived data as it was restored with.
	dst.Close()
	mustCLI(t, "rebuild", "--data", restored)
	dst = openDir(t, restored)
	rebuilt := tableSums(t, dst)
	for _, tb := range derivedTables {
		if rebuilt[tb] != got[tb] {
			t.Errorf("%s after rebuild of the restored copy: %+v, restored %+v", tb, rebuilt[tb], got[tb])
		}
		if got[tb].rows == 0 && tb != "refunds" && tb != "identity_conflicts" {
			t.Errorf("%s is empty: the comparison proves little", tb)
		}
	}

	// Refusals, each with a clear message and nothing written.
	if code, _, errs := runCLI(t, "backup", backup, "--data", data); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("backup over an existing file: exit %d, %s", code, errs)
	}
	if code, _, errs := runCLI(t, "restore", backup, "--data", restored); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("restore into a non-empty directory: exit %d, %s", code, errs)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if code, _, errs := runCLI(t, "backup", filepath.Join(t.TempDir(), "b"), "--data", missing); code != 1 || !strings.Contains(errs, "no database") {
		t.Errorf("backup of a missing data directory: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("backup created the missing data directory %s", missing)
	}
	notBackup := filepath.Join(t.TempDir(), "fresh")
	if code, _, errs := runCLI(t, "restore", filepath.Join(data, "omniroi.db"), "--data", notBackup); code != 1 || !strings.Contains(errs, "not an omniroi backup") {
		t.Errorf("restore of a live database file: exit %d, %s", code, errs)
	}
	if code, _, errs := runCLI(t, "restore", filepath.Join(data, "ground_truth.json"), "--data", notBackup); code != 1 || !strings.Contains(errs, "not an omniroi backup") {
		t.Errorf("restore of a JSON file: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(notBackup, "omniroi.db")); err == nil {
		t.Errorf("a refused restore left a database in %s", notBackup)
	}
}

// TestBackupWhileWriting backs up while a server takes events through the collection API
// and its processor derives them, until one backup overlaps acknowledged writes. The copy
// is intact, holds every event acknowledged before the backup began, and its event log is
// a prefix of the source's: every event up to its last seq, identical, and nothing else.
func TestBackupWhileWriting(t *testing.T) {
	testenv.Slow(t, "backups beside a serving server")
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		db, err := store.Open(context.Background(), store.Config{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		backupWhileWriting(t, db, []string{"--data", data}, func(t *testing.T, file string) *store.DB {
			checkIntegrity(t, file)
			restored := filepath.Join(t.TempDir(), "restored")
			mustCLI(t, "restore", file, "--data", restored)
			return openDir(t, restored)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		_, err := exec.LookPath("pg_dump")
		testenv.Need(t, "PostgreSQL backups need pg_dump and pg_restore on PATH", err == nil)
		dsn := storetest.PostgresDSN(t)
		db, err := store.Open(context.Background(), store.Config{DSN: dsn, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		backupWhileWriting(t, db, []string{"--db", dsn}, func(t *testing.T, file string) *store.DB {
			target := storetest.PostgresDSN(t)
			mustCLI(t, "restore", file, "--db", target)
			r, err := store.Open(context.Background(), store.Config{DSN: target})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		})
	})
}

func backupWhileWriting(t *testing.T, db *store.DB, where []string, open func(t *testing.T, file string) *store.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.New(db, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	startProcessor(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	_, key, err := db.CreateSource(ctx, "backup test")
	if err != nil {
		t.Fatal(err)
	}

	// One writer posts batches of 25 events; acked counts the batches answered 200.
	const perBatch = 25
	var acked atomic.Int64
	var werr error
	var wg sync.WaitGroup
	wctx, stopWriting := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		url := "http://" + ln.Addr().String() + "/v1/batch"
		for b := 0; wctx.Err() == nil; b++ {
			var body strings.Builder
			body.WriteString(`{"batch":[`)
			for i := range perBatch {
				n := b*perBatch + i
				if i > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, `{"type":"track","event":"Product Viewed","userId":"u-%d","messageId":"m-%d","properties":{"n":%d,"price":%d.5}}`, n%97, n, n, n%40)
			}
			body.WriteString(`]}`)
			req, _ := http.NewRequestWithContext(wctx, "POST", url, strings.NewReader(body.String()))
			req.SetBasicAuth(key, "")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if wctx.Err() == nil {
					werr = err
				}
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				werr = fmt.Errorf("batch %d: HTTP %d", b, resp.StatusCode)
				return
			}
			acked.Add(1)
		}
	}()
	waitFor(t, 20*time.Second, "40 acknowledged batches", func() bool { return acked.Load() >= 40 || werr != nil })
	// The copy's derived data is checked below, so there must be some: on a busy machine
	// the processor's first transaction can come after the first backup.
	waitFor(t, 60*time.Second, "processed events", func() bool {
		cur, ok, err := db.Setting(ctx, "processor.cursor")
		return err == nil && ok && atoi(cur) > 0
	})

	// Back up until one backup ran while batches were acknowledged.
	var file string
	var before int64
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		file = filepath.Join(t.TempDir(), fmt.Sprintf("b%d", i))
		before = acked.Load()
		mustCLI(t, append([]string{"backup", file}, where...)...)
		if acked.Load() > before+1 {
			break
		}
		if time.Now().After(deadline) || werr != nil {
			t.Fatalf("no backup overlapped the writes within 60 s (writer: %v)", werr)
		}
	}
	stopWriting()
	wg.Wait()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}

	cp := open(t, file)
	var n, last int64
	if err := cp.QueryRow(context.Background(), `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events`).Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	// Every event acknowledged before the backup began is in the copy.
	for b := range before {
		for i := range perBatch {
			id := fmt.Sprintf("m-%d", b*perBatch+int64(i))
			var k int
			if err := cp.QueryRow(context.Background(), `SELECT COUNT(*) FROM events WHERE message_id = ?`, id).Scan(&k); err != nil || k != 1 {
				t.Fatalf("event %s, acknowledged before the backup began, is not in the copy (%d, %v)", id, k, err)
			}
		}
	}
	// The copy's log is the source's log up to its last seq.
	srcN, srcSum := eventLogSum(t, db, last)
	cpN, cpSum := eventLogSum(t, cp, last)
	if srcN != n || cpN != n || srcSum != cpSum {
		t.Fatalf("copy holds %d events up to seq %d (sum %s); the source holds %d up to there (sum %s)", cpN, last, cpSum, srcN, srcSum)
	}
	var total int64
	db.QueryRow(context.Background(), `SELECT COUNT(*) FROM events`).Scan(&total)
	if total <= n {
		t.Fatalf("the source holds %d events and the copy %d: no write after the backup", total, n)
	}
	// Derived data in the copy never runs ahead of its log.
	if cur, ok, err := cp.Setting(context.Background(), "processor.cursor"); err != nil || !ok || atoi(cur) > last || atoi(cur) == 0 {
		t.Errorf("processor cursor in the copy %q (%v, %v), last event %d", cur, ok, err, last)
	}
	var ahead int64
	cp.QueryRow(context.Background(), `SELECT COUNT(*) FROM customers WHERE id > ?`, last).Scan(&ahead)
	if ahead > 0 {
		t.Errorf("%d customers in the copy come from events it does not hold", ahead)
	}
	t.Logf("copy: %d of %d events; %d batches acknowledged before the backup began", n, total, before)
}

func atoi(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("omniroi %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openDir(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkIntegrity opens a backup file on its own and runs PRAGMA integrity_check.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var res string
	if err := c.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of %s: %q, %v", path, res, err)
	}
	var n int64
	if err := c.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		t.Fatalf("the backup has no readable event log: %v", err)
	}
}

// eventLogSum is the number and a checksum of the events with seq <= upTo, every column.
func eventLogSum(t *testing.T, db *store.DB, upTo int64) (int64, string) {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT seq, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body FROM events WHERE seq <= ? ORDER BY seq`, upTo)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	h := sha256.New()
	var n int64
	for rows.Next() {
		var seq, src, ts, rec int64
		var mid, typ, name, uid, aid, body string
		if err := rows.Scan(&seq, &src, &mid, &typ, &name, &uid, &aid, &ts, &rec, &body); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d\x00%d\x00%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s\n", seq, src, mid, typ, name, uid, aid, ts, rec, body)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

type tableSum struct {
	rows int64
	sum  string
}

// tableSums is, per table, the row count and a checksum of its rows (order-independent).
func tableSums(t *testing.T, db *store.DB) map[string]tableSum {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect == store.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := db.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]tableSum{}
	for _, tb := range tables {
		r, err := db.Query(ctx, `SELECT * FROM `+tb)
		if err != nil {
			t.Fatalf("read %s: %v", tb, err)
		}
		cols, _ := r.Columns()
		var lines []string
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for r.Next() {
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v\x00", v)
			}
			lines = append(lines, b.String())
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		slices.Sort(lines)
		h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[tb] = tableSum{rows: int64(len(lines)), sum: hex.EncodeToString(h[:8])}
	}
	return out
}

func compareSums(t *testing.T, what string, want, got map[string]tableSum) {
	t.Helper()
	for tb, w := range want {
		g, ok := got[tb]
		switch {
		case !ok:
			t.Errorf("%s: table %s is missing", what, tb)
		case g != w:
			t.Errorf("%s: table %s has %d rows (sum %s), the source %d (sum %s)", what, tb, g.rows, g.sum, w.rows, w.sum)
		}
	}
	for tb := range got {
		if _, ok := want[tb]; !ok {
			t.Errorf("%s: table %s is not in the source", what, tb)
		}
	}
}

// TestBackupRestorePostgres: the same round trip on PostgreSQL, through pg_dump and
// pg_restore, and the refusals that are PostgreSQL's own.
func TestBackupRestorePostgres(t *testing.T) {
	testenv.Slow(t, "pg_dump and pg_restore of a demo")
	src := storetest.PostgresDSN(t)
	_, err := exec.LookPath("pg_dump")
	testenv.Need(t, "PostgreSQL backups need pg_dump and pg_restore on PATH", err == nil)
	data := t.TempDir()
	mustCLI(t, "demo", "--customers", "60", "--no-serve", "--db", src, "--data", data)
	backup := filepath.Join(t.TempDir(), "omniroi.dump")
	out := mustCLI(t, "backup", backup, "--db", src, "--data", data)
	if !strings.Contains(out, "ground_truth.json") {
		t.Errorf("a PostgreSQL backup does not say it leaves the data directory's files out: %s", out)
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v", st, err)
	}
	target := storetest.PostgresDSN(t)
	mustCLI(t, "restore", backup, "--db", target)
	open := func(dsn string) *store.DB {
		db, err := store.Open(context.Background(), store.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	want, got := tableSums(t, open(src)), tableSums(t, open(target))
	delete(want, "leases")
	delete(got, "leases")
	compareSums(t, "restored", want, got)
	if want["events"].rows < 500 {
		t.Errorf("the demo stored %d events, want a real log", want["events"].rows)
	}
	mustCLI(t, "rebuild", "--db", target)
	rebuilt := tableSums(t, open(target))
	for _, tb := range derivedTables {
		if rebuilt[tb] != got[tb] {
			t.Errorf("%s after rebuild of the restored copy: %+v, restored %+v", tb, rebuilt[tb], got[tb])
		}
	}

	if code, _, errs := runCLI(t, "restore", backup, "--db", target); code != 1 || !strings.Contains(errs, "not empty") || strings.Contains(errs, ":omniroi@") {
		t.Errorf("restore into a database with tables: exit %d, %s", code, errs)
	}
	if code, _, errs := runCLI(t, "restore", backup, "--data", filepath.Join(t.TempDir(), "d")); code != 1 || !strings.Contains(errs, "PostgreSQL dump") {
		t.Errorf("restore of a dump into a data directory: exit %d, %s", code, errs)
	}
	t.Setenv("PATH", t.TempDir())
	if code, _, errs := runCLI(t, "backup", filepath.Join(t.TempDir(), "b"), "--db", src); code != 1 || !strings.Contains(errs, "pg_dump --format=custom") {
		t.Errorf("backup without pg_dump: exit %d, %s", code, errs)
	}
}
