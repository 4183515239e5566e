package experiment

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Bayesian read-out: the probability that a variant beats control and the expected loss
// of shipping it. Priors (docs/experiments.md, "Bayesian"):
//
//   - proportions: each arm's rate has a uniform Beta(1, 1) prior, so its posterior is
//     Beta(1 + conversions, 1 + non-conversions) and the two are compared exactly;
//   - means (and proportions adjusted by CUPED): a flat prior on each arm's mean, so the
//     posterior of the difference is normal around the estimate with the Welch standard
//     error (the large-sample posterior; GrowthBook's default improper prior).

// bayesResult is P(variant > control) and E[max(control − variant, 0)] / control.
type bayesResult struct {
	ProbBeat     float64
	ExpectedLoss float64 // relative to the control's mean; NaN when that is not positive
}

// bayesNormal compares arms whose difference variant − control has posterior N(d, se²).
func bayesNormal(d, se, controlMean float64) bayesResult {
	if math.IsNaN(d) || math.IsNaN(se) {
		return bayesResult{math.NaN(), math.NaN()}
	}
	var p, loss float64
	if se == 0 {
		p = 0.5
		if d > 0 {
			p = 1
		} else if d < 0 {
			p = 0
		}
		loss = math.Max(-d, 0)
	} else {
		z := d / se
		p = stdNormal.CDF(z)
		loss = se*stdNormal.Prob(z) - d*stdNormal.CDF(-z)
	}
	rel := math.NaN()
	if controlMean > 0 {
		rel = loss / controlMean
	}
	return bayesResult{ProbBeat: p, ExpectedLoss: rel}
}

// bayesBeta compares two Beta posteriors, A (control) Beta(aa, ba) and B (variant)
// Beta(ab, bb):
//
//	P(B > A) = ∫ f_B(y) I_y(aa, ba) dy
//	E[max(A − B, 0)] = ∫ f_B(y) [μ_A (1 − I_y(aa+1, ba)) − y (1 − I_y(aa, ba))] dy
//
// (x·Beta(a, b)'s density is μ·Beta(a+1, b)'s), integrated by Simpson's rule over the range
// where B's density is not negligible. The loss is divided by μ_A.
func bayesBeta(aa, ba, ab, bb float64) bayesResult {
	meanA := aa / (aa + ba)
	meanB := ab / (ab + bb)
	sdB := math.Sqrt(ab * bb / ((ab + bb) * (ab + bb) * (ab + bb + 1)))
	lo := math.Max(0, meanB-14*sdB)
	hi := math.Min(1, meanB+14*sdB)
	const n = 600 // even; 400 already agrees with the reference to 1e-6
	h := (hi - lo) / n
	lnorm := lgamma(ab+bb) - lgamma(ab) - lgamma(bb)
	var sp, sl float64
	for i := 0; i <= n; i++ {
		y := lo + float64(i)*h
		f := betaDensity(y, ab, bb, lnorm)
		if f == 0 {
			continue
		}
		w := 2.0
		if i == 0 || i == n {
			w = 1
		} else if i%2 == 1 {
			w = 4
		}
		ia := regIncBeta(aa, ba, y)
		sp += w * f * ia
		sl += w * f * (meanA*(1-regIncBeta(aa+1, ba, y)) - y*(1-ia))
	}
	return bayesResult{ProbBeat: clamp01(sp * h / 3), ExpectedLoss: math.Max(0, sl*h/3) / meanA}
}

func betaDensity(y, a, b, lnorm float64) float64 {
	if y < 0 || y > 1 {
		return 0
	}
	l := lnorm
	if a != 1 {
		if y == 0 {
			return 0
		}
		l += (a - 1) * math.Log(y)
	}
	if b != 1 {
		if y == 1 {
			return 0
		}
		l += (b - 1) * math.Log1p(-y)
	}
	return math.Exp(l)
}

func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	return mathext.RegIncBeta(a, b, x)
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }
