package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// TestAttributeBuildsOldPaths: on a store whose paths table is from an older format,
// attribute and roi build it once (saying so) instead of computing every path from the
// event tables on each run; while a server holds the processor lease they compute from
// the tables, and every run prints the same figures.
func TestAttributeBuildsOldPaths(t *testing.T) {
	data := attrData(t)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, pathstore.ReadySetting, "1") }); err != nil {
		t.Fatal(err)
	}
	ready := func() bool {
		t.Helper()
		ok, err := pathstore.Ready(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	args := []string{"attribute", "--data", data, "--format", "csv", "--ground-truth", "none"}

	// A server holds the lease: this run computes from the tables and leaves the table alone.
	if ok, err := db.AcquireLease(ctx, identity.LeaseName, "server", time.Minute); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	code, fromTables, errs := runCLI(t, args...)
	if code != 0 || !strings.Contains(errs, "a running server holds the processor lease") {
		t.Fatalf("with the lease held: %d %q", code, errs)
	}
	if ready() {
		t.Fatal("the table was built while another process held the lease")
	}
	if err := db.ReleaseLease(ctx, identity.LeaseName, "server"); err != nil {
		t.Fatal(err)
	}

	code, built, errs := runCLI(t, args...)
	if code != 0 || !strings.Contains(errs, "building it once") || !strings.Contains(errs, "paths table built") {
		t.Fatalf("first run: %d %q", code, errs)
	}
	if !ready() {
		t.Fatal("the paths table is still not ready after attribute")
	}
	code, again, errs := runCLI(t, args...)
	if code != 0 || errs != "" {
		t.Fatalf("second run: %d %q", code, errs)
	}
	if built != fromTables || again != fromTables || !strings.Contains(built, "Paid Search") {
		t.Fatalf("figures differ:\nfrom the tables:\n%s\nbuilt:\n%s\nagain:\n%s", fromTables, built, again)
	}

	// roi builds it too.
	if err := db.Write(ctx, func(tx *store.Tx) error { return pathstore.Invalidate(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "roi", "--data", data, "--format", "csv"); code != 0 || !strings.Contains(errs, "paths table built") || !ready() {
		t.Fatalf("roi: %d %q ready=%v", code, errs, ready())
	}
}
