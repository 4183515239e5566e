package experiment

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// The building blocks of the analysis. Each is a formula from docs/experiments.md and is
// tested against an independent computation (testdata/reference.py, with mpmath).

var stdNormal = distuv.Normal{Mu: 0, Sigma: 1}

// zQuantile is the standard normal quantile.
func zQuantile(p float64) float64 { return stdNormal.Quantile(p) }

// tQuantile is Student's t quantile with df degrees of freedom; the normal one when df
// is unknown or so large the two agree to many digits.
func tQuantile(p, df float64) float64 {
	if math.IsNaN(df) || math.IsInf(df, 0) || df > 1e7 {
		return zQuantile(p)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// tTwoSided is P(|T| ≥ |t|) for Student's t with df degrees of freedom.
func tTwoSided(t, df float64) float64 {
	t = math.Abs(t)
	if math.IsNaN(df) || math.IsInf(df, 0) || df > 1e7 {
		return 2 * stdNormal.Survival(t)
	}
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(t)
}

// welchDF is the Welch–Satterthwaite degrees of freedom of a + b, where a and b are two
// independent variance terms estimated from na and nb units.
func welchDF(a, b, na, nb float64) float64 {
	den := a*a/(na-1) + b*b/(nb-1)
	if den == 0 {
		return math.Inf(1)
	}
	return (a + b) * (a + b) / den
}

// Estimate is an effect with its standard error and degrees of freedom.
type estimate struct {
	Est, SE, DF float64
}

// welch is the difference of two means mb − ma with the Welch standard error and degrees
// of freedom, from each arm's mean, sample variance and size.
func welch(ma, va, na, mb, vb, nb float64) estimate {
	a, b := va/na, vb/nb
	return estimate{Est: mb - ma, SE: math.Sqrt(a + b), DF: welchDF(a, b, na, nb)}
}

// deltaLift is the relative lift mb/ma − 1 with its delta-method standard error
// (Var ≈ vb/(nb·ma²) + mb²·va/(na·ma⁴)) and Welch–Satterthwaite degrees of freedom over the
// two terms. It is undefined (NaN) when the control mean is not positive.
func deltaLift(ma, va, na, mb, vb, nb float64) estimate {
	if !(ma > 0) {
		return estimate{Est: math.NaN(), SE: math.NaN(), DF: math.NaN()}
	}
	a := vb / (nb * ma * ma)
	b := mb * mb * va / (na * ma * ma * ma * ma)
	return estimate{Est: mb/ma - 1, SE: math.Sqrt(a + b), DF: welchDF(a, b, nb, na)}
}

// logLift is the log of the ratio mb/ma with its delta-method standard error
// (Var ≈ vb/(nb·mb²) + va/(na·ma²)) and Welch–Satterthwaite degrees of freedom. An
// interval for the log ratio, mapped back with exp(·) − 1, covers the relative lift far
// better than the linear delta method when the metric is skewed and the arms small
// (docs/experiments.md, "Relative lift"). NaN unless both means are positive.
func logLift(ma, va, na, mb, vb, nb float64) estimate {
	if !(ma > 0) || !(mb > 0) {
		return estimate{Est: math.NaN(), SE: math.NaN(), DF: math.NaN()}
	}
	a := vb / (nb * mb * mb)
	b := va / (na * ma * ma)
	return estimate{Est: math.Log(mb / ma), SE: math.Sqrt(a + b), DF: welchDF(a, b, nb, na)}
}

// liftInterval is the relative lift mb/ma − 1 and its interval: on the log scale when
// both means are positive, else (a variant with no conversions yet) the linear delta
// method. interval maps an estimate to (lo, hi).
func liftInterval(ma, va, na, mb, vb, nb float64, interval func(estimate) (lo, hi float64)) (lift, lo, hi float64) {
	if !(ma > 0) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if l := logLift(ma, va, na, mb, vb, nb); !math.IsNaN(l.Est) {
		a, b := interval(l)
		return mb/ma - 1, math.Exp(a) - 1, math.Exp(b) - 1
	}
	l := deltaLift(ma, va, na, mb, vb, nb)
	a, b := interval(l)
	return l.Est, a, b
}

// fixedInterval is the two-sided 1 − alpha interval and p-value of e (t distribution).
func fixedInterval(e estimate, alpha float64) (lo, hi, p float64) {
	if math.IsNaN(e.Est) || math.IsNaN(e.SE) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if e.SE == 0 {
		if e.Est == 0 {
			return 0, 0, 1
		}
		return e.Est, e.Est, 0
	}
	t := tQuantile(1-alpha/2, e.DF)
	return e.Est - t*e.SE, e.Est + t*e.SE, tTwoSided(e.Est/e.SE, e.DF)
}

// seqRho2 is ρ² of the normal-mixture confidence sequence, chosen so that the sequence is
// narrowest when nStar units have been seen (Waudby-Smith et al. 2023, eq. for ρ(t*)):
// ρ² = (−2 ln α + ln(−2 ln α + 1)) / n*.
func seqRho2(nStar, alpha float64) float64 {
	l := -2 * math.Log(alpha)
	return (l + math.Log(l+1)) / nStar
}

// seqMultiplier is the half-width of the always-valid interval in standard errors after
// n units: sqrt((1 + nρ²)/(nρ²) · 2 ln(sqrt(1 + nρ²)/α)). It replaces the fixed-horizon
// t quantile and is larger, the price of looking as often as one likes.
func seqMultiplier(n, rho2, alpha float64) float64 {
	v := n * rho2
	return math.Sqrt((1 + v) / v * 2 * math.Log(math.Sqrt(1+v)/alpha))
}

// seqInterval is the always-valid 1 − alpha interval and p-value of e after n units. The
// p-value is 1/Λ, the mixture likelihood ratio's reciprocal: sqrt(1+nρ²)·exp(−z²nρ²/(2(1+nρ²)));
// it is ≤ α exactly when the interval excludes 0.
func seqInterval(e estimate, n, rho2, alpha float64) (lo, hi, p float64) {
	if math.IsNaN(e.Est) || math.IsNaN(e.SE) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if e.SE == 0 {
		if e.Est == 0 {
			return 0, 0, 1
		}
		return e.Est, e.Est, 0
	}
	c := seqMultiplier(n, rho2, alpha)
	v := n * rho2
	z := e.Est / e.SE
	p = math.Sqrt(1+v) * math.Exp(-z*z*v/(2*(1+v)))
	return e.Est - c*e.SE, e.Est + c*e.SE, math.Min(1, p)
}

// SRMPValue is the chi-square goodness-of-fit p-value of the observed units per arm
// against the planned weights (any positive scale), with k − 1 degrees of freedom.
func SRMPValue(observed []float64, weights []float64) float64 {
	if len(observed) < 2 || len(observed) != len(weights) {
		return math.NaN()
	}
	var total, wsum float64
	for i := range observed {
		total += observed[i]
		wsum += weights[i]
	}
	if total == 0 || wsum <= 0 {
		return math.NaN()
	}
	var chi2 float64
	for i, o := range observed {
		e := total * weights[i] / wsum
		if e <= 0 {
			if o > 0 {
				return 0 // units in an arm that should get none
			}
			continue
		}
		chi2 += (o - e) * (o - e) / e
	}
	return distuv.ChiSquared{K: float64(len(observed) - 1)}.Survival(chi2)
}
