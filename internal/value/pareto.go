package value

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// ParetoNBD holds the parameters of the Pareto/NBD model (Schmittlein, Morrison
// & Colombo 1987): purchase rate λ ~ Gamma(r, α), dropout rate μ ~ Gamma(s, β).
type ParetoNBD struct {
	R, Alpha, S, Beta float64
	LogLikelihood     float64
	Customers         int
}

// logA0 is log of A0 in Fader & Hardie note 009 eqs. (19)-(20):
// A0 = 2F1(r+s+x, t; r+s+x+1; |α-β|/(max+t_x)) / (max+t_x)^(r+s+x) - same at T,
// with t = r+x when α < β, else s+1. It is -Inf when t_x = T.
func (m ParetoNBD) logA0(x int, tx, T float64) float64 {
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	xf := float64(x)
	lo, hi, t := be, al, s+1
	if al < be {
		lo, hi, t = al, be, r+xf
	}
	d := hi - lo
	rsx := r + s + xf
	if tx >= T {
		return math.Inf(-1)
	}
	l1 := log2F1a1(rsx, t, d/(hi+tx)) - rsx*math.Log(hi+tx)
	l2 := log2F1a1(rsx, t, d/(hi+T)) - rsx*math.Log(hi+T)
	if l2 >= l1 {
		// Rounding when t_x is just below T; the difference is below precision.
		return math.Inf(-1)
	}
	return l1 + math.Log(-math.Expm1(l2-l1))
}

// log2F1a1 is log 2F1(a, b; a+1; z) for a > 0, 0 <= z < 1. By Euler's
// transformation it equals (1-z)^(1-b) · 2F1(1, a+1-b; a+1; z), whose series has
// positive terms with ratio (a+1-b+n)/(a+1+n)·z < z when b > 0: no cancellation,
// and about 10x faster than the general 2F1 for the arguments Pareto/NBD needs.
func log2F1a1(a, b, z float64) float64 {
	if z == 0 {
		return 0
	}
	if v, ok := log2F1a1Laguerre(a, b, z); ok {
		return v
	}
	if z > nearOne {
		if v, ok := log2F1a1NearOne(a, b, z); ok {
			return v
		}
	}
	const limit = 20000
	c := a + 1 - b
	sum, term := 1.0, 1.0
	for n := 0.0; n < limit; n++ {
		ratio := (c + n) / (a + 1 + n) * z
		term *= ratio
		sum += term
		if term < 1e-17*sum {
			return (1-b)*math.Log1p(-z) + math.Log(sum)
		}
		// The ratio grows towards z (0 < c < a+1 for the Pareto/NBD arguments), so the
		// terms shrink no faster than ratio^m from here, and the sum stays below
		// sum + term·z/(1-z). When even that needs more terms than are left, the series
		// cannot converge within the limit: go to the fallback now rather than after all
		// the terms (z close to 1; one fit of a small data set spent seconds here).
		if int(n)%256 == 255 && c < a+1 && ratio < 1 {
			most := sum + term*z/(1-z)
			if n+math.Log(1e-17*most/term)/math.Log(ratio) > limit+1 {
				break
			}
		}
	}
	// z very close to 1 and b within 1e-3 of an integer, where the connection formula
	// does not hold: interpolate in b between points on either side where it does (log
	// 2F1 is smooth in b). The general implementation is the last resort; it gives NaN
	// for some of these arguments (a = 185, b = 0.9992, z = 0.99983).
	if z > nearOne {
		if v, ok := log2F1a1AcrossB(a, b, z); ok {
			return v
		}
	}
	return math.Log(mathext.Hypergeo(a, b, a+1, z))
}

// laguerreU and laguerreW are the nodes and weights of log2F1a1Laguerre's quadrature.
var laguerreU, laguerreW = gaussLaguerre(24)

// log2F1a1Laguerre is log 2F1(a, b; a+1; z) from Euler's integral a∫t^(a-1)(1-zt)^(-b)dt,
// which with t = e^(-u/a) becomes ∫e^(-u)·(1-z·e^(-u/a))^(-b)du over u ≥ 0, by Gauss–Laguerre
// quadrature after scaling u by λ = 1 + bz/(a(1-z)), the integrand's decay rate at u = 0.
// What is left to integrate is smooth on the scale a(1-z) (its singularity is at
// u = a·log z), so where a(1-z) ≥ 2 24 nodes are exact to rounding (TestLog2F1a1Laguerre).
// That is where the series in z is slow and the connection formula cancels: a large a with
// z near 1, as when a fit of a small shop drives r up and s to 0 (a in the thousands,
// b ≈ 1, z ≈ 0.998: 15,000 terms of the series). ok is false elsewhere.
func log2F1a1Laguerre(a, b, z float64) (v float64, ok bool) {
	d := a * (1 - z)
	if z < 0.9 || d < 2 || b <= 0 {
		return 0, false
	}
	// (1-z·e^(-x/a))^(-b) = (1-z)^(-b) · exp(-b·(log(1-z·e^(-x/a)) - log(1-z))), the
	// second factor in (0, 1]: no overflow for large b.
	l1z := math.Log1p(-z)
	lam := 1 + b*z/d
	sum := 0.0
	for i, u := range laguerreU {
		x := u / lam
		q := (1 - z) - z*math.Expm1(-x/a) // 1 - z·e^(-x/a), without cancellation
		sum += laguerreW[i] * math.Exp(u-x-b*(math.Log(q)-l1z))
	}
	return -b*l1z + math.Log(sum/lam), true
}

// log2F1a1AcrossB is log 2F1(a, b; a+1; z) for b near an integer k, by the cubic
// through the values at k ± 0.0015 and k ± 0.003 from the connection formula.
func log2F1a1AcrossB(a, b, z float64) (float64, bool) {
	k := math.Round(b)
	hs := [4]float64{-0.003, -0.0015, 0.0015, 0.003}
	var ys [4]float64
	for i, h := range hs {
		y, ok := log2F1a1NearOne(a, k+h, z)
		if !ok {
			return 0, false
		}
		ys[i] = y
	}
	x := b - k
	v := 0.0
	for i := range hs { // Lagrange form
		l := ys[i]
		for j := range hs {
			if j != i {
				l *= (x - hs[j]) / (hs[i] - hs[j])
			}
		}
		v += l
	}
	return v, true
}

// nearOne is where log2F1a1 turns to the series in 1-z: beyond it the series in z needs
// thousands of terms (about 40/(1-z)), and a Pareto/NBD fit of a small shop spent
// seconds there.
const nearOne = 0.99

// log2F1a1NearOne is log 2F1(a, b; a+1; z) from the connection formula between z and
// 1-z (DLMF 15.8.4; c-a-b = 1-b), which with c = a+1 simplifies to
//
//	Γ(a+1)Γ(1-b)/Γ(a+1-b) · z^-a  +  a/(b-1) · (1-z)^(1-b) · 2F1(1, a+1-b; 2-b; 1-z),
//
// a series in 1-z that converges in a few dozen terms near z = 1. The formula does not
// hold at integer b (the two parts' poles cancel); near one, and wherever the parts
// cancel by more than three significant digits, ok is false and the caller sums the series
// in z instead.
func log2F1a1NearOne(a, b, z float64) (v float64, ok bool) {
	if math.Abs(b-math.Round(b)) < 1e-3 || a+1-b <= 0 {
		return 0, false
	}
	w := 1 - z
	// 2F1(1, a+1-b; 2-b; w): its terms may change sign once (2-b+n crosses zero).
	c, d := a+1-b, 2-b
	sum, term := 1.0, 1.0
	converged := false
	for n := 0.0; n < 500; n++ {
		term *= (c + n) / (d + n) * w
		sum += term
		if math.Abs(term) < 1e-17*math.Abs(sum) {
			converged = true
			break
		}
	}
	if !converged || sum == 0 {
		return 0, false
	}
	// Both parts in logs with their signs: Γ(a+1) and z^-a overflow for frequent buyers.
	g1, _ := math.Lgamma(a + 1)
	g2, s2 := math.Lgamma(1 - b)
	g3, s3 := math.Lgamma(c)
	l1, sg1 := g1+g2-g3-a*math.Log(z), float64(s2*s3)
	sg2 := 1.0
	if b < 1 {
		sg2 = -1 // a/(b-1)
	}
	if sum < 0 {
		sg2 = -sg2
	}
	l2 := math.Log(a) - math.Log(math.Abs(b-1)) + (1-b)*math.Log(w) + math.Log(math.Abs(sum))
	hi, lo, shi, slo := l1, l2, sg1, sg2
	if l2 > l1 {
		hi, lo, shi, slo = l2, l1, sg2, sg1
	}
	r := 1 + shi*slo*math.Exp(lo-hi) // (part1 + part2) / (the larger part, signed)
	if shi < 0 || r < 1e-3 || math.IsNaN(r) || math.IsInf(hi, 0) {
		return 0, false
	}
	return hi + math.Log(r), true
}

// LogLikelihoodOf is the log-likelihood of one history (note 009 eq. 18).
func (m ParetoNBD) LogLikelihoodOf(x int, tx, T float64) float64 {
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	xf := float64(x)
	a1 := lgamma(r+xf) - lgamma(r) + r*math.Log(al) + s*math.Log(be)
	a2 := logAddExp(-(r+xf)*math.Log(al+T)-s*math.Log(be+T), math.Log(s)+m.logA0(x, tx, T)-math.Log(r+s+xf))
	return a1 + a2
}

// LogLikelihoodSum is the weighted log-likelihood of the histories.
func (m ParetoNBD) LogLikelihoodSum(obs []Obs) float64 {
	return newParetoLL(obs).eval(m)
}

// paretoLL evaluates the weighted log-likelihood with the 2F1 terms computed
// once per distinct (x, t) pair among the (x, t_x) and (x, T) of the histories:
// with whole-day times there are far fewer pairs than histories.
type paretoLL struct {
	obs    []Obs
	pairs  []Obs // X and Tx used
	p1, p2 []int32
	val    []float64 // log 2F1(...)/(max+t)^(r+s+x) per pair
	acc    []float64
}

func newParetoLL(obs []Obs) *paretoLL {
	type key struct {
		x int
		t float64
	}
	l := &paretoLL{obs: obs, p1: make([]int32, len(obs)), p2: make([]int32, len(obs)), acc: make([]float64, 1)}
	pos := map[key]int32{}
	at := func(x int, t float64) int32 {
		k := key{x, t}
		j, ok := pos[k]
		if !ok {
			j = int32(len(l.pairs))
			pos[k] = j
			l.pairs = append(l.pairs, Obs{X: x, Tx: t})
		}
		return j
	}
	for i, o := range obs {
		l.p1[i], l.p2[i] = at(o.X, o.Tx), at(o.X, o.T)
	}
	l.val = make([]float64, len(l.pairs))
	return l
}

func (l *paretoLL) eval(m ParetoNBD) float64 {
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	lo, hi, sp1 := be, al, true
	if al < be {
		lo, hi, sp1 = al, be, false
	}
	d := hi - lo
	parallelFor(len(l.pairs), func(a, b int) {
		for j := a; j < b; j++ {
			p := l.pairs[j]
			xf := float64(p.X)
			t := s + 1
			if !sp1 {
				t = r + xf
			}
			rsx := r + s + xf
			l.val[j] = log2F1a1(rsx, t, d/(hi+p.Tx)) - rsx*math.Log(hi+p.Tx)
		}
	})
	lgr, lal, lbe, ls := lgamma(r), math.Log(al), math.Log(be), math.Log(s)
	parallelSum(len(l.obs), 1, l.acc, func(a, b int, acc []float64) {
		f := 0.0
		lastX, lgrx := -1, 0.0
		for i := a; i < b; i++ {
			o := &l.obs[i]
			xf := float64(o.X)
			if o.X != lastX {
				lastX, lgrx = o.X, lgamma(r+xf)
			}
			rsx := r + s + xf
			logA0 := math.Inf(-1)
			if o.Tx < o.T {
				l1, l2 := l.val[l.p1[i]], l.val[l.p2[i]]
				if l2 < l1 {
					logA0 = l1 + math.Log(-math.Expm1(l2-l1))
				}
			}
			a1 := lgrx - lgr + r*lal + s*lbe
			a2 := logAddExp(-(r+xf)*math.Log(al+o.T)-s*math.Log(be+o.T), ls+logA0-math.Log(rsx))
			f += o.W * (a1 + a2)
		}
		acc[0] += f
	})
	return l.acc[0]
}

// FitParetoNBD fits Pareto/NBD by maximum likelihood: BFGS on log-parameters
// with central-difference gradients (the 2F1 derivatives are not worth it at
// the sizes this model is used for; BG/NBD is the large-scale model).
func FitParetoNBD(obs []Obs) (ParetoNBD, error) {
	return FitParetoNBDContext(context.Background(), obs)
}

// FitParetoNBDContext is FitParetoNBD that stops when ctx is done.
func FitParetoNBDContext(ctx context.Context, obs []Obs) (ParetoNBD, error) {
	if err := checkObs(obs); err != nil {
		return ParetoNBD{}, fmt.Errorf("pareto/nbd fit: %w", err)
	}
	if !hasRepeat(obs) {
		return ParetoNBD{}, fmt.Errorf("pareto/nbd fit: %w", ErrNoRepeat)
	}
	c := timeScale(obs)
	sobs := scaleObs(obs, c)
	n := totalWeight(obs)
	ll := newParetoLL(sobs)
	f := func(th []float64) float64 {
		m := ParetoNBD{R: math.Exp(th[0]), Alpha: math.Exp(th[1]), S: math.Exp(th[2]), Beta: math.Exp(th[3])}
		v := -ll.eval(m) / n
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}
	theta, _, err := minimizeLog(ctx, []float64{0, 0, 0, 0}, false, func(th, g []float64) float64 {
		if g != nil {
			numGrad(f, th, g)
		}
		return f(th)
	})
	if err != nil {
		return ParetoNBD{}, fmt.Errorf("pareto/nbd fit: %w", err)
	}
	m := ParetoNBD{R: math.Exp(theta[0]), Alpha: math.Exp(theta[1]) / c, S: math.Exp(theta[2]), Beta: math.Exp(theta[3]) / c, Customers: int(n)}
	m.LogLikelihood = m.LogLikelihoodSum(obs)
	return m, nil
}

// PAlive is P(alive | x, t_x, T) (note 009 eqs. 36-37).
func (m ParetoNBD) PAlive(x int, tx, T float64) float64 {
	xf := float64(x)
	l := math.Log(m.S) - math.Log(m.R+m.S+xf) + (m.R+xf)*math.Log(m.Alpha+T) + m.S*math.Log(m.Beta+T) + m.logA0(x, tx, T)
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases is E[X(t)] for a customer just acquired (note 009 eq. 27).
func (m ParetoNBD) ExpectedPurchases(t float64) float64 {
	return m.R * m.Beta / m.Alpha * powTerm(m.S-1, m.Beta, t)
}

// powTerm is (1 - (β/(β+t))^k)/k, with its limit log((β+t)/β) at k = 0.
func powTerm(k, be, t float64) float64 {
	lr := math.Log(be / (be + t))
	if math.Abs(k) < 1e-9 {
		return -lr
	}
	return -math.Expm1(k*lr) / k
}

// ConditionalExpectedPurchases is E[Y(t) | x, t_x, T] (note 009 eq. 41), in log space.
func (m ParetoNBD) ConditionalExpectedPurchases(t float64, x int, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	xf := float64(x)
	ll := m.LogLikelihoodOf(x, tx, T)
	first := lgamma(r+xf) - lgamma(r) + r*math.Log(al) + s*math.Log(be) - (r+xf)*math.Log(al+T) - s*math.Log(be+T)
	second := math.Log(r+xf) + math.Log(be+T) - math.Log(al+T)
	third := math.Log(powTerm(s-1, be+T, t))
	return math.Exp(first + second + third - ll)
}
