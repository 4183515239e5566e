package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestCrashDurability runs the real binary, SIGKILLs it while clients are sending, and
// checks that every event acknowledged with a 2xx is in the database afterwards.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the omniroi binary")
	}
	bin := buildOmniroi(t)
	data := t.TempDir()
	src := addSource(t, bin, data)
	cmd, addr, _ := startServe(t, bin, data)

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 5 * time.Second}
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ids := make([]string, 50)
				var b bytes.Buffer
				b.WriteString(`{"batch":[`)
				for j := range ids {
					ids[j] = fmt.Sprintf("crash-%d-%d-%d", c, i, j)
					if j > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"type":"track","event":"Tick","userId":"u%d","messageId":%q}`, c, ids[j])
				}
				b.WriteString(`]}`)
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/batch", &b)
				req.SetBasicAuth(src.WriteKey, "")
				res, err := hc.Do(req)
				if err != nil {
					return // the server is gone
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode/100 == 2 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		})
	}
	// Let a good number of commits happen, then kill mid-stream.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no flush
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the kill")
	}

	db, err := store.Open(context.Background(), store.Config{DataDir: data})
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	defer db.Close()
	rows, err := db.Query(context.Background(), `SELECT message_id FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	missing := 0
	for _, id := range acked {
		if !stored[id] {
			missing++
		}
	}
	if missing > 0 || len(stored) < len(acked) {
		t.Fatalf("%d of %d acknowledged events lost in the crash (%d stored)", missing, len(acked), len(stored))
	}
	t.Logf("%d events acknowledged before SIGKILL, %d stored", len(acked), len(stored))
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// buildOmniroi builds cmd/omniroi once per test binary run.
func buildOmniroi(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	testenv.Need(t, "the go tool is needed to build the omniroi binary", err == nil)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "omniroi-server-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "omniroi")
		build := exec.Command(goBin, "build", "-o", builtBin, "./cmd/omniroi")
		build.Dir = testenv.RepoRoot(t)
		buildOut, buildErr = build.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

type sourceJSON struct {
	WriteKey string `json:"write_key"`
}

func addSource(t *testing.T, bin, data string) sourceJSON {
	t.Helper()
	out, err := exec.Command(bin, "source", "add", "web", "--json", "--data", data).Output()
	if err != nil {
		t.Fatalf("source add: %v", err)
	}
	var src sourceJSON
	if err := json.Unmarshal(out, &src); err != nil || src.WriteKey == "" {
		t.Fatalf("source add --json printed %s (%v)", out, err)
	}
	return src
}

// startServe runs `omniroi serve` on a free port and returns it with its address and
// the lines it logs.
func startServe(t *testing.T, bin, data string) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addrc := make(chan string, 1)
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		re := regexp.MustCompile(`msg=listening addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case addr := <-addrc:
		return cmd, addr, lines
	case <-time.After(15 * time.Second):
		t.Fatal("omniroi serve did not say where it listens")
	}
	return nil, "", nil
}

// TestSIGTERM: omniroi serve shuts down gracefully on SIGTERM and exits 0.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the omniroi binary")
	}
	bin := buildOmniroi(t)
	data := t.TempDir()
	src := addSource(t, bin, data)
	cmd, addr, lines := startServe(t, bin, data)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/track", strings.NewReader(`{"userId":"u","event":"Before Shutdown"}`))
	req.SetBasicAuth(src.WriteKey, "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("track: %d", res.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("omniroi serve exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("omniroi serve did not exit after SIGTERM")
	}
	var log []string
	for l := range lines {
		log = append(log, l)
	}
	if !strings.Contains(strings.Join(log, "\n"), "shutting down") {
		t.Fatalf("no shutdown in the log:\n%s", strings.Join(log, "\n"))
	}
	db, err := store.Open(context.Background(), store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.MaxEventSeq(context.Background()); err != nil || n != 1 {
		t.Fatalf("events after shutdown: %d %v", n, err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}
