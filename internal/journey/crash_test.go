package journey

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestSIGKILLNeitherDropsNorRepeats builds a helper binary running the engine, kills it
// with SIGKILL while it is sending, restarts it and checks the sink: every send arrived,
// and duplicates (sends delivered but not yet recorded at the kill) carry the same
// idempotency key, so the receiver keeps each exactly once.
func TestSIGKILLNeitherDropsNorRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "crashtest")
	t0 := time.Now()
	build := exec.Command("go", "build", "-o", bin, "./internal/crashtest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build helper: %v\n%s", err, out)
	}
	t.Logf("helper built in %v", time.Since(t0))
	t.Run("sqlite", func(t *testing.T) {
		data := filepath.Join(dir, "data")
		crashRun(t, bin, store.Config{DataDir: data}, []string{"-data", data})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		crashRun(t, bin, store.Config{DSN: dsn}, []string{"-dsn", dsn})
	})
}

// crashRun starts the helper on the store, kills it mid-run, restarts it and checks the sink.
func crashRun(t *testing.T, bin string, cfg store.Config, storeArgs []string) {
	ctx := context.Background()
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db, Options{})
	f.now = time.Now()
	f.apply(`name: crash
entry: {event: Visited, key: visit}
holdout: 0
steps:
  - email: {subject: "hi", text: "hi"}
  - sms: {text: "hi"}
`)
	const customers = 150
	for i := int64(1); i <= customers; i++ {
		f.customer(i, consented)
	}
	// Events only: the helper's engine does the rest.
	f.eng = nil
	for i := int64(1); i <= customers; i++ {
		f.n++
		f.trackNoDrain(itoa(i), "u"+itoa(i), "Visited", map[string]any{"visit": "v"})
	}
	f.process()
	db.Close()
	want := customers * 2

	var mu sync.Mutex
	seen := map[string]int{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if VerifySignature([]byte("crash"), r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), mustRead(r), time.Minute) != nil {
			w.WriteHeader(401)
			return
		}
		time.Sleep(3 * time.Millisecond) // widen the window a kill can land in
		mu.Lock()
		seen[r.Header.Get(IdempotencyHeader)]++
		mu.Unlock()
	}))
	defer sink.Close()
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	start := func() *exec.Cmd {
		c := exec.Command(bin, append(storeArgs, "-sink", sink.URL)...)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t1 := time.Now()
	c := start()
	deadline := time.Now().Add(30 * time.Second)
	for distinct() < want/3+7 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	atKill := distinct()
	if atKill >= want {
		t.Fatalf("the kill came too late (%d of %d sent); the test proves nothing", atKill, want)
	}
	c = start()
	defer func() { c.Process.Signal(syscall.SIGTERM); c.Wait() }()
	deadline = time.Now().Add(45 * time.Second)
	for distinct() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if os.Getenv("CRASH_DEBUG") != "" {
			t.Logf("%v %d", time.Since(t1), distinct())
		}
	}
	// Wait until the outbox records every send: a claimed send not yet recorded could
	// still be sent again when its lease expires; once all are recorded as sent, none can.
	db2, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var sent, other, events int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := db2.QueryRow(ctx, `SELECT COUNT(*) FROM journey_sends WHERE status = 'sent'`).Scan(&sent); err != nil {
			t.Fatal(err)
		}
		if err := db2.QueryRow(ctx, `SELECT COUNT(*) FROM journey_sends WHERE status <> 'sent'`).Scan(&other); err != nil {
			t.Fatal(err)
		}
		if sent >= want && other == 0 || time.Now().After(deadline) {
			break
		}
	}
	if err := db2.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE name IN ('Email Sent', 'SMS Sent')`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("sending took %v in all", time.Since(t1))
	t.Logf("killed after %d of %d sends; redelivered with the same key after restart: %d", atKill, want, dups)
	if len(seen) != want {
		t.Fatalf("sink saw %d distinct sends, want %d", len(seen), want)
	}
	if sent != want || other != 0 || events != want {
		t.Fatalf("outbox: %d sent, %d not sent, %d sent events; want %d, 0, %d", sent, other, events, want, want)
	}
	if dups > 20 {
		t.Errorf("%d redeliveries: more than one claimed batch (20) was in flight", dups)
	}
}

func mustRead(r *http.Request) []byte {
	b := make([]byte, 0, 512)
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			return b
		}
	}
}
