package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestWorkflow drives the commands a user runs, in order, on one data directory:
// a small demo, stats, a customer profile, a rebuild that must give the same customers,
// an idempotent spend import, and the read commands' --json output.
func TestWorkflow(t *testing.T) {
	testenv.Slow(t, "the commands end to end on a demo")
	data := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, append(args, "--data", data)...)
		if code != 0 {
			t.Fatalf("omniroi %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	stats := func() map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(run("stats", "--json")), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	run("demo", "--customers", "120", "--no-serve", "--json")
	if _, err := os.Stat(filepath.Join(data, "ground_truth.json")); err != nil {
		t.Fatalf("demo wrote no ground truth: %v", err)
	}
	before := stats()
	for _, k := range []string{"events", "customers", "identities", "orders", "spend_rows", "sources"} {
		if n, _ := before[k].(float64); n <= 0 {
			t.Errorf("stats %s = %v after the demo, want > 0", k, before[k])
		}
	}
	if lag, _ := before["processor_lag"].(float64); lag != 0 {
		t.Errorf("processor lag %v after demo --no-serve, want 0", lag)
	}

	// A customer merged from several identities, found by its email. Customer ids follow
	// the order the demo's concurrent senders deliver in, so ask the store which one.
	var richest int64
	{
		db, err := store.Open(context.Background(), store.Config{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		err = db.QueryRow(context.Background(), `SELECT customer_id FROM identities WHERE kind = 'email' AND customer_id IN
			(SELECT customer_id FROM identities GROUP BY customer_id HAVING COUNT(*) >= 3) ORDER BY customer_id LIMIT 1`).Scan(&richest)
		db.Close()
		if err != nil {
			t.Fatalf("no demo customer with an email and three identities: %v", err)
		}
	}
	var prof struct {
		ID         int64
		Email      string
		Identities []struct{ Kind, Value string }
		Orders     []json.RawMessage
	}
	id := strconv.FormatInt(richest, 10)
	code, out, _ := runCLI(t, "customer", "show", id, "--json", "--data", data)
	if code != 0 {
		t.Fatalf("customer show %s: exit %d", id, code)
	}
	if err := json.Unmarshal([]byte(out), &prof); err != nil {
		t.Fatal(err)
	}
	if prof.Email != "" {
		if err := json.Unmarshal([]byte(run("customer", "show", prof.Email, "--json")), &prof); err != nil {
			t.Fatal(err)
		}
		if prof.ID != richest {
			t.Errorf("customer show %s found customer %d, want %d", prof.Email, prof.ID, richest)
		}
	} else {
		t.Errorf("customer %d shows no email, though it has one", richest)
	}
	if len(prof.Identities) < 3 {
		t.Errorf("customer %d shows %d identities, want at least 3", richest, len(prof.Identities))
	}
	if code, _, errs := runCLI(t, "customer", "show", "nobody@example.invalid", "--data", data); code == 0 || !strings.Contains(errs, "nobody@example.invalid") {
		t.Errorf("unknown customer: exit %d, stderr %q", code, errs)
	}

	// Rebuilding from the event log gives the same derived counts.
	run("rebuild")
	after := stats()
	for _, k := range []string{"customers", "identities", "merges", "activity", "orders", "refunds"} {
		if before[k] != after[k] {
			t.Errorf("after rebuild %s = %v, before %v", k, after[k], before[k])
		}
	}

	// Importing a spend file twice changes nothing the second time.
	spend := filepath.Join(t.TempDir(), "spend.csv")
	os.WriteFile(spend, []byte("date,channel,campaign,platform,amount,currency\n2026-01-05,Display,banner,manual,40.00,EUR\n2026-01-06,Display,banner,manual,41.00,EUR\n"), 0o644)
	run("import", "spend", spend)
	n1 := stats()["spend_rows"]
	run("import", "spend", spend)
	if n2 := stats()["spend_rows"]; n1 != n2 || n1.(float64) != before["spend_rows"].(float64)+2 {
		t.Errorf("spend rows: %v before, %v after one import, %v after two", before["spend_rows"], n1, n2)
	}

	// The analysis commands answer on the store, as JSON for scripts.
	for _, args := range [][]string{
		{"attribute", "--model", "all", "--format", "json"},
		{"roi", "--format", "json"},
		{"clv", "--format", "json", "--limit", "5", "--skip-pareto"},
		{"segments", "--format", "json"},
		{"cohorts", "--format", "json"},
	} {
		out := run(args...)
		if !json.Valid([]byte(out)) {
			t.Errorf("omniroi %s: output is not JSON: %.200s", strings.Join(args, " "), out)
		}
	}
}

// TestReadCommandsWhileServing: stats, customer show and import work on a data directory
// that a running server holds (its processor lease, its write connection).
func TestReadCommandsWhileServing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if code, _, errs := runCLI(t, "demo", "--customers", "40", "--no-serve", "--data", data); code != 0 {
		t.Fatalf("demo: %s", errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Log: slog.New(slog.NewTextHandler(&errb, nil))}
		done <- Run(ctx, env, []string{"serve", "--addr", "127.0.0.1:0", "--data", data})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}()
	waitForLease(t, data, identity.LeaseName)
	for _, args := range [][]string{{"stats", "--json"}, {"customer", "show", "1"}, {"source", "list"}} {
		if code, out, errs := runCLI(t, append(args, "--data", data)...); code != 0 {
			t.Errorf("omniroi %s while serving: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	// An import while serving appends events; the server's processor derives them.
	orders := filepath.Join(t.TempDir(), "orders.csv")
	os.WriteFile(orders, []byte("order_id,email,timestamp,revenue,currency,location\nT-1,walkin@example.com,2026-01-10T10:00:00Z,12.50,EUR,store\n"), 0o644)
	if code, out, errs := runCLI(t, "import", "orders", orders, "--data", data); code != 0 {
		t.Fatalf("import while serving: exit %d\n%s%s", code, out, errs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, _ := runCLI(t, "customer", "show", "walkin@example.com", "--data", data)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server's processor did not derive the imported order's customer within 15 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitForLease polls the store in data until a process holds the named lease (a server
// that has started its processor), for up to 20 s.
func waitForLease(t *testing.T, data, name string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM leases WHERE name = ? AND expires_at > ?`, name, time.Now().UnixMilli()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process took the %s lease within 20 s", name)
		}
	}
}
