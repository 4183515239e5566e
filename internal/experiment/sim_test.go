package experiment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Simulations on data with known effects. Each is seeded, so a run is repeatable; the
// full count (1,000 simulated tests) runs in `go test ./...`, -short runs a fifth.

func sims(t *testing.T) int {
	if testing.Short() {
		return 200
	}
	return 1000
}

// band is the Monte Carlo allowance around a rate p over n runs: three standard errors.
func band(p float64, n int) float64 { return 3 * math.Sqrt(p*(1-p)/float64(n)) }

type coverage struct{ lift, diff, n int }

func (c *coverage) add(v VariantResult, trueLift, trueDiff float64) {
	c.n++
	if float64(v.LiftLow) <= trueLift && trueLift <= float64(v.LiftHigh) {
		c.lift++
	}
	if float64(v.DiffLow) <= trueDiff && trueDiff <= float64(v.DiffHigh) {
		c.diff++
	}
}

func (c coverage) check(t *testing.T, what string) {
	t.Helper()
	lo, hi := 0.93, 0.97
	if c.n < 1000 { // -short: fewer runs, wider Monte Carlo band
		lo, hi = 0.95-band(0.95, c.n), 0.95+band(0.95, c.n)
	}
	for _, x := range []struct {
		name string
		k    int
	}{{"lift", c.lift}, {"difference", c.diff}} {
		r := float64(x.k) / float64(c.n)
		t.Logf("%s: 95 %% %s interval covered the true value in %.1f %% of %d simulations", what, x.name, 100*r, c.n)
		if r < lo || r > hi {
			t.Errorf("%s: %s interval coverage %.3f outside [%.3f, %.3f]", what, x.name, r, lo, hi)
		}
	}
}

func TestCoverageProportions(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const n, pa, pb = 3000, 0.05, 0.06
	var c coverage
	for range sims(t) {
		var a, b Moments
		for range n {
			a.Add(bern(rng, pa), 0)
			b.Add(bern(rng, pb), 0)
		}
		res, err := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{Type: Proportion})
		if err != nil {
			t.Fatal(err)
		}
		c.add(res.Variants[1], pb/pa-1, pb-pa)
	}
	c.check(t, "conversion 5 % vs 6 %, 3,000 per arm")
}

// revenue is a skewed revenue-per-visitor draw: most visitors buy nothing, buyers spend a
// log-normal amount. Its mean is p·exp(mu + sigma²/2).
func revenue(rng *rand.Rand, p, mu, sigma float64) float64 {
	if rng.Float64() >= p {
		return 0
	}
	return math.Exp(mu + sigma*rng.NormFloat64())
}

func TestCoverageSkewedRevenue(t *testing.T) {
	t.Parallel()
	// 8 % vs 9 % of visitors buy; baskets are log-normal (median 33, mean 50, long tail).
	// 600 per arm is about 50 buyers per arm.
	for _, n := range []int{600, 5000} {
		rng := rand.New(rand.NewPCG(3, uint64(n)))
		const pa, pb, mu, sigma = 0.08, 0.09, 3.5, 0.9
		ma := pa * math.Exp(mu+sigma*sigma/2)
		mb := pb * math.Exp(mu+sigma*sigma/2)
		var c coverage
		for range sims(t) {
			var a, b Moments
			for range n {
				a.Add(revenue(rng, pa, mu, sigma), 0)
				b.Add(revenue(rng, pb, mu, sigma), 0)
			}
			res, err := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.add(res.Variants[1], mb/ma-1, mb-ma)
		}
		c.check(t, fmt.Sprintf("revenue per visitor (8 %% vs 9 %% buy, log-normal baskets), %d per arm", n))
	}
}

func TestCoverageCUPED(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 2000
	const effect = 1.5 // added to every treated unit's outcome
	// Pre-period spend x (skewed); this period's y follows it: y = 5 + 0.7x + noise.
	// E[y] = 5 + 0.7·E[x], E[x] = exp(2.5 + 0.8²/2).
	ex := math.Exp(2.5 + 0.32)
	ma := 5 + 0.7*ex
	var c coverage
	var reduction float64
	for range sims(t) {
		var a, b Moments
		for range n {
			x := math.Exp(2.5 + 0.8*rng.NormFloat64())
			a.Add(5+0.7*x+4*rng.NormFloat64(), x)
			x = math.Exp(2.5 + 0.8*rng.NormFloat64())
			b.Add(5+effect+0.7*x+4*rng.NormFloat64(), x)
		}
		res, err := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{CUPED: true})
		if err != nil {
			t.Fatal(err)
		}
		if !res.CUPED.Applied {
			t.Fatal("CUPED not applied")
		}
		reduction += float64(res.CUPED.VarianceReduction)
		c.add(res.Variants[1], effect/ma, effect)
	}
	c.check(t, "CUPED-adjusted, 2,000 per arm")
	// Var(0.7x) / (Var(0.7x) + 16) with Var(x) = (e^{0.64} − 1)·e^{5.64}.
	vx := (math.Exp(0.64) - 1) * math.Exp(5.64)
	want := 0.49 * vx / (0.49*vx + 16)
	near(t, "mean variance reduction", reduction/float64(c.n), want, 0.03)
}

func bern(rng *rand.Rand, p float64) float64 {
	if rng.Float64() < p {
		return 1
	}
	return 0
}

// TestAAPeekingSequential runs A/A tests for 28 days and reads each one every day. With
// the sequential analysis, the share of tests that ever show a significant difference
// stays at or below 5 %; with fixed-horizon intervals read daily it does not, which shows
// the simulation can tell the two apart.
func TestAAPeekingSequential(t *testing.T) {
	t.Parallel()
	for _, m := range []struct {
		name string
		draw func(*rand.Rand) float64
	}{
		{"conversion 10 %", func(r *rand.Rand) float64 { return bern(r, 0.10) }},
		{"skewed revenue", func(r *rand.Rand) float64 { return revenue(r, 0.1, 3, 1) }},
	} {
		t.Run(m.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			const days, perDay = 28, 80
			n := sims(t)
			var seqFP, fixedFP, verdictFP int
			for range n {
				var a, b Moments
				seqHit, fixedHit, verdictHit := false, false, false
				for d := 1; d <= days; d++ {
					for range perDay {
						a.Add(m.draw(rng), 0)
						b.Add(m.draw(rng), 0)
					}
					arms := []Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}
					seq, err := Analyze(arms, Options{Sequential: true, Tuning: 2 * days * perDay, Days: float64(d)})
					if err != nil {
						t.Fatal(err)
					}
					if seq.Variants[1].PValue < 0.05 {
						seqHit = true
					}
					if k := seq.Verdict.Kind; k == VerdictWinner || k == VerdictLoser {
						verdictHit = true
					}
					fixed, _ := Analyze(arms, Options{Days: float64(d)})
					if fixed.Variants[1].PValue < 0.05 {
						fixedHit = true
					}
				}
				if seqHit {
					seqFP++
				}
				if fixedHit {
					fixedFP++
				}
				if verdictHit {
					verdictFP++
				}
			}
			rs, rf, rv := float64(seqFP)/float64(n), float64(fixedFP)/float64(n), float64(verdictFP)/float64(n)
			t.Logf("A/A, read daily for %d days: sequential false positives %.1f %% (verdicts %.1f %%), fixed-horizon %.1f %%, of %d tests",
				days, 100*rs, 100*rv, 100*rf, n)
			if limit := 0.05 + band(0.05, n); rs > limit || rv > limit {
				t.Errorf("sequential false-positive rate %.3f (verdicts %.3f) above %.3f", rs, rv, limit)
			}
			if rf < 0.10 {
				t.Errorf("fixed-horizon daily peeking gave only %.3f false positives: the simulation cannot tell peeking from not", rf)
			}
		})
	}
}

// TestAAFixedHorizon: one look at the end rejects in 5 % of A/A tests.
func TestAAFixedHorizon(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	n := sims(t)
	fp := 0
	for range n {
		var a, b Moments
		for range 1000 {
			a.Add(revenue(rng, 0.1, 3, 1), 0)
			b.Add(revenue(rng, 0.1, 3, 1), 0)
		}
		res, _ := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{})
		if res.Variants[1].PValue < 0.05 {
			fp++
		}
	}
	r := float64(fp) / float64(n)
	t.Logf("A/A, one look: %.1f %% significant of %d", 100*r, n)
	if math.Abs(r-0.05) > band(0.05, n) {
		t.Errorf("false-positive rate %.3f, want 0.05 ± %.3f", r, band(0.05, n))
	}
}

// TestBonferroniFamilyWise: with three identical variants against control, the chance
// that any is called different stays at 5 %; uncorrected it would be about 14 %.
func TestBonferroniFamilyWise(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	n := sims(t)
	fw, raw := 0, 0
	for range n {
		arms := []Arm{{Name: "control"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}
		for i := range arms {
			for range 500 {
				arms[i].Moments.Add(rng.NormFloat64()*3+10, 0)
			}
		}
		res, err := Analyze(arms, Options{})
		if err != nil {
			t.Fatal(err)
		}
		anyAdj, anyRaw := false, false
		for _, v := range res.Variants[1:] {
			if v.PValue < 0.05 {
				anyAdj = true
			}
			if v.PValue/3 < 0.05 {
				anyRaw = true
			}
		}
		if anyAdj {
			fw++
		}
		if anyRaw {
			raw++
		}
	}
	r, rr := float64(fw)/float64(n), float64(raw)/float64(n)
	t.Logf("A/A/A/A: family-wise false positives %.1f %% with Bonferroni, %.1f %% without", 100*r, 100*rr)
	if r > 0.05+band(0.05, n) {
		t.Errorf("family-wise error %.3f above 5 %%", r)
	}
	if rr < 0.09 {
		t.Errorf("uncorrected family-wise error %.3f: expected about 14 %%", rr)
	}
}

// TestPowerBySimulation: at the sample size SampleSize returns, a true effect of exactly
// the MDE is found in about 80 % of tests (fixed horizon and sequential).
func TestPowerBySimulation(t *testing.T) {
	t.Parallel()
	for _, seq := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(13, 14))
		const mean, sd, mde = 10.0, 5.0, 0.05
		in := PlanInput{Mean: mean, SD: sd, MDE: mde, Sequential: seq, Tuning: 4000}
		nf, err := SampleSize(in)
		if err != nil {
			t.Fatal(err)
		}
		per := int(math.Ceil(nf))
		n := sims(t)
		hits := 0
		for range n {
			var a, b Moments
			for range per {
				a.Add(mean+sd*rng.NormFloat64(), 0)
				b.Add(mean*(1+mde)+sd*rng.NormFloat64(), 0)
			}
			res, _ := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{Sequential: seq, Tuning: 4000})
			if res.Variants[1].Significant && res.Variants[1].Diff > 0 {
				hits++
			}
		}
		r := float64(hits) / float64(n)
		t.Logf("sequential=%v: %d per arm for a %.0f %% lift; power %.1f %% over %d tests", seq, per, mde*100, 100*r, n)
		if math.Abs(r-0.8) > band(0.8, n)+0.01 {
			t.Errorf("sequential=%v: power %.3f, want 0.80", seq, r)
		}
	}
}

// TestSRMBySimulation: a correct split rarely trips the check (0.1 %), a 53/47 split of
// 4,000 units nearly always does.
func TestSRMBySimulation(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 16))
	n := sims(t)
	falseAlarms, caught := 0, 0
	for range n {
		var ok, bad [2]float64
		for range 4000 {
			ok[int(bern(rng, 0.5))]++
			bad[int(bern(rng, 0.53))]++
		}
		if SRMPValue(ok[:], []float64{1, 1}) < DefaultSRMThreshold {
			falseAlarms++
		}
		if SRMPValue(bad[:], []float64{1, 1}) < DefaultSRMThreshold {
			caught++
		}
	}
	t.Logf("SRM: %d false alarms and %d of %d 53/47 splits caught", falseAlarms, caught, n)
	if falseAlarms > n/100 {
		t.Errorf("%d false SRM alarms in %d correct splits", falseAlarms, n)
	}
	if float64(caught) < 0.6*float64(n) {
		t.Errorf("only %d of %d mismatched splits caught", caught, n)
	}
}

// TestLiftIntervalSmallSamples compares the lift interval on the log scale (used) with the
// linear delta method on skewed revenue at small samples, where the linear one
// under-covers. It prints the tables in docs/experiments.md ("Relative lift"): 8 % vs 9 % of
// visitors buy with log-normal baskets (σ 0.9), and a heavier case, 5 % buy with σ 1.2,
// where a few dozen buyers cannot pin a ratio down and both fall short.
func TestLiftIntervalSmallSamples(t *testing.T) {
	runs := 2 * sims(t)
	for _, c := range []struct {
		pa, pb, mu, sigma float64
		strict            bool
	}{{0.08, 0.09, 3.5, 0.9, true}, {0.05, 0.05, 3.5, 1.2, false}} {
		ma := c.pa * math.Exp(c.mu+c.sigma*c.sigma/2)
		mb := c.pb * math.Exp(c.mu+c.sigma*c.sigma/2)
		truth := mb/ma - 1
		for _, n := range []int{150, 300, 600, 1200} {
			rng := rand.New(rand.NewPCG(17, uint64(n)))
			var lin, lg, used, diff int
			for range runs {
				var a, b Moments
				for range n {
					a.Add(revenue(rng, c.pa, c.mu, c.sigma), 0)
					b.Add(revenue(rng, c.pb, c.mu, c.sigma), 0)
				}
				l := deltaLift(a.MeanY, a.VarY(), a.N, b.MeanY, b.VarY(), b.N)
				if lo, hi, _ := fixedInterval(l, 0.05); lo <= truth && truth <= hi {
					lin++
				}
				if e := logLift(a.MeanY, a.VarY(), a.N, b.MeanY, b.VarY(), b.N); !math.IsNaN(e.Est) {
					if lo, hi, _ := fixedInterval(e, 0.05); math.Exp(lo)-1 <= truth && truth <= math.Exp(hi)-1 {
						lg++
					}
				}
				res, _ := Analyze([]Arm{{Name: "control", Moments: a}, {Name: "b", Moments: b}}, Options{})
				v := res.Variants[1]
				if float64(v.LiftLow) <= truth && truth <= float64(v.LiftHigh) {
					used++
				}
				if float64(v.DiffLow) <= mb-ma && mb-ma <= float64(v.DiffHigh) {
					diff++
				}
			}
			rl, rg, rd := float64(lin)/float64(runs), float64(lg)/float64(runs), float64(diff)/float64(runs)
			t.Logf("buy %.0f%%/%.0f%%, σ %.1f, %5d per arm: lift linear delta %.1f %%, log scale %.1f %%; difference %.1f %% (of %d)",
				100*c.pa, 100*c.pb, c.sigma, n, 100*rl, 100*rg, 100*rd, runs)
			if used < lg {
				t.Errorf("n=%d: Analyze covered %d, the log-scale interval %d", n, used, lg)
			}
			// The log scale is never worse beyond Monte Carlo noise, is better at the smallest
			// samples (full runs), and on the moderate case is within 2 points of nominal.
			worse := rg < rl-band(0.95, runs) || (!testing.Short() && n <= 300 && rg <= rl)
			if worse || (c.strict && rg < 0.95-band(0.95, runs)-0.02) {
				t.Errorf("n=%d: log-scale coverage %.3f (linear %.3f)", n, rg, rl)
			}
		}
	}
}
