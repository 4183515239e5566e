package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivacyCommand: import a person, export them, erase them by phone, and check that a
// rebuild does not bring them back and that the erasure is listed without their details.
func TestPrivacyCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	lines := strings.Join([]string{
		`{"type":"page","anonymousId":"anon-cli-1","name":"Home","messageId":"p1"}`,
		`{"type":"identify","userId":"u-cli","anonymousId":"anon-cli-1","traits":{"email":"Cli.Person@example.com","phone":"+1 415 555 0199","name":"Cli Person"},"messageId":"i1"}`,
		`{"type":"track","userId":"u-cli","event":"Order Completed","properties":{"order_id":"o-cli","revenue":9.5,"currency":"EUR"},"messageId":"o1"}`,
		`{"type":"identify","userId":"u-other","traits":{"email":"other@example.com"},"messageId":"i2"}`,
	}, "\n") + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "import", "events", file, "--data", data); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "rebuild", "--data", data); code != 0 {
		t.Fatalf("rebuild: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "privacy", "export", "cli.person@example.com", "--data", data)
	var doc struct {
		CustomerID int64             `json:"customer_id"`
		Events     []json.RawMessage `json:"events"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Events) != 3 {
		t.Fatalf("export: %d %s %.300s", code, errs, out)
	}
	exported := filepath.Join(t.TempDir(), "export.json")
	if code, out, _ := runCLI(t, "privacy", "export", "--out", exported, "u-cli", "--user-id", "--data", data); code != 0 || !strings.Contains(out, "3 events, 1 orders") {
		t.Fatalf("export --out: %d %s", code, out)
	}
	if st, err := os.Stat(exported); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", st, err)
	}
	code, out, errs = runCLI(t, "privacy", "erase", "+1 (415) 555-0199", "--reason", "request 12", "--data", data)
	if code != 0 || !strings.Contains(out, "erased customer") || !strings.Contains(out, "events 3") {
		t.Fatalf("erase: %d %s %s", code, out, errs)
	}
	if code, _, _ := runCLI(t, "rebuild", "--data", data); code != 0 {
		t.Fatal("rebuild after the erasure")
	}
	if code, _, _ := runCLI(t, "customer", "show", "u-cli", "--data", data); code == 0 {
		t.Fatal("the rebuild brought the person back")
	}
	if code, _, _ := runCLI(t, "customer", "show", "other@example.com", "--data", data); code != 0 {
		t.Fatal("the other person went too")
	}
	code, out, _ = runCLI(t, "privacy", "erasures", "--json", "--data", data)
	var es []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &es) != nil || len(es) != 1 || es[0]["identifiers_suppressed"].(float64) < 4 {
		t.Fatalf("erasures: %d %s", code, out)
	}
	if strings.Contains(strings.ToLower(out), "cli.person") || strings.Contains(out, "u-cli") {
		t.Fatalf("the erasure list names the person: %s", out)
	}
	// The same file imported again: the person's rows are dropped, the other's are duplicates.
	if code, out, _ := runCLI(t, "import", "events", file, "--json", "--data", data); code != 0 || !strings.Contains(out, `"suppressed": 3`) {
		t.Fatalf("re-import: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "privacy", "retention", "--data", data); code != 0 || !strings.Contains(out, "privacy.retention.events") {
		t.Fatalf("retention: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "privacy", "retention", "--run", "--json", "--data", data); code != 0 || !strings.Contains(out, `"events_minimised": 0`) {
		t.Fatalf("retention --run: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "privacy", "erase", "999", "--data", data); code != 1 || !strings.Contains(errs, "no customer or identifier matches") {
		t.Fatalf("erase of nobody: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "privacy", "erase", "--data", data); code != 2 {
		t.Fatalf("erase without a person: %d, want usage", code)
	}
	if code, out, _ := runCLI(t, "privacy", "unsuppress", "1", "--reason", "came to the shop", "--data", data); code != 0 || !strings.Contains(out, "lifted") {
		t.Fatalf("unsuppress: %d %s", code, out)
	}
}
