package experiment

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/money"
)

// binaryArm is an arm of n units of which k converted.
func binaryArm(name string, k, n int) Arm {
	a := Arm{Name: name}
	for i := range n {
		y := 0.0
		if i < k {
			y = 1
		}
		a.Moments.Add(y, 0)
	}
	return a
}

var pctRE = `([+-]?\d+(?:\.\d)?) %`

func parsePct(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f / 100
}

func TestVerdictWinner(t *testing.T) {
	t.Parallel()
	res, err := Analyze([]Arm{binaryArm("control", 500, 5000), binaryArm("B", 620, 5000)},
		Options{Type: Proportion, MetricLabel: "conversion", UnitLabel: "visitors", Days: 14})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict.Kind != VerdictWinner {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	m := regexp.MustCompile(`^B wins: ` + pctRE + ` conversion \(95 % CI ` + pctRE + ` to ` + pctRE + `\)$`).FindStringSubmatch(res.Verdict.Text)
	if m == nil {
		t.Fatalf("verdict text %q", res.Verdict.Text)
	}
	v := res.Variants[1]
	// 620/500 − 1 = +24 %; the words round the result's own numbers.
	for i, want := range []float64{0.24, float64(v.LiftLow), float64(v.LiftHigh)} {
		if got := parsePct(t, m[i+1]); math.Abs(got-want) > 0.005 {
			t.Errorf("figure %d in %q: %v, want %v", i, res.Verdict.Text, got, want)
		}
	}
	if !(v.LiftLow > 0) || !(v.ProbBeatControl > 0.99) || !strings.HasPrefix(v.Verdict, "better: +24 % conversion") {
		t.Errorf("variant %+v", v)
	}
}

func TestVerdictLoser(t *testing.T) {
	t.Parallel()
	res, _ := Analyze([]Arm{binaryArm("control", 600, 5000), binaryArm("B", 480, 5000)}, Options{Type: Proportion})
	if res.Verdict.Kind != VerdictLoser || !strings.HasPrefix(res.Verdict.Text, "B loses: -20 % conversion (95 % CI -") || !strings.HasSuffix(res.Verdict.Text, "; keep control") {
		t.Fatalf("verdict %+v", res.Verdict)
	}
}

func TestVerdictSRMBlocks(t *testing.T) {
	t.Parallel()
	// A clear winner, but 1,210 against 1,020 units on a 50/50 plan.
	res, _ := Analyze([]Arm{binaryArm("control", 121, 1210), binaryArm("B", 300, 1020)}, Options{Type: Proportion, UnitLabel: "visitors"})
	if res.Verdict.Kind != VerdictSRM {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	want := "stop: sample ratio mismatch (p < 0.0001): the arms got control 1,210, B 1,020 visitors where the plan was 50 % / 50 %"
	if !strings.HasPrefix(res.Verdict.Text, want) {
		t.Fatalf("verdict text\n%s\nwant prefix\n%s", res.Verdict.Text, want)
	}
	// With the weights that were actually planned (54/46), there is no mismatch.
	arms := []Arm{binaryArm("control", 121, 1210), binaryArm("B", 300, 1020)}
	arms[0].Weight, arms[1].Weight = 54, 46
	res, _ = Analyze(arms, Options{Type: Proportion})
	if res.Verdict.Kind != VerdictWinner {
		t.Fatalf("with 54/46 weights: %+v (SRM p %v)", res.Verdict, res.SRMPValue)
	}
	// Below 8 units the check does not run.
	res, _ = Analyze([]Arm{binaryArm("control", 1, 6), binaryArm("B", 0, 1)}, Options{})
	if res.SRMPValue.Valid() || res.Verdict.Kind != VerdictTooEarly {
		t.Fatalf("7 units: SRM %v, verdict %+v", res.SRMPValue, res.Verdict)
	}
}

func TestVerdictTooEarly(t *testing.T) {
	t.Parallel()
	res, _ := Analyze([]Arm{binaryArm("control", 10, 160), binaryArm("B", 30, 100)}, Options{Type: Proportion, Days: 1.5, UnitLabel: "visitors"})
	// 160 vs 100 on 50/50 is a mismatch too (p ≈ 0.0002): the SRM comes first.
	if res.Verdict.Kind != VerdictSRM {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	res, _ = Analyze([]Arm{binaryArm("control", 40, 110), binaryArm("B", 45, 100)}, Options{Type: Proportion, Days: 1.5, UnitLabel: "visitors"})
	want := "not enough data yet: each arm needs at least 150 visitors (B has 100); the test must run at least 3 days (1 day so far)"
	if res.Verdict.Kind != VerdictTooEarly || res.Verdict.Text != want {
		t.Fatalf("verdict %+v\nwant %q", res.Verdict, want)
	}
}

func TestVerdictNeedMore(t *testing.T) {
	t.Parallel()
	res, _ := Analyze([]Arm{binaryArm("control", 100, 1000), binaryArm("B", 104, 1000)}, Options{Type: Proportion, UnitLabel: "visitors"})
	if res.Verdict.Kind != VerdictNotYet {
		t.Fatalf("verdict %+v", res.Verdict)
	}
	// Independently: n = 2 (1.959964 + 0.841621)² σ² / (0.1 · 0.1)² with the pooled
	// within-arm variance σ² of 0/1 data (about 0.0917) gives about 14,400 per arm.
	s2 := (100*0.9*0.9 + 900*0.1*0.1 + 104*0.896*0.896 + 896*0.104*0.104) / 1998
	need := 2 * math.Pow(1.959964+0.841621, 2) * s2 / (0.01 * 0.01)
	if got := float64(res.Verdict.MoreUnits); math.Abs(got-(need-1000)) > 2 {
		t.Fatalf("more units %v, want %.0f", got, need-1000)
	}
	want := "no difference yet: need about " + about(need-1000) + " more visitors per arm to detect a 10 % lift"
	if res.Verdict.Text != want || !strings.Contains(want, "13,000") {
		t.Fatalf("verdict %q, want %q", res.Verdict.Text, want)
	}
}

func TestVerdictNoDifference(t *testing.T) {
	t.Parallel()
	res, _ := Analyze([]Arm{binaryArm("control", 3000, 30000), binaryArm("B", 3010, 30000)}, Options{Type: Proportion})
	if res.Verdict.Kind != VerdictNoDifference || !strings.HasPrefix(res.Verdict.Text, "no difference: the test had enough units to detect a 10 % lift; B is between -") {
		t.Fatalf("verdict %+v", res.Verdict)
	}
}

func TestVerdictLiftUndefined(t *testing.T) {
	t.Parallel()
	// Control never converts: a lift over zero is undefined, the difference is reported.
	res, _ := Analyze([]Arm{binaryArm("control", 0, 400), binaryArm("B", 40, 400)}, Options{Type: Proportion, Days: 10})
	v := res.Variants[1]
	if v.Lift.Valid() || !v.Diff.Valid() || res.Verdict.Kind != VerdictWinner || !strings.HasPrefix(res.Verdict.Text, "B wins: +0.1 conversion (95 % CI +0.07") {
		t.Fatalf("verdict %+v, variant %+v", res.Verdict, v)
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		got, want string
	}{
		{pct(0.1234, true), "+12 %"}, {pct(0.03, true), "+3.0 %"}, {pct(-0.0049, true), "-0.5 %"},
		{pct(-0.00001, true), "+0.0 %"}, {pct(0.95, false), "95 %"}, {pct(0.0996, true), "+10 %"},
		{about(1789), "1,800"}, {about(87), "87"}, {about(123456), "120,000"},
		{money.Count(1210), "1,210"}, {money.Count(-1234567), "-1,234,567"}, {money.Count(999), "999"},
		{Chance(0.99996), "> 99.9 %"}, {Chance(0.0004), "< 0.1 %"}, {Chance(0.8824), "88.2 %"},
		{pvalue(0.00004), "< 0.0001"}, {pvalue(0.0123), "0.012"}, {pvalue(0.5), "0.50"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestAnalyzeErrors(t *testing.T) {
	t.Parallel()
	a := binaryArm("control", 1, 10)
	if _, err := Analyze([]Arm{a}, Options{}); err == nil {
		t.Error("one arm accepted")
	}
	if _, err := Analyze([]Arm{a, a}, Options{}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate arm: %v", err)
	}
	if _, err := Analyze([]Arm{a, binaryArm("b", 1, 10)}, Options{Control: "x"}); err == nil || !strings.Contains(err.Error(), `control "x" is not a variant (variants: control, b)`) {
		t.Errorf("unknown control: %v", err)
	}
	res, err := Analyze([]Arm{binaryArm("b", 1, 10), binaryArm("Control", 1, 10)}, Options{})
	if err != nil || res.Control != "Control" || !res.Variants[1].Control {
		t.Errorf("control by name: %v %+v", err, res)
	}
}
