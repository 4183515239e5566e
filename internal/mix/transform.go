package mix

import "math"

// Media transforms. Spend is scaled per channel so that its mean over the data window
// is 1; the transforms work on that scale.

// adstock writes the normalised geometric carryover of x into dst:
//
//	a[t] = θ·a[t−1] + (1−θ)·x[t]
//
// Each unit of spend shows up as (1−θ)·θ^l in period t+l, so the weights sum to one and
// carryover moves spend in time without creating or losing any (PyMC-Marketing's
// normalize=True with an unlimited lag). The series starts from the mean of its first
// periods, as if spend before the window had been at that level: starting from zero
// would make the first weeks look like a period without advertising.
func adstock(dst, x []float64, theta float64) {
	if len(x) == 0 {
		return
	}
	n := min(len(x), max(1, int(math.Ceil(1/(1-theta)))))
	prev := 0.0
	for _, v := range x[:n] {
		prev += v
	}
	prev /= float64(n)
	for t, v := range x {
		prev = theta*prev + (1-theta)*v
		dst[t] = prev
	}
}

// hill is the Hill saturation normalised to 1 at a = 1 (the channel's mean spend):
//
//	g(a) = a^s·(1+κ^s) / (a^s+κ^s)
//
// κ is the half-saturation point and s the shape (s ≤ 1 concave, s > 1 S-shaped) on the
// mean-1 scale. Normalising at the mean makes β, the coefficient in front, the channel's
// contribution per period at its average spend, in units of the mean target; priors and
// the non-negativity constraint act on that.
type hill struct {
	kappa, s float64
	ks       float64 // κ^s
	norm     float64 // 1 + κ^s
}

func newHill(kappa, s float64) hill {
	ks := math.Pow(kappa, s)
	return hill{kappa: kappa, s: s, ks: ks, norm: 1 + ks}
}

func (h hill) at(a float64) float64 {
	if a <= 0 {
		return 0
	}
	var as float64
	if h.s == 1 {
		as = a
	} else {
		as = math.Pow(a, h.s)
	}
	return as * h.norm / (as + h.ks)
}

// slope is dg/da.
func (h hill) slope(a float64) float64 {
	if a <= 0 {
		if h.s < 1 {
			return math.Inf(1)
		}
		if h.s > 1 {
			return 0
		}
		return h.norm / h.ks
	}
	as := math.Pow(a, h.s)
	d := as + h.ks
	return h.norm * h.s * as / a * h.ks / (d * d)
}

// channelParams are one channel's transform parameters.
type channelParams struct {
	Theta, Kappa, Shape float64
}

// column fills dst with g(adstock(x)), using buf (len(x)) for the adstock.
func (p channelParams) column(dst, buf, x []float64) {
	adstock(buf, x, p.Theta)
	h := newHill(p.Kappa, p.Shape)
	for t, a := range buf {
		dst[t] = h.at(a)
	}
}
