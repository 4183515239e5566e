package value

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// gammaRand draws from Gamma(shape k, scale 1) (Marsaglia & Tsang 2000).
func gammaRand(rng *rand.Rand, k float64) float64 {
	if k < 1 {
		// boost: G(k) = G(k+1) · U^(1/k)
		return gammaRand(rng, k+1) * math.Pow(rng.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// SyntheticOptions describe a synthetic population drawn from the BG/NBD
// process with Gamma-Gamma spend. Rates are per day; ages are uniform in [0, MaxAgeDays].
type SyntheticOptions struct {
	Customers  int
	Seed       uint64
	MaxAgeDays int
	BG         BGNBD      // Alpha per day
	Spend      GammaGamma // V in minor units
}

// DefaultSynthetic is close to CDNOW (α in days, spend in cents).
var DefaultSynthetic = SyntheticOptions{
	Customers: 1_000_000, Seed: 1, MaxAgeDays: 364,
	BG:    BGNBD{R: 0.25, Alpha: 28, A: 0.8, B: 2.5},
	Spend: GammaGamma{P: 6, Q: 4, V: 1500},
}

// Synthetic draws customer summaries (unit: week) from the BG/NBD process:
// λ ~ Gamma(r, α), p ~ Beta(a, b); repeat purchases at exponential gaps, dropout
// with probability p after each; purchases are counted per distinct day, so
// same-day purchases of very heavy buyers merge as in real data.
func Synthetic(o SyntheticOptions) []CustomerSummary {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	out := make([]CustomerSummary, o.Customers)
	for i := range out {
		T := rng.IntN(o.MaxAgeDays + 1)
		lam := gammaRand(rng, o.BG.R) / o.BG.Alpha
		g1, g2 := gammaRand(rng, o.BG.A), gammaRand(rng, o.BG.B)
		p := g1 / (g1 + g2)
		nu := gammaRand(rng, o.Spend.Q) / o.Spend.V
		// The first purchase is at day 0; dropout can follow each repeat purchase.
		x, lastDay := 0, 0
		sum := 0.0
		t := 0.0
		for lam > 0 {
			t += rng.ExpFloat64() / lam
			if t >= float64(T+1) {
				break
			}
			if d := int(t); d != lastDay {
				x++
				lastDay = d
				sum += gammaRand(rng, o.Spend.P) / nu
			}
			if rng.Float64() < p {
				break
			}
		}
		c := CustomerSummary{ID: strconv.Itoa(i + 1), Frequency: x, RecencyDays: lastDay, AgeDays: T}
		c.Recency, c.T = float64(lastDay)/7, float64(T)/7
		if x > 0 {
			c.Monetary = sum / float64(x)
		}
		out[i] = c
	}
	return out
}

// BenchResult holds the timings of one BenchCLV run.
type BenchResult struct {
	Customers, Histories, SpendCustomers int
	Group, FitBG, FitGG, Score, Total    time.Duration
	BG                                   BGNBD
	GG                                   GammaGamma
	MeanCLV                              float64
}

// BenchCLV times grouping, the BG/NBD and Gamma-Gamma fits and scoring
// (P(alive), E[Y] over 12 months, E[M], 12-month CLV) of the given customers.
func BenchCLV(sum []CustomerSummary) (BenchResult, error) {
	r := BenchResult{Customers: len(sum)}
	t0 := time.Now()
	obs := GroupHistories(sum)
	spend := SpendHistories(sum)
	r.Histories, r.SpendCustomers = len(obs), len(spend)
	t1 := time.Now()
	bg, err := FitBGNBD(obs)
	if err != nil {
		return r, err
	}
	t2 := time.Now()
	gg, err := FitGammaGamma(spend)
	if err != nil {
		return r, err
	}
	t3 := time.Now()
	m := Models{Unit: Week, BGNBD: bg, Gamma: gg, HasSpend: true}
	pred := m.Score(sum, ScoreOptions{HorizonMonths: 12, Discount: 0.01, Bands: DefaultChurnBands})
	t4 := time.Now()
	for _, p := range pred {
		r.MeanCLV += p.CLV
	}
	r.MeanCLV /= float64(len(pred))
	r.Group, r.FitBG, r.FitGG, r.Score, r.Total = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t4.Sub(t0)
	r.BG, r.GG = bg, gg
	return r, nil
}

// RunBenchCLV is `omniroi bench clv`: it draws n synthetic customers with the
// seed and prints the timings and the recovered parameters.
func RunBenchCLV(n int, seed uint64, w io.Writer) error {
	o := DefaultSynthetic
	o.Customers, o.Seed = n, seed
	gen := time.Now()
	sum := Synthetic(o)
	genDur := time.Since(gen)
	r, err := BenchCLV(sum)
	if err != nil {
		return fmt.Errorf("bench clv: %w", err)
	}
	fmt.Fprintf(w, "customers %d (generated in %v), distinct histories %d, spend customers %d\n", r.Customers, genDur.Round(time.Millisecond), r.Histories, r.SpendCustomers)
	fmt.Fprintf(w, "group %v, BG/NBD fit %v, Gamma-Gamma fit %v, score %v, total %v\n",
		r.Group.Round(time.Millisecond), r.FitBG.Round(time.Millisecond), r.FitGG.Round(time.Millisecond), r.Score.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	fmt.Fprintf(w, "BG/NBD r=%.4f alpha=%.4f (per week; true %.4f) a=%.4f b=%.4f\n", r.BG.R, r.BG.Alpha, o.BG.Alpha/7, r.BG.A, r.BG.B)
	fmt.Fprintf(w, "Gamma-Gamma p=%.4f q=%.4f v=%.2f, mean 12-month CLV %.2f\n", r.GG.P, r.GG.Q, r.GG.V, r.MeanCLV/100)
	return nil
}
