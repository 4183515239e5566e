package mix

import (
	"math"
	"math/rand/v2"
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
	// seen is the largest multiplier of the spend the data have seen: the busiest four
	// weeks' spend over the average four weeks' (seenMultiplier). Beyond it the curve is
	// extrapolation, and flat is the share of its rise beyond seen that this draw leaves
	// out (0: the Hill curve as drawn; 1: nothing more than at seen). See
	// extrapolationShares.
	seen, flat float64
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

// at returns the contribution with spend multiplied by m: the curve's, and beyond the
// spend the data have seen, the draw's share of its rise (see extrapolationShares).
func (s *summary) at(m float64) float64 {
	v := s.curve(m)
	if s.flat > 0 && m > s.seen {
		v -= s.flat * (v - s.curve(s.seen))
	}
	return v
}

// curve returns the Hill curve's contribution with spend multiplied by m.
func (s *summary) curve(m float64) float64 {
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
		seen := m.seenMultiplier(c)
		flat := extrapolationShares(c, len(m.draws))
		for i, d := range m.draws {
			s := m.summarize(c, d.beta[c], d.params[c], buf)
			s.seen = seen
			s.flat = flat[i]
			out[c][i] = s
		}
	}
	m.sums = out
}

// seenWeeks is the span over which a channel's busiest spend is measured: long enough
// that a budget, not a burst, sets it.
const seenWeeks = 4

// seenMultiplier is channel c's busiest four weeks' spend over its average four weeks'
// in the window: the largest multiplier of its spend the data have seen sustained. A
// plan that scales the channel's spend beyond it asks the response curve about budgets
// the channel was never run at.
func (m *Model) seenMultiplier(c int) float64 {
	p := m.prob
	x := p.x[c][:p.n]
	L := max(1, min(len(x), seenWeeks*7/p.period.Days()))
	run := sum(x[:L])
	top := run
	for t := L; t < len(x); t++ {
		run += x[t] - x[t-L]
		top = math.Max(top, run)
	}
	mean := sum(x) / float64(len(x)) * float64(L)
	if mean <= 0 {
		return 1
	}
	return math.Max(1, top/mean)
}

// extrapolationShares gives each of k draws of channel c the share of its curve's rise
// beyond the spend the data have seen (seenMultiplier) that the draw leaves out, uniform
// between 0 and 1. The data say nothing about the curve there: the Hill form carries it
// on, but a channel may as well stop returning at about the budget it was run at (an
// audience exhausted, a keyword list bought out, a list that is not sent to more often
// because it is paid more). Every value between is as likely, so a plan that takes a
// channel beyond what the data have seen gets an interval that runs down to "nothing
// more than at the busiest four weeks seen" (docs/budget.md, "The planner"). The shares
// are independent of the draws and between channels, and fixed: the same model gives
// the same intervals.
func extrapolationShares(c, k int) []float64 {
	rng := rand.New(rand.NewPCG(0x657874, uint64(c)))
	out := make([]float64, k)
	for i := range out {
		out[i] = rng.Float64()
	}
	return out
}
