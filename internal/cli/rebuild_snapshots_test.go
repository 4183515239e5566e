package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// TestRebuildClearsStoredAnalyses: a rebuild derives customers anew (their numbers can
// change under the same data version), so the dashboard's stored analyses go with it.
func TestRebuildClearsStoredAnalyses(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(`{"type":"identify","userId":"u-1","traits":{"email":"one@example.com"},"messageId":"i1"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "import", "events", file, "--data", data); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	epoch, _, err := db.Setting(ctx, identity.EpochSetting)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveSnapshot(ctx, store.AnalysisSnapshot{Key: "value", Version: "v", Format: "f", At: time.Now(), Body: []byte("1")}, identity.EpochSetting, epoch); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, _, errs := runCLI(t, "rebuild", "--data", data); code != 0 {
		t.Fatalf("rebuild: %d %s", code, errs)
	}
	db, err = store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok, err := db.LoadSnapshot(ctx, "value"); err != nil || ok {
		t.Fatalf("stored analysis after the rebuild: %v %v", ok, err)
	}
}
