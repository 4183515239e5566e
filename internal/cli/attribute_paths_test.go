package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/attribution"
)

func writePathFile(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "paths.csv")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const smallPaths = "path,total_conversions,total_conversion_value,total_null\nA > B,2,20,1\nB,1,5,3\nC > A,0,0,2\n"

// TestAttributePathsFormats: `attribute --paths` prints every model in table, CSV and JSON.
func TestAttributePathsFormats(t *testing.T) {
	t.Parallel()
	p := writePathFile(t, smallPaths)
	code, out, errs := runCLI(t, "attribute", "--paths", p, "--model", "first_touch", "--format", "csv")
	if code != 0 {
		t.Fatalf("csv: %d %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header + 3 channels (A, B, C)
	if len(recs) != 4 || strings.Join(recs[0], ",") != "model,channel,conversions,revenue,share" {
		t.Fatalf("csv %v", recs)
	}
	if got := strings.Join(recs[1], ","); got != "first_touch,A,2,20,0.6666666666666666" {
		t.Errorf("csv row %q", got)
	}

	code, out, errs = runCLI(t, "attribute", "--paths", p, "--format", "json")
	if code != 0 {
		t.Fatalf("json: %d %s", code, errs)
	}
	var doc struct {
		Results []struct {
			Model      string               `json:"model"`
			Convention string               `json:"convention"`
			ByChannel  []attribution.Credit `json:"by_channel"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	// all models except time_decay, which has no times here
	if len(doc.Results) != len(attribution.ModelNames)-1 {
		t.Errorf("%d results", len(doc.Results))
	}
	for _, r := range doc.Results {
		if r.Convention == "" || r.Model == "time_decay" || len(r.ByChannel) == 0 {
			t.Errorf("result %s: convention %q, %d channels", r.Model, r.Convention, len(r.ByChannel))
		}
	}

	code, out, _ = runCLI(t, "attribute", "--paths", p, "--model", "all")
	if code != 0 || !strings.Contains(out, "model: markov") || !strings.Contains(out, "time_decay skipped") {
		t.Errorf("table output %d:\n%s", code, out)
	}
	code, out, errs = runCLI(t, "attribute", "--paths", p, "--model", "markov", "--order", "2", "--format", "csv")
	if code != 0 || !strings.Contains(out, "markov,") {
		t.Errorf("markov order 2: %d %s %s", code, out, errs)
	}
}

func TestAttributePathsErrors(t *testing.T) {
	t.Parallel()
	p := writePathFile(t, smallPaths)
	if code, _, errs := runCLI(t, "attribute", "--paths", p, "--model", "time_decay"); code != 1 || !strings.Contains(errs, attribution.ErrNeedsTimes.Error()) {
		t.Errorf("time_decay alone: %d %s", code, errs)
	}
	for _, args := range [][]string{
		{"--model", "nope"},
		{"--format", "xml"},
		{"--model", "markov", "--order", "9"},
		{"--model", "custom", "--weights", "-1,1,1"},
	} {
		if code, _, _ := runCLI(t, append([]string{"attribute", "--paths", p}, args...)...); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
	if code, _, _ := runCLI(t, "attribute", "--paths", filepath.Join(t.TempDir(), "missing.csv")); code == 0 {
		t.Errorf("missing file: exit 0")
	}
	if code, _, _ := runCLI(t, "attribute", "--paths", writePathFile(t, "route;conversions\nA;1\n")); code == 0 {
		t.Errorf("file without a path column: exit 0")
	}
}

// TestAttributePathsManyChannels: shapley_cr cannot run on 70 channels; alone it is an
// error, among all models it is skipped with the reason.
func TestAttributePathsManyChannels(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("path;total_conversions;total_conversion_value;total_null\n")
	for i := range 70 {
		fmt.Fprintf(&b, "c%d > c%d;1;1;1\n", i, (i+1)%70)
	}
	p := writePathFile(t, b.String())
	if code, _, _ := runCLI(t, "attribute", "--paths", p, "--model", "shapley_cr"); code == 0 {
		t.Error("shapley_cr on 70 channels: exit 0")
	}
	code, out, errs := runCLI(t, "attribute", "--paths", p)
	if code != 0 {
		t.Fatalf("all models: %d %s", code, errs)
	}
	if !strings.Contains(out, "shapley_cr skipped: 70 channels") || !strings.Contains(out, "model: shapley\n") {
		t.Errorf("output:\n%s", out)
	}
}
