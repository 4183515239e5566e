package experiment

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMomentsTwoPass compares the running moments, added one by one and merged in
// pieces, with a plain two-pass computation over the same values.
func TestMomentsTwoPass(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 9))
	ys, xs := make([]float64, 5000), make([]float64, 5000)
	for i := range ys {
		xs[i] = math.Exp(rng.NormFloat64())
		ys[i] = 1e6 + 3*xs[i] + math.Exp(2*rng.NormFloat64()) // a large offset: the sums-of-powers formulas lose it
	}
	var all, a, b Moments
	for i := range ys {
		all.Add(ys[i], xs[i])
		if i < 1234 {
			a.Add(ys[i], xs[i])
		} else {
			b.Add(ys[i], xs[i])
		}
	}
	a.Merge(b)
	var my, mx float64
	for i := range ys {
		my += ys[i]
		mx += xs[i]
	}
	n := float64(len(ys))
	my, mx = my/n, mx/n
	var m2, m2x, cxy float64
	for i := range ys {
		d := ys[i] - my
		m2 += d * d
		m2x += (xs[i] - mx) * (xs[i] - mx)
		cxy += d * (xs[i] - mx)
	}
	for _, m := range []Moments{all, a} {
		near(t, "mean", m.MeanY, my, 1e-12)
		near(t, "M2", m.M2Y, m2, 1e-9)
		near(t, "M2X", m.M2X, m2x, 1e-9)
		near(t, "CXY", m.CXY, cxy, 1e-9)
	}
}
