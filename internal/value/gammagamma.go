package value

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds the Gamma-Gamma spend model (Fader, Hardie & Lee 2005b;
// Hardie note 025): a customer's transaction values z ~ Gamma(p, ν), ν ~ Gamma(q, γ).
// V (γ) is in the money unit of the fitted Monetary values (minor units here).
type GammaGamma struct {
	P, Q, V       float64
	LogLikelihood float64
	Customers     int
}

// SpendObs is one repeat customer: x repeat purchases with mean value M (> 0).
type SpendObs struct {
	X int
	M float64
	W float64
}

// SpendHistories selects the customers Gamma-Gamma is fitted on: x > 0 and m > 0.
// Customers whose repeat purchases were all zero-valued (m = 0) are left out:
// the Gamma density has no mass at 0, as in lifetimes.
func SpendHistories(s []CustomerSummary) []SpendObs {
	var out []SpendObs
	for _, c := range s {
		if c.Frequency > 0 && c.Monetary > 0 {
			out = append(out, SpendObs{X: c.Frequency, M: c.Monetary, W: 1})
		}
	}
	return out
}

// LogLikelihoodOf is the log-likelihood of one customer's mean spend m over x purchases.
func (g GammaGamma) LogLikelihoodOf(x int, m float64) float64 {
	p, q, v := g.P, g.Q, g.V
	xf := float64(x)
	return lgamma(p*xf+q) - lgamma(p*xf) - lgamma(q) + q*math.Log(v) +
		(p*xf-1)*math.Log(m) + p*xf*math.Log(xf) - (p*xf+q)*math.Log(xf*m+v)
}

type ggLL struct {
	obs  []SpendObs
	xs   []int
	xi   []int32
	logm []float64
	cx   [][5]float64
	acc  []float64
}

func newGGLL(obs []SpendObs) *ggLL {
	o := make([]Obs, len(obs))
	for i, s := range obs {
		o[i].X = s.X
	}
	xs, xi := distinctX(o)
	logm := make([]float64, len(obs))
	for i, s := range obs {
		logm[i] = math.Log(s.M)
	}
	return &ggLL{obs: obs, xs: xs, xi: xi, logm: logm, cx: make([][5]float64, len(xs)), acc: make([]float64, 4)}
}

func (l *ggLL) eval(p, q, v float64, grad []float64) float64 {
	lgq, psq, logv := lgamma(q), mathext.Digamma(q), math.Log(v)
	for i, x := range l.xs {
		xf := float64(x)
		px := p * xf
		psPxq := mathext.Digamma(px + q)
		l.cx[i] = [5]float64{
			lgamma(px+q) - lgamma(px) - lgq + q*logv + px*math.Log(xf), // x-only part
			xf * (psPxq - mathext.Digamma(px) + math.Log(xf)),          // d/dp without the m terms
			psPxq - psq + logv, // d/dq without log(xm+v)
			px + q,
			xf,
		}
	}
	parallelSum(len(l.obs), 4, l.acc, func(lo, hi int, acc []float64) {
		var f, gp, gq, gv float64
		for i := lo; i < hi; i++ {
			o := &l.obs[i]
			c := &l.cx[l.xi[i]]
			lm := l.logm[i]
			xmv := c[4]*o.M + v
			lx := math.Log(xmv)
			f += o.W * (c[0] + (p*c[4]-1)*lm - c[3]*lx)
			gp += o.W * (c[1] + c[4]*(lm-lx))
			gq += o.W * (c[2] - lx)
			gv += o.W * (q/v - c[3]/xmv)
		}
		acc[0] += f
		acc[1] += gp
		acc[2] += gq
		acc[3] += gv
	})
	if grad != nil {
		grad[0], grad[1], grad[2] = l.acc[1]*p, l.acc[2]*q, l.acc[3]*v
	}
	return l.acc[0]
}

// LogLikelihoodSum is the weighted log-likelihood of the spend histories.
func (g GammaGamma) LogLikelihoodSum(obs []SpendObs) float64 {
	return newGGLL(obs).eval(g.P, g.Q, g.V, nil)
}

// FitGammaGamma fits Gamma-Gamma by maximum likelihood. Values are rescaled
// by their mean during the fit (V scales with money, p and q do not).
func FitGammaGamma(obs []SpendObs) (GammaGamma, error) {
	return FitGammaGammaContext(context.Background(), obs)
}

// FitGammaGammaContext is FitGammaGamma that stops when ctx is done.
func FitGammaGammaContext(ctx context.Context, obs []SpendObs) (GammaGamma, error) {
	if len(obs) == 0 {
		return GammaGamma{}, errors.New("gamma-gamma fit: no customers with repeat purchases of positive value")
	}
	n, mean := 0.0, 0.0
	for _, o := range obs {
		if o.X <= 0 || !(o.M > 0) || !(o.W > 0) || math.IsInf(o.M, 0) {
			return GammaGamma{}, fmt.Errorf("gamma-gamma fit: invalid spend history x=%d m=%g w=%g (need x > 0, m > 0)", o.X, o.M, o.W)
		}
		n += o.W
		mean += o.W * o.M
	}
	mean /= n
	sobs := make([]SpendObs, len(obs))
	for i, o := range obs {
		sobs[i] = SpendObs{X: o.X, M: o.M / mean, W: o.W}
	}
	ll := newGGLL(sobs)
	theta, _, err := minimizeLog(ctx, []float64{0, 0, 0}, true, func(th, g []float64) float64 {
		f := ll.eval(math.Exp(th[0]), math.Exp(th[1]), math.Exp(th[2]), g)
		for i := range g { // g is nil when only the value is needed
			g[i] = -g[i] / n
		}
		if math.IsNaN(f) {
			return math.Inf(1)
		}
		return -f / n
	})
	if err != nil {
		return GammaGamma{}, fmt.Errorf("gamma-gamma fit: %w", err)
	}
	g := GammaGamma{P: math.Exp(theta[0]), Q: math.Exp(theta[1]), V: math.Exp(theta[2]) * mean, Customers: int(n)}
	g.LogLikelihood = g.LogLikelihoodSum(obs)
	return g, nil
}

// PopulationMean is E[Z], the expected transaction value of a customer with no history (needs q > 1).
func (g GammaGamma) PopulationMean() float64 {
	if g.Q <= 1 {
		return math.NaN()
	}
	return g.P * g.V / (g.Q - 1)
}

// ConditionalExpectedValue is E[Z | x, m]: a weighted mean of the population mean
// and the customer's observed mean m. With x = 0 it is the population mean; with
// zero-valued repeat purchases (m = 0) it shrinks towards 0 as x grows.
func (g GammaGamma) ConditionalExpectedValue(x int, m float64) float64 {
	xf := float64(x)
	den := g.P*xf + g.Q - 1
	if den <= 0 {
		return math.NaN() // q <= 1 and x = 0: the mean does not exist
	}
	// = (1-w)·PopulationMean + w·m with w = px/(px+q-1), written to stay finite for x > 0 when q <= 1.
	return g.P * (g.V + xf*m) / den
}
