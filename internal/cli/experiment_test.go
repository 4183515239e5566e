package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

// writeABFile writes a CSV of n units per arm: control converts at pa, b at pb (0/1
// values), or revenue-like values when revenue is set; with pre, a pre_value column.
func writeABFile(t *testing.T, n int, pa, pb float64, revenue, pre bool) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 42))
	var b strings.Builder
	b.WriteString("unit,variant,value")
	if pre {
		b.WriteString(",pre_value")
	}
	b.WriteString("\n")
	for i := range 2 * n {
		arm, p := "control", pa
		if i%2 == 1 {
			arm, p = "B", pb
		}
		x := 0.0
		if rng.Float64() < 0.4 {
			x = 10 + 20*rng.Float64()
		}
		y := 0.0
		if rng.Float64() < p {
			y = 1
			if revenue {
				y = 20 + 30*rng.Float64() + x
			}
		}
		fmt.Fprintf(&b, "u%d,%s,%g", i, arm, y)
		if pre {
			fmt.Fprintf(&b, ",%g", x)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "ab.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExperimentAnalyzeJSON checks the scripts' contract: the fields, lift relative to
// control, and 95 % intervals around it.
func TestExperimentAnalyzeJSON(t *testing.T) {
	t.Parallel()
	path := writeABFile(t, 3000, 0.10, 0.13, false, false)
	code, out, errs := runCLI(t, "experiment", "analyze", "--input", path, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"variants", "srm_p_value", "cuped"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	var res struct {
		Variants []map[string]any `json:"variants"`
		CUPED    map[string]any   `json:"cuped"`
		Type     string           `json:"metric_type"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Variants) != 2 || res.Type != "proportion" {
		t.Fatalf("%s", out)
	}
	for _, k := range []string{"variant", "n", "mean", "lift", "lift_low", "lift_high", "diff", "diff_low", "diff_high", "p_value", "prob_beat_control"} {
		for _, v := range res.Variants {
			if _, ok := v[k]; !ok {
				t.Errorf("variant %v lacks %q", v["variant"], k)
			}
		}
	}
	if _, ok := res.CUPED["applied"]; !ok || res.CUPED["applied"] != false {
		t.Errorf("cuped %v", res.CUPED)
	}
	c, b := res.Variants[0], res.Variants[1]
	if c["variant"] != "control" || c["lift"] != nil || c["n"] != 3000.0 {
		t.Errorf("control %v", c)
	}
	lift := b["lift"].(float64)
	if want := b["mean"].(float64)/c["mean"].(float64) - 1; lift != want || !(b["lift_low"].(float64) < lift && lift < b["lift_high"].(float64)) {
		t.Errorf("B lift %v (want %v), interval %v to %v", lift, want, b["lift_low"], b["lift_high"])
	}
	if b["p_value"].(float64) >= 0.05 || b["prob_beat_control"].(float64) < 0.95 {
		t.Errorf("B %v", b)
	}
	// --control picks the other arm: lifts flip sign.
	code, out, _ = runCLI(t, "experiment", "analyze", "--input", path, "--format", "json", "--control", "B", "--metric-type", "mean")
	if code != 0 || !strings.Contains(out, `"control": "B"`) || !strings.Contains(out, `"metric_type": "mean"`) {
		t.Fatalf("--control B: %d %s", code, out)
	}
}

func TestExperimentAnalyzeTable(t *testing.T) {
	t.Parallel()
	path := writeABFile(t, 2000, 0.10, 0.16, true, true)
	code, out, errs := runCLI(t, "experiment", "analyze", "--input", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"value per unit over 4000 units: fixed horizon, control control", "VARIANT", "CUPED: applied, variance reduced by",
		"B wins: +", "sample ratio check: p = 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// From stdin, sequential.
	f, _ := os.ReadFile(path)
	var o strings.Builder
	code = runWithStdin(t, string(f), &o, "experiment", "analyze", "--input", "-", "--sequential")
	if code != 0 || !strings.Contains(o.String(), "sequential, valid at any look") {
		t.Fatalf("stdin: %d %s", code, o.String())
	}
}

func runWithStdin(t *testing.T, stdin string, out *strings.Builder, args ...string) int {
	t.Helper()
	var errb strings.Builder
	env := &Env{Stdout: out, Stderr: &errb, Stdin: strings.NewReader(stdin), Log: slog.New(slog.NewTextHandler(&errb, nil))}
	code := Run(context.Background(), env, args)
	if code != 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return code
}

func TestExperimentAnalyzeErrors(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.csv")
	_ = os.WriteFile(bad, []byte("unit,variant,value\nu1,a,1\nu2,b,x\nu1,b,2\n"), 0o644)
	code, _, errs := runCLI(t, "experiment", "analyze", "--input", bad)
	if code != 1 || !strings.Contains(errs, "line 3: value \"x\" is not a number") || !strings.Contains(errs, `line 4: unit "u1" is already on line 2`) {
		t.Fatalf("bad rows: %d %s", code, errs)
	}
	for _, args := range [][]string{
		{"experiment", "analyze"},
		{"experiment", "analyze", "--input", bad, "--format", "xml"},
		{"experiment", "analyze", "--input", bad, "--metric-type", "ratio"},
		{"experiment"},
		{"experiment", "show"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runCLI(t, "experiment", "analyze", "--input", filepath.Join(t.TempDir(), "none.csv")); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: %d %s", code, errs)
	}
}

func TestExperimentStoredFlow(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, append(args, "--data", data)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		return out
	}
	out := run("experiment", "create", "hero", "--variants", "control=50,b=50", "--metric", "conversion", "--guardrail", "revenue",
		"--hypothesis", "a warmer headline sells more", "--mde", "0.2")
	for _, want := range []string{"experiment  hero (draft)", "unit        visitors", "metric      conversion", "guardrail   revenue per visitor", "plan        not enough history"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	out = run("experiment", "list")
	if !strings.Contains(out, "hero") || !strings.Contains(out, "draft") || !strings.Contains(out, "control=50,b=50") {
		t.Errorf("list:\n%s", out)
	}
	if code, _, errs := runCLI(t, "experiment", "report", "hero", "--data", data); code != 1 || !strings.Contains(errs, "has not started") {
		t.Errorf("report a draft: %d %s", code, errs)
	}
	run("experiment", "start", "hero")
	out = run("experiment", "report", "hero")
	for _, want := range []string{"experiment hero (running)", "conversion: sequential, valid at any look, control control", "verdict: not enough data yet", "guardrail: revenue per visitor (EUR)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out = run("experiment", "stop", "hero", "--json")
	var e map[string]any
	if err := json.Unmarshal([]byte(out), &e); err != nil || e["status"] != "stopped" {
		t.Fatalf("stop --json: %v %s", err, out)
	}
	if code, _, errs := runCLI(t, "experiment", "create", "Bad Name", "--variants", "a,b", "--metric", "orders", "--data", data); code != 1 || !strings.Contains(errs, `name "Bad Name"`) {
		t.Errorf("bad name: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "experiment", "create", "x", "--variants", "a,b", "--metric", "likes", "--data", data); code != 1 || !strings.Contains(errs, `metric "likes"`) {
		t.Errorf("bad metric: %d %s", code, errs)
	}
}

func TestBenchExperiments(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI(t, "bench", "experiments", "--duration", "1s", "--rate", "200", "--experiments", "3", "--json")
	if code != 0 {
		t.Fatalf("bench experiments: %d %s %s", code, out, errs)
	}
	var r ExperimentsBenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests < 150 || r.OK != r.Requests || r.Experiments != 3 || r.P99ms <= 0 || r.P50ms > r.P99ms {
		t.Fatalf("%+v", r)
	}
}

// TestExperimentRoutesMounted: `omniroi serve` (wireServe: mountAPI, mountExperiments) serves the experiments API behind
// a token and the website endpoint with its script.
func TestExperimentRoutesMounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := server.New(db, server.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	mountAPI(s, mix.NewService(db), attribution.NewService(db), value.NewService(db))
	mountExperiments(s)
	ts := httptest.NewServer(s.Mux)
	defer ts.Close()
	_, tok, err := api.CreateToken(ctx, db, "t")
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := db.CreateSource(ctx, "site")
	for _, c := range []struct {
		path, token string
		code        int
		want        string
	}{
		{"/api/v1/experiments", "", 401, "missing API token"},
		{"/api/v1/experiments", tok, 200, "[]"},
		{"/v1/experiments?writeKey=" + key + "&anonymousId=a", "", 200, `{"experiments":[]}`},
		{"/v1/experiments.js", "", 200, "omniroiExperiments"},
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("GET %s: %d %s", c.path, res.StatusCode, b)
		}
	}
}

// writeGeoFile writes date,region,value,spend rows: 10 postcode areas over 112 days, a
// shared daily factor, and a channel returning 2 per unit of spend, switched off in the
// first five areas for the last 28 days. It returns the file and the true effect.
func writeGeoFile(t *testing.T) (string, float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(6, 6))
	var b strings.Builder
	b.WriteString("date,region,value,spend\n")
	day0 := mustDate(t, "2026-01-05")
	common := 0.0
	var lost float64
	levels := make([]float64, 10)
	for r := range levels {
		levels[r] = 80 + 40*rng.Float64()
	}
	for d := range 112 {
		common = 0.6*common + 0.05*rng.NormFloat64()
		for r := range 10 {
			spend := levels[r] / 10 * (0.9 + 0.2*rng.Float64())
			v := levels[r] * (1 + common + 0.1*rng.NormFloat64())
			if r < 5 && d >= 84 {
				lost += 2 * spend
				spend = 0
			}
			v += 2 * spend
			fmt.Fprintf(&b, "%s,%d,%.2f,%.2f\n", day0.AddDate(0, 0, d).Format("2006-01-02"), 75000+r*1000, v, spend)
		}
	}
	path := filepath.Join(t.TempDir(), "geo.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, -lost
}

// TestExperimentGeoCommands: analyze-geo on a file with a known effect, plan-geo on the
// same file, and bad rows reported by line.
func TestExperimentGeoCommands(t *testing.T) {
	t.Parallel()
	path, truth := writeGeoFile(t)
	code, out, errs := runCLI(t, "experiment", "analyze-geo", "--input", path, "--test-start", "2026-03-30", "--treatment", "75000,76000,77000,78000,79000",
		"--channel", "Paid Social", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Design, Verdict string
		TestDays        int     `json:"test_days"`
		Inc             float64 `json:"incremental"`
		IncLow          float64 `json:"incremental_low"`
		IncHigh         float64 `json:"incremental_high"`
		R               float64 `json:"roas"`
		RLow            float64 `json:"roas_low"`
		RHigh           float64 `json:"roas_high"`
		Placebo         struct{ Windows int }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Design != "regions" || res.TestDays != 28 || !(res.IncLow <= truth && truth <= res.IncHigh) || !(res.RLow <= 2 && 2 <= res.RHigh) || res.Placebo.Windows == 0 {
		t.Errorf("truth %.0f, ROAS 2: %s", truth, out)
	}
	t.Logf("analyze-geo: %s", res.Verdict)
	code, out, errs = runCLI(t, "experiment", "analyze-geo", "--input", path, "--test-start", "2026-03-30", "--treatment", "75000,76000,77000,78000,79000")
	if code != 0 || !strings.Contains(out, "time-based regression") || !strings.Contains(out, "ROAS") || !strings.Contains(out, "verdict:") {
		t.Errorf("table: exit %d %s %s", code, out, errs)
	}
	code, out, errs = runCLI(t, "experiment", "plan-geo", "--input", path, "--channel", "Paid Social", "--json")
	if code != 0 {
		t.Fatalf("plan-geo: exit %d: %s", code, errs)
	}
	var plan struct {
		Designs []struct {
			Design    string
			Available bool
			Days      int
		}
		Text string
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Designs) != 2 || !plan.Designs[0].Available || plan.Text == "" {
		t.Errorf("plan: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("date,region,value\n2026-01-01,a,1\n2026-01-01,a,2\nyesterday,b,3\n2026-01-02,b,x\n"), 0o644)
	code, _, errs = runCLI(t, "experiment", "analyze-geo", "--input", bad, "--test-start", "2026-01-02")
	for _, want := range []string{`line 3: 2026-01-01, region "a" is already on line 2`, `line 4: date "yesterday" is not YYYY-MM-DD`, `line 5: value "x" is not a number`} {
		if code == 0 || !strings.Contains(errs, want) {
			t.Errorf("bad file: exit %d, want %q in %s", code, want, errs)
		}
	}
	if code, _, _ := runCLI(t, "experiment", "analyze-geo", "--input", path); code != 2 {
		t.Errorf("no --test-start: exit %d, want 2", code)
	}
}

func mustDate(t *testing.T, s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
