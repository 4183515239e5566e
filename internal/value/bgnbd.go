package value

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD holds the parameters of the BG/NBD model (Fader, Hardie & Lee 2005):
// purchase rates λ ~ Gamma(r, α), dropout probability after each purchase p ~ Beta(a, b).
// α is in the time unit of the histories it was fitted on.
type BGNBD struct {
	R, Alpha, A, B float64
	LogLikelihood  float64 // at the fit, over the fitted histories
	Customers      int     // customers the fit used
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// logAddExp is log(e^a + e^b) without overflow.
func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// LogLikelihoodOf is the log-likelihood of one history (x, t_x, T), eq. (6) of FHL 2005 in log space.
func (m BGNBD) LogLikelihoodOf(x int, tx, T float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	xf := float64(x)
	a1 := lgamma(r+xf) - lgamma(r) + r*math.Log(al)
	a2 := lgamma(a+b) + lgamma(b+xf) - lgamma(b) - lgamma(a+b+xf)
	a3 := -(r + xf) * math.Log(al+T)
	if x == 0 {
		return a1 + a2 + a3
	}
	a4 := math.Log(a) - math.Log(b+xf-1) - (r+xf)*math.Log(al+tx)
	return a1 + a2 + logAddExp(a3, a4)
}

// bgnbdLL computes the weighted log-likelihood over obs and its gradient with
// respect to log(r, α, a, b). Terms depending only on x are computed once per
// distinct x, and log(α+t), 1/(α+t) once per distinct t among the t_x and T
// values (a few hundred when times are whole days), so the per-history work is
// one exp and one log1p.
type bgnbdLL struct {
	obs    []Obs
	xs     []int
	xi     []int32
	ti, ri []int32   // per obs: index of T and of t_x in ts
	ts     []float64 // distinct times
	lt, it []float64 // log(α+t), 1/(α+t) per distinct time
	cx     [][6]float64
	acc    []float64
}

func newBGNBDLL(obs []Obs) *bgnbdLL {
	xs, xi := distinctX(obs)
	l := &bgnbdLL{obs: obs, xs: xs, xi: xi, cx: make([][6]float64, len(xs)), acc: make([]float64, 5),
		ti: make([]int32, len(obs)), ri: make([]int32, len(obs))}
	pos := map[float64]int32{}
	at := func(v float64) int32 {
		j, ok := pos[v]
		if !ok {
			j = int32(len(l.ts))
			pos[v] = j
			l.ts = append(l.ts, v)
		}
		return j
	}
	for i, o := range obs {
		l.ti[i], l.ri[i] = at(o.T), at(o.Tx)
	}
	l.lt, l.it = make([]float64, len(l.ts)), make([]float64, len(l.ts))
	return l
}

// eval returns LL and fills grad = dLL/dlog(param) when grad is not nil.
func (l *bgnbdLL) eval(r, al, a, b float64, grad []float64) float64 {
	lgr, lgab, lgb := lgamma(r), lgamma(a+b), lgamma(b)
	psr, psab, psb := mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	logAl, logA := math.Log(al), math.Log(a)
	for i, x := range l.xs {
		xf := float64(x)
		c := &l.cx[i]
		// 0: x-only part of LL (A1 + A2 without r log α)
		c[0] = lgamma(r+xf) - lgr + lgab + lgamma(b+xf) - lgb - lgamma(a+b+xf)
		// 1: dA1/dr without log α; 2: dA2/da; 3: dA2/db
		c[1] = mathext.Digamma(r+xf) - psr
		psabx := mathext.Digamma(a + b + xf)
		c[2] = psab - psabx
		c[3] = psab + mathext.Digamma(b+xf) - psb - psabx
		// 4: log(a/(b+x-1)) for the A4 term; 5: 1/(b+x-1)
		if x > 0 {
			c[4] = logA - math.Log(b+xf-1)
			c[5] = 1 / (b + xf - 1)
		}
	}
	for j, t := range l.ts {
		l.lt[j], l.it[j] = math.Log(al+t), 1/(al+t)
	}
	parallelSum(len(l.obs), 5, l.acc, func(lo, hi int, acc []float64) {
		var f, gr, gal, ga, gb float64
		for i := lo; i < hi; i++ {
			o := &l.obs[i]
			c := &l.cx[l.xi[i]]
			w := o.W
			rx := r + float64(o.X)
			lT, iT := l.lt[l.ti[i]], l.it[l.ti[i]]
			a3 := -rx * lT
			ll := c[0] + r*logAl
			w3, w4 := 1.0, 0.0
			var lTx, iTx float64
			if o.X > 0 {
				lTx, iTx = l.lt[l.ri[i]], l.it[l.ri[i]]
				a4 := c[4] - rx*lTx
				// w3 = e^a3/(e^a3+e^a4)
				if a3 > a4 {
					e := math.Exp(a4 - a3)
					ll += a3 + math.Log(1+e) // Log is much faster than Log1p; e is in (0, 1]
					w3 = 1 / (1 + e)
				} else {
					e := math.Exp(a3 - a4)
					ll += a4 + math.Log(1+e)
					w3 = e / (1 + e)
				}
				w4 = 1 - w3
			} else {
				ll += a3
			}
			f += w * ll
			gr += w * (c[1] + logAl - w3*lT - w4*lTx)
			gal += w * (r/al - rx*(w3*iT+w4*iTx))
			ga += w * (c[2] + w4/a)
			gb += w * (c[3] - w4*c[5])
		}
		acc[0] += f
		acc[1] += gr
		acc[2] += gal
		acc[3] += ga
		acc[4] += gb
	})
	if grad != nil {
		grad[0] = l.acc[1] * r
		grad[1] = l.acc[2] * al
		grad[2] = l.acc[3] * a
		grad[3] = l.acc[4] * b
	}
	return l.acc[0]
}

// LogLikelihoodSum is the weighted log-likelihood of the histories under m.
func (m BGNBD) LogLikelihoodSum(obs []Obs) float64 {
	return newBGNBDLL(obs).eval(m.R, m.Alpha, m.A, m.B, nil)
}

// FitBGNBD fits BG/NBD by maximum likelihood (BFGS on log-parameters with the
// analytic gradient). Histories are rescaled so that max T is 10 during the fit.
func FitBGNBD(obs []Obs) (BGNBD, error) {
	return FitBGNBDContext(context.Background(), obs)
}

// FitBGNBDContext is FitBGNBD that stops when ctx is done.
func FitBGNBDContext(ctx context.Context, obs []Obs) (BGNBD, error) {
	if err := checkObs(obs); err != nil {
		return BGNBD{}, fmt.Errorf("bg/nbd fit: %w", err)
	}
	if !hasRepeat(obs) {
		return BGNBD{}, fmt.Errorf("bg/nbd fit: %w", ErrNoRepeat)
	}
	c := timeScale(obs)
	sobs := scaleObs(obs, c)
	theta, err := fitBGNBDScaled(ctx, sobs, []float64{0, 0, 0, 0})
	if err != nil {
		return BGNBD{}, fmt.Errorf("bg/nbd fit: %w", err)
	}
	n := totalWeight(obs)
	m := BGNBD{R: math.Exp(theta[0]), Alpha: math.Exp(theta[1]) / c, A: math.Exp(theta[2]), B: math.Exp(theta[3]), Customers: int(n)}
	m.LogLikelihood = m.LogLikelihoodSum(obs)
	return m, nil
}

func fitBGNBDScaled(ctx context.Context, sobs []Obs, theta0 []float64) ([]float64, error) {
	ll := newBGNBDLL(sobs)
	n := totalWeight(sobs)
	theta, _, err := minimizeLog(ctx, theta0, true, func(th, g []float64) float64 {
		f := ll.eval(math.Exp(th[0]), math.Exp(th[1]), math.Exp(th[2]), math.Exp(th[3]), g)
		for i := range g { // g is nil when only the value is needed
			g[i] = -g[i] / n
		}
		if math.IsNaN(f) {
			return math.Inf(1)
		}
		return -f / n
	})
	return theta, err
}

// PAlive is P(customer still alive | x, t_x, T).
func (m BGNBD) PAlive(x int, tx, T float64) float64 {
	if x == 0 {
		return 1
	}
	xf := float64(x)
	l := math.Log(m.A) - math.Log(m.B+xf-1) + (m.R+xf)*(math.Log(m.Alpha+T)-math.Log(m.Alpha+tx))
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases is E[X(t)], repeat purchases in (0, t] of a customer just
// acquired: FHL eq. 9, which is E[Y(t) | alive] at x = 0, T = 0.
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	return m.expectedIfAlive(t, 0, 0)
}

// ConditionalExpectedPurchases is E[Y(t) | x, t_x, T]: repeat purchases in (T, T+t].
func (m BGNBD) ConditionalExpectedPurchases(t float64, x int, tx, T float64) float64 {
	return m.expectedIfAlive(t, x, T) * m.PAlive(x, tx, T)
}

// expectedIfAlive is E[Y(t) | alive at T, x, T]. It does not depend on t_x,
// so scoring caches it per (x, T) and multiplies by P(alive).
func (m BGNBD) expectedIfAlive(t float64, x int, T float64) float64 {
	if t <= 0 {
		return 0
	}
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	xf := float64(x)
	if a+b > largeParam || r > largeParam {
		return expectedFixedP(r+xf, al+T, a/(a+b+xf), t)
	}
	z := t / (al + T + t)
	// FHL's ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z) overflows in the
	// 2F1 as z → 1 for large x; Euler's transformation turns it into
	// (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z), which stays bounded.
	h := mathext.Hypergeo(a+b-1-r, a-1, a+b+xf-1, z)
	return (a + b + xf - 1) / (a - 1) * (1 - math.Exp((a-1)*math.Log((al+T)/(al+T+t)))*h)
}

// largeParam is the a+b (or r) above which Beta(a, b) is treated as its mean: a
// fit on data without dropout heterogeneity drives a and b towards infinity, and
// one on a handful of customers can do the same to r and α. The 2F1 with such
// parameters is slow (0.3 s to minutes per call) and can end in NaN; the fixed-p
// form is exact in the a+b limit and a guard against hanging for huge r.
const largeParam = 1e4

// expectedFixedP is E[Y(t) | alive] when every customer drops out with the same
// probability p after each purchase and λ ~ Gamma(shape, rate): the purchases
// before dropout in t are (1 - e^(-λpt))/p on average, so the mean over λ is
// (1 - (rate/(rate+pt))^shape)/p. Its error against BG/NBD is O(1/(a+b)); for
// huge r (λ nearly the same for everyone) it also drops the spread of p.
func expectedFixedP(shape, rate, p, t float64) float64 {
	return -math.Expm1(-shape*math.Log1p(p*t/rate)) / p
}

// ProbPurchases is P(X(t) = n) for a customer just acquired (FHL 2005 eq. 8).
func (m BGNBD) ProbPurchases(n int, t float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	nf := float64(n)
	lb := mathext.Lbeta(a, b)
	la := math.Log(al / (al + t))
	lz := math.Log(t / (al + t))
	if t == 0 {
		lz = math.Inf(-1)
		if n == 0 {
			return 1
		}
	}
	term := mathext.Lbeta(a, b+nf) - lb + lgamma(r+nf) - lgamma(r) - lgamma(nf+1) + r*la + nf*lz
	p := math.Exp(term)
	if n > 0 {
		s := 0.0
		for j := 0; j < n; j++ {
			jf := float64(j)
			s += math.Exp(lgamma(r+jf) - lgamma(r) - lgamma(jf+1) + jf*lz)
		}
		p += math.Exp(mathext.Lbeta(a+1, b+nf-1)-lb) * (1 - math.Exp(r*la)*s)
	}
	return p
}
