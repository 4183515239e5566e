package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Log: slog.New(slog.NewTextHandler(&errb, nil))}
	code := Run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func TestSourceAddList(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	code, out, errs := runCLI(t, "source", "add", "web shop", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("source add: %d %s", code, errs)
	}
	var added struct {
		Name     string `json:"name"`
		WriteKey string `json:"write_key"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("source add --json: %v: %s", err, out)
	}
	if !strings.HasPrefix(added.WriteKey, "wk_") {
		t.Fatalf("write key %q", added.WriteKey)
	}
	if code, _, _ := runCLI(t, "source", "add", "--data", data, "web shop"); code != 1 {
		t.Fatalf("duplicate source name: exit %d", code)
	}
	code, out, errs = runCLI(t, "source", "list", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("source list: %d %s", code, errs)
	}
	var list []sourceRow
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("source list --json: %v: %s", err, out)
	}
	if list[0].Name != "web shop" || !strings.HasPrefix(added.WriteKey, strings.TrimSuffix(list[0].KeyHint, "…")) || strings.Contains(out, added.WriteKey) {
		t.Fatalf("listed %+v (key %s)", list[0], added.WriteKey)
	}
	if code, _, _ := runCLI(t, "source"); code != 2 {
		t.Fatalf("bare source: exit %d", code)
	}
}

func TestBenchIngest(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI(t, "bench", "ingest", "--events", "3000", "--clients", "3", "--batch", "100", "--json", "--data", t.TempDir())
	if code != 0 {
		t.Fatalf("bench ingest: %d %s %s", code, out, errs)
	}
	var r IngestResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench ingest --json: %v: %s", err, out)
	}
	if r.Events != 3000 || r.Stored != 3000 || r.EventsPerSec <= 0 || r.P99ms < r.P50ms || r.Commits == 0 {
		t.Fatalf("result %+v", r)
	}
	if code, _, _ := runCLI(t, "bench", "nope"); code != 2 {
		t.Fatalf("unknown bench: exit %d", code)
	}
}

func TestPublicURLOptions(t *testing.T) {
	t.Parallel()
	o, err := publicURLOptions("https://track.example.com/omniroi/")
	if err != nil || o.APIHost != "track.example.com/omniroi/v1" || o.APIProtocol != "https" {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := publicURLOptions("track.example.com"); err == nil {
		t.Fatal("a URL without scheme accepted")
	}
}
