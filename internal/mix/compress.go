package mix

import (
	"math"
	"slices"
)

// summary is one channel's response under one set of parameters in compressed form:
// the window's periods sorted by adstocked spend (on the mean-1 scale) and summarised by
// bins of equal count, each with its total weight and weighted mean adstock. Then
// Σ_t w_t·φ(β·g(m·a_t)) ≈ Σ_b W_b·φ(β·g(m·ā_b)): the curve is smooth, so the error is of
// the order of the spread within a bin squared, far below the posterior's spread, and
// evaluating hundreds of draws along a response curve becomes cheap.
type summary struct {
	a, w []float64
	h    hill
	beta float64
	mul  bool    // multiplicative: φ = expm1, else the identity
	one  float64 // at(1): the contribution at the current spend
}

const summaryBins = 32

func (m *Model) summarize(c int, beta float64, cp channelParams, buf []float64) summary {
	p := m.prob
	n := p.n
	adstock(buf[:n], p.x[c][:n], cp.Theta)
	idx := make([]int, 0, n)
	for t := range n {
		if buf[t] > 0 {
			idx = append(idx, t)
		}
	}
	slices.SortFunc(idx, func(i, j int) int { return cmpFloat(buf[i], buf[j]) })
	out := summary{h: newHill(cp.Kappa, cp.Shape), beta: beta, mul: p.form == Multiplicative}
	w := m.weights[c]
	k := len(idx)
	bins := min(summaryBins, k)
	for b := range bins {
		i, j := k*b/bins, k*(b+1)/bins
		var sw, sa float64
		for _, t := range idx[i:j] {
			sw += w[t]
			sa += w[t] * buf[t]
		}
		if sw <= 0 {
			continue
		}
		out.a = append(out.a, sa/sw)
		out.w = append(out.w, sw)
	}
	out.one = out.at(1)
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// at returns the contribution with spend multiplied by m.
func (s *summary) at(m float64) float64 {
	if m <= 0 || s.beta == 0 {
		return 0
	}
	v := 0.0
	for i, a := range s.a {
		x := s.beta * s.h.at(m*a)
		if s.mul {
			x = math.Expm1(x)
		}
		v += s.w[i] * x
	}
	return v
}

// drawSummaries compresses every draw's response, per channel: [channel][draw]. It is
// computed once, on first use; a Model may be shared by concurrent readers.
func (m *Model) drawSummaries() [][]summary {
	m.sumsOnce.Do(m.makeSummaries)
	return m.sums
}

func (m *Model) makeSummaries() {
	p := m.prob
	buf := make([]float64, p.n)
	out := make([][]summary, len(p.channels))
	for c := range p.channels {
		out[c] = make([]summary, len(m.draws))
		for i, d := range m.draws {
			out[c][i] = m.summarize(c, d.beta[c], d.params[c], buf)
		}
	}
	m.sums = out
}
