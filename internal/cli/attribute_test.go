package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/store"
)

// attrData makes a data directory with a few touchpoints, orders and spend rows written
// straight into the derived tables.
func attrData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	seq := int64(0)
	act := func(cid int64, ts time.Time, channel, campaign string) {
		seq++
		if _, err := db.Exec(ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, campaign, source_id)
			VALUES (?, ?, ?, 'page', 'Home', ?, ?, 1)`, seq, cid, ts.UnixMilli(), channel, campaign); err != nil {
			t.Fatal(err)
		}
	}
	order := func(id string, cid int64, ts time.Time, rev int64, channel string) {
		seq++
		if _, err := db.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq)
			VALUES (?, ?, ?, ?, 'EUR', 'web', ?, 1, ?)`, id, cid, ts.UnixMilli(), rev, channel, seq); err != nil {
			t.Fatal(err)
		}
	}
	act(1, day, "Paid Search", "brand")
	order("a", 1, day.Add(time.Hour), 10000, "Paid Search")
	act(2, day, "Paid Social", "fb")
	act(2, day.Add(24*time.Hour), "Email", "newsletter")
	order("b", 2, day.Add(25*time.Hour), 6000, "Email")
	act(3, day, "Paid Social", "fb")
	if _, err := db.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency)
		VALUES ('2026-03-01', 'Paid Search', 'Brand', 'google_ads', 2500, 'EUR')`); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAttributeCommand(t *testing.T) {
	t.Parallel()
	data := attrData(t)
	code, out, errs := runCLI(t, "attribute", "--data", data, "--format", "csv")
	if code != 0 {
		t.Fatalf("attribute csv: %d %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || strings.Join(recs[0], ",") != "model,channel,conversions,revenue,share" {
		t.Fatalf("csv %v: %s", err, out)
	}
	rows := map[string]string{}
	for _, r := range recs[1:] {
		rows[r[0]+"/"+r[1]] = r[2] + " " + r[3]
	}
	if rows["last_touch/Paid Search"] != "1 100" || rows["last_touch/Email"] != "1 60" || rows["first_touch/Paid Social"] != "1 60" ||
		rows["linear/Email"] != "0.5 30" {
		t.Errorf("csv rows %v", rows)
	}
	models := map[string]bool{}
	for _, r := range recs[1:] {
		models[r[0]] = true
	}
	if len(models) != len(attribution.ModelNames) {
		t.Errorf("%d models in csv", len(models))
	}

	code, out, errs = runCLI(t, "attribute", "--data", data, "--model", "markov", "--json", "--from", "2026-03-01", "--to", "2026-03-03")
	if code != 0 {
		t.Fatalf("attribute json: %d %s", code, errs)
	}
	var js struct {
		Journeys struct {
			Conversions  int `json:"conversions"`
			NullJourneys int `json:"null_journeys"`
		} `json:"journeys"`
		Results []struct {
			Model, Convention string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js.Results) != 1 || js.Results[0].Model != "markov" ||
		js.Results[0].Convention == "" || js.Journeys.Conversions != 2 || js.Journeys.NullJourneys != 1 {
		t.Errorf("json %v: %s", err, out)
	}

	code, out, errs = runCLI(t, "attribute", "--data", data, "--model", "last_touch")
	if code != 0 || !strings.Contains(out, "model: last_touch") || !strings.Contains(out, "2 conversions") {
		t.Errorf("table: %d %s %s", code, out, errs)
	}

	// Ground truth: the one in the data directory is picked up by default.
	gt := `{"currency":"EUR","channels":{"Email":{"incremental_conversions":1,"incremental_revenue_minor":6000},
		"Paid Search":{"incremental_conversions":1,"incremental_revenue_minor":10000}}}`
	if err := os.WriteFile(filepath.Join(data, "ground_truth.json"), []byte(gt), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "attribute", "--data", data, "--model", "last_touch")
	if code != 0 || !strings.Contains(out, "ground truth: ") || !strings.Contains(out, "0.0 pp") {
		t.Errorf("ground truth: %d %s %s", code, out, errs)
	}
	if code, out, _ = runCLI(t, "attribute", "--data", data, "--model", "last_touch", "--ground-truth", "none"); strings.Contains(out, "ground truth") {
		t.Errorf("--ground-truth none still compared: %d %s", code, out)
	}
	if code, out, _ = runCLI(t, "attribute", "--data", data, "--format", "csv"); code != 0 || strings.Contains(out, "ground truth") {
		t.Errorf("csv with a ground truth file in --data: %d %s", code, out)
	}
	if code, _, _ = runCLI(t, "attribute", "--data", data, "--format", "csv", "--ground-truth", filepath.Join(data, "ground_truth.json")); code != 1 {
		t.Errorf("--ground-truth with csv: exit %d", code)
	}
	if code, _, _ = runCLI(t, "attribute", "--data", data, "--ground-truth", filepath.Join(data, "nope.json")); code != 1 {
		t.Errorf("missing ground truth file: exit %d", code)
	}

	// Path files still work.
	paths := filepath.Join(t.TempDir(), "paths.csv")
	os.WriteFile(paths, []byte("path;total_conversions;total_conversion_value;total_null\nA > B;2;20;1\nB;1;5;0\n"), 0o644)
	code, out, errs = runCLI(t, "attribute", "--paths", paths, "--model", "last_touch", "--format", "csv")
	if code != 0 || !strings.Contains(out, "last_touch,B,3,25,1") {
		t.Errorf("paths: %d %s %s", code, out, errs)
	}

	for _, bad := range [][]string{
		{"attribute", "--data", data, "--model", "nope"},
		{"attribute", "--data", data, "--format", "xml"},
		{"attribute", "--data", data, "--lookback", "soon"},
		{"attribute", "--data", data, "--from", "March"},
	} {
		if code, _, _ := runCLI(t, bad...); code == 0 {
			t.Errorf("%v: exit 0", bad)
		}
	}
}

func TestROICommand(t *testing.T) {
	t.Parallel()
	data := attrData(t)
	code, out, errs := runCLI(t, "roi", "--data", data, "--from", "2026-03-01", "--to", "2026-03-03", "--format", "csv")
	if code != 0 {
		t.Fatalf("roi csv: %d %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r[0] == "current" && r[4] == "campaign" && r[5] == "Paid Search" && r[6] == "brand" {
			found = true
			if r[8] != "25.00" || r[12] != "100.00" || r[13] != "4" {
				t.Errorf("brand row %q", r)
			}
		}
	}
	if !found {
		t.Errorf("no Paid Search brand row: %s", out)
	}
	code, out, errs = runCLI(t, "roi", "--data", data, "--from", "2026-03-01", "--to", "2026-03-03", "--model", "linear")
	if code != 0 || !strings.Contains(out, "model linear") || !strings.Contains(out, "Paid Search") {
		t.Errorf("roi table: %d %s %s", code, out, errs)
	}
	code, out, errs = runCLI(t, "roi", "--data", data, "--json")
	var rep attribution.ROIReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Current.To.Format(time.DateOnly) != "2026-03-03" || rep.Current.Conversions != 2 {
		t.Errorf("roi default range: %d %s %s", code, out, errs)
	}
}
