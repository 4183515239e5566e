package demo

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
)

func TestLoadEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end load skipped in -short mode")
	}
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := Config{Seed: 2, Customers: 300, End: testEnd}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	rep, err := Load(ctx, db, LoadOptions{Config: cfg, Dir: dir, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		t.Logf("%-14s %.2fs %s", p.Name, p.Seconds, p.Note)
	}
	// Every generated event is stored exactly once, with the generator's own content.
	var stored int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != rep.Summary.Events || rep.EventsAccepted != stored {
		t.Fatalf("generated %d, accepted %d, stored %d", rep.Summary.Events, rep.EventsAccepted, stored)
	}
	var sources int64
	if err := db.QueryRow(ctx, `SELECT COUNT(DISTINCT source_id) FROM events`).Scan(&sources); err != nil {
		t.Fatal(err)
	}
	if int(sources) != len(Sources) {
		t.Errorf("events came from %d sources, want %d", sources, len(Sources))
	}
	// Spend went through the importer.
	var spendRows, spendMinor int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(amount_minor),0) FROM spend`).Scan(&spendRows, &spendMinor); err != nil {
		t.Fatal(err)
	}
	if spendRows == 0 || spendMinor != rep.SpendMinor {
		t.Errorf("spend table: %d rows, %d minor; generated %d minor", spendRows, spendMinor, rep.SpendMinor)
	}
	// The Google Ads and Meta exports land on the same channel, campaign and platform as
	// the generator meant.
	want := map[string][2]int64{}
	for _, r := range rep.Summary.Spend() {
		k := r.Channel + "|" + r.Campaign + "|" + r.Platform
		v := want[k]
		want[k] = [2]int64{v[0] + r.AmountMinor, v[1] + r.Clicks}
	}
	rows, err := db.Query(ctx, `SELECT channel, campaign, platform, SUM(amount_minor), SUM(clicks) FROM spend GROUP BY channel, campaign, platform`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for rows.Next() {
		var ch, camp, plat string
		var amt, clicks int64
		if err := rows.Scan(&ch, &camp, &plat, &amt, &clicks); err != nil {
			t.Fatal(err)
		}
		got[ch+"|"+camp+"|"+plat] = [2]int64{amt, clicks}
	}
	rows.Close()
	if len(got) != len(want) {
		t.Errorf("spend keys: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("spend %s: got %v, want %v", k, got[k], v)
		}
	}
	// The processor caught up and derived customers and orders.
	st := rep.Stats
	t.Logf("stats: %+v", st)
	if st.Lag != 0 || st.Customers == 0 || st.Orders == 0 {
		t.Errorf("processor stats: %+v", st)
	}
	if st.Orders != rep.Summary.Orders || st.SkippedOrders != 0 || st.Conflicts != 0 {
		t.Errorf("processor derived %d orders (%d skipped, %d identity conflicts) from %d generated",
			st.Orders, st.SkippedOrders, st.Conflicts, rep.Summary.Orders)
	}
	// ground_truth.json is on disk and readable.
	gt, err := ReadGroundTruth(filepath.Join(dir, GroundTruthFile))
	if err != nil {
		t.Fatal(err)
	}
	if gt.Baseline.Conversions != rep.Summary.Orders || len(gt.Channels) == 0 {
		t.Errorf("ground truth on disk: %+v", gt.Baseline)
	}
	// A second load into the same store is refused.
	if _, err := Load(ctx, db, LoadOptions{Config: cfg, Dir: dir, Log: log}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second load: %v, want ErrNotEmpty", err)
	}
}
