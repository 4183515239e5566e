package mix

import (
	"math"
	"slices"
)

// summary is one channel's response under one set of parameters in compressed form:
// the window's adstocked spend (on the mean-1 scale) sorted and summarised by the means
// of bins of equal count. Σ_t g(m·a_t) ≈ Σ_b w_b·g(m·ā_b): the Hill curve is smooth, so
// the error is of the order of the spread within a bin squared; with 48 bins it is far
// below the posterior's spread and makes evaluating hundreds of draws along a response
// curve cheap.
type summary struct {
	a, w []float64
	h    hill
	k    float64 // β·(1+κ^s)·yScale: contribution per unit of Σ a^s/(a^s+κ^s)
	one  float64 // at(1): the contribution at the current spend
}

const summaryBins = 32

func (p *problem) summarize(c int, beta float64, cp channelParams, buf []float64) summary {
	n := p.n
	adstock(buf[:n], p.x[c][:n], cp.Theta)
	s := slices.Clone(buf[:n])
	slices.Sort(s)
	h := newHill(cp.Kappa, cp.Shape)
	out := summary{h: h, k: beta * h.norm * p.yScale}
	lo := 0
	for lo < n && s[lo] <= 0 {
		lo++
	}
	m := n - lo
	bins := min(summaryBins, m)
	for b := range bins {
		i, j := lo+m*b/bins, lo+m*(b+1)/bins
		if j <= i {
			continue
		}
		out.a = append(out.a, mean(s[i:j]))
		out.w = append(out.w, float64(j-i))
	}
	out.one = out.at(1)
	return out
}

// at returns the contribution with spend multiplied by m.
func (s *summary) at(m float64) float64 {
	if m <= 0 || s.k == 0 {
		return 0
	}
	v := 0.0
	for i, a := range s.a {
		x := m * a
		xs := x
		if s.h.s != 1 {
			xs = math.Exp(s.h.s * math.Log(x))
		}
		v += s.w[i] * xs / (xs + s.h.ks)
	}
	return s.k * v
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
			out[c][i] = p.summarize(c, d.beta[c], d.params[c], buf)
		}
	}
	m.sums = out
}
