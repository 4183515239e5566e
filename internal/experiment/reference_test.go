package experiment

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// The reference values come from testdata/reference.py (Python + mpmath), which computes
// each figure by another route than the Go code: see the script's docstring. Regenerate
// with `python3 reference.py > reference.json` in testdata.
type reference struct {
	Welch []struct {
		A, B                               []float64
		Alpha                              float64
		Diff, SE, DF, P, DiffLow, DiffHigh float64
		Lift, LogLiftSE, LiftLow, LiftHigh float64
	}
	CUPED struct {
		ControlY, ControlX, VariantY, VariantX []float64
		Theta, VarianceReduction               float64
		Diff, DiffLow, DiffHigh, P             float64
		Lift, LiftLow, LiftHigh                float64
	}
	SRM []struct {
		Observed, Weights []float64
		P                 float64
	}
	BayesBeta []struct {
		KA, NA, KB, NB float64
		Prob, LossRel  float64
	}
	BayesNormal []struct {
		D, SE, ControlMean float64
		Prob, LossRel      float64
	}
	Quantiles []struct{ P, DF, T, Z float64 }
	MSPRT     []struct {
		Est, SE, N, NStar, Alpha float64
		P, Low, High             float64
	}
	Power []struct {
		Mean, SD, MDE, Alpha, Power float64
		Arms                        int
		N                           float64
	}
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	// The script writes snake_case keys; map them onto the struct's fields.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var r reference
	dec := func(key string, v any) {
		if err := json.Unmarshal(snakeToCamel(raw[key]), v); err != nil {
			t.Fatalf("reference %s: %v", key, err)
		}
	}
	dec("welch", &r.Welch)
	dec("cuped", &r.CUPED)
	dec("srm", &r.SRM)
	dec("bayes_beta", &r.BayesBeta)
	dec("bayes_normal", &r.BayesNormal)
	dec("quantiles", &r.Quantiles)
	dec("msprt", &r.MSPRT)
	dec("power", &r.Power)
	return r
}

// snakeToCamel rewrites JSON object keys such as "diff_low" to "DiffLow" (and known
// acronyms) so that encoding/json's case-insensitive matching finds the fields.
func snakeToCamel(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			m := map[string]any{}
			for k, val := range t {
				out := []rune{}
				up := true
				for _, c := range k {
					if c == '_' {
						up = true
						continue
					}
					if up && c >= 'a' && c <= 'z' {
						c -= 'a' - 'A'
					}
					up = false
					out = append(out, c)
				}
				m[string(out)] = walk(val)
			}
			return m
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		}
		return x
	}
	out, _ := json.Marshal(walk(v))
	return out
}

func near(t *testing.T, what string, got, want, relTol float64) {
	t.Helper()
	tol := relTol * math.Max(1e-12, math.Abs(want))
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (tolerance %.2g)", what, got, want, tol)
	}
}

func momentsOf(ys, xs []float64) Moments {
	var m Moments
	for i, y := range ys {
		x := 0.0
		if xs != nil {
			x = xs[i]
		}
		m.Add(y, x)
	}
	return m
}

func TestReferenceQuantiles(t *testing.T) {
	t.Parallel()
	for _, q := range loadReference(t).Quantiles {
		near(t, "t quantile", tQuantile(q.P, q.DF), q.T, 1e-9)
		near(t, "z quantile", zQuantile(q.P), q.Z, 1e-9)
	}
}

func TestReferenceWelchAndLift(t *testing.T) {
	t.Parallel()
	for i, c := range loadReference(t).Welch {
		a, b := momentsOf(c.A, nil), momentsOf(c.B, nil)
		d := welch(a.MeanY, a.VarY(), a.N, b.MeanY, b.VarY(), b.N)
		near(t, "diff", d.Est, c.Diff, 1e-10)
		near(t, "se", d.SE, c.SE, 1e-10)
		near(t, "df", d.DF, c.DF, 1e-10)
		lo, hi, p := fixedInterval(d, c.Alpha)
		near(t, "p", p, c.P, 1e-7)
		near(t, "diff low", lo, c.DiffLow, 1e-8)
		near(t, "diff high", hi, c.DiffHigh, 1e-8)
		l := logLift(a.MeanY, a.VarY(), a.N, b.MeanY, b.VarY(), b.N)
		near(t, "log lift se", l.SE, c.LogLiftSE, 1e-10)
		lift, llo, lhi := liftInterval(a.MeanY, a.VarY(), a.N, b.MeanY, b.VarY(), b.N, func(e estimate) (float64, float64) {
			lo, hi, _ := fixedInterval(e, c.Alpha)
			return lo, hi
		})
		near(t, "lift", lift, c.Lift, 1e-10)
		near(t, "lift low", llo, c.LiftLow, 1e-8)
		near(t, "lift high", lhi, c.LiftHigh, 1e-8)

		// The same through Analyze (two arms, so no correction).
		res, err := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{Alpha: c.Alpha, Days: 30})
		if err != nil {
			t.Fatal(err)
		}
		v := res.Variants[1]
		near(t, "Analyze p", float64(v.PValue), c.P, 1e-7)
		near(t, "Analyze lift low", float64(v.LiftLow), c.LiftLow, 1e-8)
		if t.Failed() {
			t.Fatalf("case %d", i)
		}
	}
}

func TestReferenceCUPED(t *testing.T) {
	t.Parallel()
	c := loadReference(t).CUPED
	arms := []Arm{
		{Name: "control", Moments: momentsOf(c.ControlY, c.ControlX)},
		{Name: "b", Moments: momentsOf(c.VariantY, c.VariantX)},
	}
	res, err := Analyze(arms, Options{CUPED: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CUPED.Applied {
		t.Fatalf("CUPED not applied: %s", res.CUPED.Why)
	}
	near(t, "theta", float64(res.CUPED.Theta), c.Theta, 1e-9)
	near(t, "variance reduction", float64(res.CUPED.VarianceReduction), c.VarianceReduction, 1e-9)
	v := res.Variants[1]
	near(t, "diff", float64(v.Diff), c.Diff, 1e-9)
	near(t, "diff low", float64(v.DiffLow), c.DiffLow, 1e-8)
	near(t, "diff high", float64(v.DiffHigh), c.DiffHigh, 1e-8)
	near(t, "lift", float64(v.Lift), c.Lift, 1e-9)
	near(t, "lift low", float64(v.LiftLow), c.LiftLow, 1e-8)
	near(t, "lift high", float64(v.LiftHigh), c.LiftHigh, 1e-8)
	near(t, "p", float64(v.PValue), c.P, 1e-6)

	// Without CUPED the interval is wider by about 1/sqrt(1 − reduction).
	raw, _ := Analyze(arms, Options{})
	ratio := float64(raw.Variants[1].DiffHigh-raw.Variants[1].DiffLow) / float64(v.DiffHigh-v.DiffLow)
	near(t, "interval width ratio", ratio, 1/math.Sqrt(1-c.VarianceReduction), 0.02)
}

func TestReferenceSRM(t *testing.T) {
	t.Parallel()
	for _, c := range loadReference(t).SRM {
		near(t, "SRM p", SRMPValue(c.Observed, c.Weights), c.P, 1e-8)
	}
}

func TestReferenceBayes(t *testing.T) {
	t.Parallel()
	r := loadReference(t)
	for _, c := range r.BayesBeta {
		b := bayesBeta(1+c.KA, 1+c.NA-c.KA, 1+c.KB, 1+c.NB-c.KB)
		if math.Abs(b.ProbBeat-c.Prob) > 1e-6 {
			t.Errorf("beta %v/%v vs %v/%v: P(beat) %.8f, want %.8f", c.KA, c.NA, c.KB, c.NB, b.ProbBeat, c.Prob)
		}
		near(t, "beta expected loss", b.ExpectedLoss, c.LossRel, 1e-5)
	}
	for _, c := range r.BayesNormal {
		b := bayesNormal(c.D, c.SE, c.ControlMean)
		near(t, "normal P(beat)", b.ProbBeat, c.Prob, 1e-10)
		near(t, "normal expected loss", b.ExpectedLoss, c.LossRel, 1e-8)
	}
}

func TestReferenceSequential(t *testing.T) {
	t.Parallel()
	for _, c := range loadReference(t).MSPRT {
		e := estimate{Est: c.Est, SE: c.SE, DF: math.Inf(1)}
		lo, hi, p := seqInterval(e, c.N, seqRho2(c.NStar, c.Alpha), c.Alpha)
		near(t, "always-valid p", p, c.P, 1e-7)
		near(t, "always-valid low", lo, c.Low, 1e-7)
		near(t, "always-valid high", hi, c.High, 1e-7)
	}
}

func TestReferencePower(t *testing.T) {
	t.Parallel()
	for _, c := range loadReference(t).Power {
		n, err := SampleSize(PlanInput{Mean: c.Mean, SD: c.SD, MDE: c.MDE, Alpha: c.Alpha, Power: c.Power, Arms: c.Arms})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "sample size", n, c.N, 1e-9)
		near(t, "MDE at that size", MDEFor(PlanInput{Mean: c.Mean, SD: c.SD, Alpha: c.Alpha, Power: c.Power, Arms: c.Arms}, c.N), c.MDE, 1e-9)
	}
}
