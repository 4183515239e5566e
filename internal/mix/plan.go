package mix

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// PlanOptions describe the budget to allocate. Amounts are over the model's window (the
// same length as the data), in the target's money; a channel's recommended spend keeps
// its day-to-day pattern of the window, scaled.
type PlanOptions struct {
	Total  float64            // budget over the window; 0: the window's actual spend
	Min    map[string]float64 // per channel; absent: 0
	Max    map[string]float64 // per channel; absent: see DefaultMax
	Locked []string           // channels kept at their current spend
	// Margin, when > 0, makes the plan maximise profit: Margin × target − spend; the
	// budget is then a ceiling, and spend the margin does not pay back is left unspent.
	// Without it the plan maximises the target and spends the whole budget.
	Margin float64
	// RiskAversion overrides DefaultRiskAversion when set (0: follow the estimates).
	RiskAversion *float64
}

// DefaultMaxFactor bounds how far the planner goes beyond what the model has seen: a
// channel's spend may grow until its busiest period is half again the busiest period in
// the data, and never beyond three times its current spend. Beyond that the response
// curve is extrapolation, not evidence.
const DefaultMaxFactor = 1.5

// ChannelPlan is one channel's current and recommended spend over the window.
type ChannelPlan struct {
	Channel                 string
	Current                 float64
	Recommended             float64
	CurrentContribution     float64
	RecommendedContribution float64
	Min, Max                float64
	Locked                  bool
	Identifiable            bool
}

// Move is one transfer of budget in a plan: From → To (From "" adds new budget, To ""
// cuts spend). Gain is the change in the target (or in profit with a margin) it brings
// on its own in the sequence of moves, with an interval at the model's level.
type Move struct {
	From, To string
	Amount   float64
	Gain     float64
	GainLow  float64
	GainHigh float64
}

// Plan is the planner's answer.
type Plan struct {
	Channels          []ChannelPlan
	Total             float64 // budget (the recommended spend sums to it unless a margin or the maximums left some unspent)
	CurrentTotal      float64
	ExpectedGain      float64 // recommended − current, in target units (profit with a margin)
	ExpectedGainLow   float64
	ExpectedGainHigh  float64
	Moves             []Move
	Days              int // length of the window in days: amounts are per this many days
	Margin            float64
	Level             float64
	Warnings          []Warning
	CurrentTarget     float64 // expected media contribution now
	RecommendedTarget float64 // expected media contribution under the plan
	ProbabilityOfGain float64 // share of the draws in which the plan beats the current spend
}

// WindowDays is the length of the model's window in days.
func (m *Model) WindowDays() int { return m.prob.n * m.prob.period.Days() }

// channelIndex returns the model's index of a channel, or −1.
func (m *Model) channelIndex(name string) int {
	return slices.Index(m.prob.channels, name)
}

// defaultMax is channel c's default ceiling as a multiplier of its current spend.
func (m *Model) defaultMax(c int) float64 {
	p := m.prob
	hi := 0.0
	for _, v := range p.x[c][:p.n] {
		hi = math.Max(hi, v)
	}
	return math.Min(3, DefaultMaxFactor*hi)
}

// response is channel c's contribution over the window under the MAP parameters with
// its spend multiplied by mult.
func (m *Model) response(c int, mult float64, buf []float64) float64 {
	p := m.prob
	v, _ := m.channelTotals(c, m.beta[len(p.base)+c], p.params(m.phi, c), mult, buf)
	return v
}

// expected is channel c's expected contribution over the window with its spend
// multiplied by mult: the MAP curve's, and beyond the spend the data have seen
// (seenMultiplier), half of the curve's further rise. That is the mean over the share of
// that rise the intervals allow for (extrapolationShares: uniform between none and all
// of it), so a plan's expected gain, its moves and a what-if sit inside their own
// intervals instead of at their top. The allocation itself follows the curve (objective).
func (m *Model) expected(c int, mult float64, buf []float64) float64 {
	v := m.response(c, mult, buf)
	if seen := m.seenMultiplier(c); mult > seen {
		v -= 0.5 * (v - m.response(c, seen, buf))
	}
	return v
}

// Plan allocates a budget: see PlanOptions.
func (m *Model) Plan(o PlanOptions) (*Plan, error) {
	p := m.prob
	C := len(p.channels)
	n := p.n
	cur := make([]float64, C)
	curTotal := 0.0
	for c := range C {
		cur[c] = p.xScale[c] * sum(p.x[c][:n])
		curTotal += cur[c]
	}
	pl := &Plan{Days: m.WindowDays(), Margin: o.Margin, Level: m.Level, CurrentTotal: curTotal}
	if o.Margin < 0 || math.IsNaN(o.Margin) {
		return nil, fmt.Errorf("margin %v: want a share between 0 and 1 (or more when the target is not money)", o.Margin)
	}
	total := o.Total
	if total == 0 {
		total = curTotal
	}
	if total < 0 || math.IsNaN(total) || math.IsInf(total, 0) {
		return nil, fmt.Errorf("total budget %v: want an amount ≥ 0", o.Total)
	}
	for name := range o.Min {
		if m.channelIndex(name) < 0 {
			return nil, fmt.Errorf("--min %s: no such channel in the model (have %v)", name, p.channels)
		}
	}
	for name := range o.Max {
		if m.channelIndex(name) < 0 {
			return nil, fmt.Errorf("--max %s: no such channel in the model (have %v)", name, p.channels)
		}
	}
	for _, name := range o.Locked {
		if m.channelIndex(name) < 0 {
			return nil, fmt.Errorf("locked channel %s: no such channel in the model (have %v)", name, p.channels)
		}
	}
	lo := make([]float64, C)
	hi := make([]float64, C)
	for c, name := range p.channels {
		lo[c] = 0
		hi[c] = m.defaultMax(c) * cur[c]
		if v, ok := o.Max[name]; ok {
			hi[c] = v
		}
		if v, ok := o.Min[name]; ok {
			lo[c] = v
			hi[c] = math.Max(hi[c], v)
		}
		if slices.Contains(o.Locked, name) {
			lo[c], hi[c] = cur[c], cur[c]
		}
		if lo[c] < 0 || hi[c] < lo[c] {
			return nil, fmt.Errorf("%s: minimum %v above maximum %v", name, lo[c], hi[c])
		}
	}
	if s := sum(lo); s > total*(1+1e-9) {
		return nil, fmt.Errorf("the minimums and locked channels add up to %.2f, more than the budget of %.2f", s, total)
	}
	if s := sum(hi); s < total && o.Margin == 0 {
		pl.Warnings = append(pl.Warnings, Warning{Code: "budget_above_max", Message: fmt.Sprintf(
			"The channels' maximums add up to %.2f, less than the budget of %.2f: the rest is left unspent. "+
				"Beyond the maximums the model would be guessing (raise them with --max to plan more).", s, total)})
		total = s
	}
	pl.Total = total
	ra := DefaultRiskAversion
	if o.RiskAversion != nil {
		ra = math.Max(0, *o.RiskAversion)
	}
	rec := Allocate(cur, lo, hi, total, o.Margin, func(c int, mult float64) float64 { return m.objective(c, mult, ra) })
	if ra > 0 {
		rec = m.planCaution(cur, lo, hi, total, o.Margin, ra, rec)
	}

	rec = settle(cur, rec, lo, hi, curTotal)
	mult := make([]float64, C)
	for c := range C {
		mult[c] = rec[c] / cur[c]
	}
	buf := make([]float64, n)
	for c, name := range p.channels {
		cc := m.expected(c, 1, buf)
		rc := m.expected(c, mult[c], buf)
		pl.Channels = append(pl.Channels, ChannelPlan{
			Channel: name, Current: cur[c], Recommended: rec[c],
			CurrentContribution: cc, RecommendedContribution: rc,
			Min: lo[c], Max: hi[c], Locked: lo[c] == hi[c] && hi[c] == cur[c],
			Identifiable: m.Channels[c].Identifiable,
		})
		pl.CurrentTarget += cc
		pl.RecommendedTarget += rc
	}
	value := func(contrib, spend float64) float64 {
		if o.Margin > 0 {
			return o.Margin*contrib - spend
		}
		return contrib
	}
	pl.ExpectedGain = value(pl.RecommendedTarget, sum(rec)) - value(pl.CurrentTarget, curTotal)
	ones := make([]float64, C)
	for c := range ones {
		ones[c] = 1
	}
	gains := m.drawGains(ones, mult, cur, o.Margin)
	pl.ExpectedGainLow, pl.ExpectedGainHigh = m.interval(gains, pl.ExpectedGain)
	better := 0
	for _, g := range gains {
		if g > 0 {
			better++
		}
	}
	if len(gains) > 0 {
		pl.ProbabilityOfGain = float64(better) / float64(len(gains))
	}
	pl.Moves = m.moves(cur, rec, o.Margin)
	for c, cp := range pl.Channels {
		if seen := m.seenMultiplier(c); mult[c] > seen*(1+1e-6) && cp.Recommended-cp.Current > minMove*curTotal {
			pl.Warnings = append(pl.Warnings, Warning{Code: "beyond_seen", Channel: cp.Channel, Message: fmt.Sprintf(
				"The plan takes %s to %.1f× its spend; its busiest four weeks in the data ran at %.1f× its average. "+
					"The data have not seen more, so the interval allows for the spend beyond that earning nothing: raise it in steps and watch the return.",
				cp.Channel, mult[c], seen)})
		}
	}
	for _, cp := range pl.Channels {
		if !cp.Identifiable && math.Abs(cp.Recommended-cp.Current) > 0.01*curTotal {
			pl.Warnings = append(pl.Warnings, Warning{Code: "moves_unidentified", Channel: cp.Channel, Message: fmt.Sprintf(
				"The plan changes %s, whose effect the data cannot pin down: test the change on a part of the budget first.", cp.Channel)})
		}
	}
	return pl, nil
}

// minMove is the smallest change of a channel's spend the plan proposes, as a share of
// the current total: below it a change is the optimiser's rounding, not advice.
const minMove = 0.005

// settle puts channels whose change is below minMove back at their current spend, and
// hands what that frees or takes to the channels that do change, in proportion to their
// change (within their limits), so the total stays the plan's.
func settle(cur, rec, lo, hi []float64, curTotal float64) []float64 {
	out := slices.Clone(rec)
	target := sum(rec)
	var moving []int
	for c := range out {
		if math.Abs(out[c]-cur[c]) < minMove*curTotal && cur[c] >= lo[c] && cur[c] <= hi[c] {
			out[c] = cur[c]
		} else {
			moving = append(moving, c)
		}
	}
	if len(moving) == 0 {
		return out
	}
	for round := range 6 {
		diff := target - sum(out)
		if math.Abs(diff) < 1e-9*math.Max(1, target) {
			break
		}
		room := func(c int) bool { return diff > 0 && out[c] < hi[c] || diff < 0 && out[c] > lo[c] }
		var cand []int
		for _, c := range moving {
			if room(c) {
				cand = append(cand, c)
			}
		}
		if len(cand) == 0 || round >= 3 {
			cand = cand[:0]
			for c := range out {
				if room(c) && (lo[c] != hi[c]) {
					cand = append(cand, c)
				}
			}
		}
		if len(cand) == 0 {
			break
		}
		w := 0.0
		for _, c := range cand {
			w += math.Abs(out[c]-cur[c]) + 1e-9
		}
		for _, c := range cand {
			share := (math.Abs(out[c]-cur[c]) + 1e-9) / w
			out[c] = math.Min(hi[c], math.Max(lo[c], out[c]+diff*share))
		}
	}
	return out
}

// interval returns the model's interval of values, widened to include the point.
func (m *Model) interval(vals []float64, point float64) (float64, float64) {
	if len(vals) == 0 {
		return point, point
	}
	s := slices.Clone(vals)
	sort.Float64s(s)
	lo := quantile(s, (1-m.Level)/2)
	hi := quantile(s, 1-(1-m.Level)/2)
	return math.Min(lo, point), math.Max(hi, point)
}

// drawGains evaluates, per draw, the value under multipliers b minus that under a;
// beyond the spend the data have seen, each draw keeps only its share of the curve's
// rise (summary.at), so the intervals say what the data cannot.
func (m *Model) drawGains(a, b, cur []float64, margin float64) []float64 {
	sums := m.drawSummaries()
	out := make([]float64, len(m.draws))
	for i := range m.draws {
		g := 0.0
		for c := range cur {
			if a[c] == b[c] {
				continue
			}
			d := sums[c][i].at(b[c]) - sums[c][i].at(a[c])
			if margin > 0 {
				d = margin*d - (b[c]-a[c])*cur[c]
			}
			g += d
		}
		out[i] = g
	}
	return out
}

// DefaultRiskAversion is how the planner weighs uncertainty: it maximises, per channel, the
// posterior mean change of the target minus this many standard deviations of it. At 0
// it chases the estimates wherever they point, and on synthetic data with known answers
// that lost money in a third of the cases (a channel estimated too high draws the budget
// of one estimated too low); at 1 the plan moves money only as far as the evidence
// carries, which kept the most of the possible gain (docs/decisions.md, "Budget model").
const DefaultRiskAversion = 1.0

// planDraws bounds the draws the allocation's objective averages over.
const planDraws = 100

// objective is channel c's risk-adjusted change of contribution at multiplier mult
// versus its current spend: mean − ra·sd over the draws. Allocate applies the margin and
// the spend for profit. The allocation follows each draw's Hill curve also beyond the
// spend the data have seen; the share of that rise the data cannot vouch for
// (extrapolationShares) widens the plan's intervals instead: held against the plan, it
// kept the plan near the seen spend and lost a fifth to a third of the gain it reaches on the
// demo (docs/decisions.md, "Budget model: extrapolation").
func (m *Model) objective(c int, mult, ra float64) float64 {
	sums := m.drawSummaries()[c]
	k := min(len(sums), planDraws)
	if k == 0 {
		buf := make([]float64, m.prob.n)
		return m.response(c, mult, buf) - m.response(c, 1, buf)
	}
	var s1, s2 float64
	for i := range k {
		d := sums[i].curve(mult) - sums[i].one
		s1 += d
		s2 += d * d
	}
	mu := s1 / float64(k)
	return mu - ra*math.Sqrt(math.Max(0, s2/float64(k)-mu*mu))
}

// planCaution refines a cautious allocation on the risk of the plan as a whole: it
// maximises the posterior mean of the plan's gain minus ra standard deviations of that
// gain, over the same draws (and curves) as objective. The per-channel objective adds up each
// channel's standard deviation, which is the plan's only when every channel's error
// moves the same way; when the errors are independent or offset (two channels the data
// confuse with each other), it counts the plan's risk several times over and holds back
// moves the evidence supports. This objective does not split into channels, so the exact
// grid cannot solve it: it is climbed by moving budget between pairs of channels (or, with
// a margin, in or out of one), from the per-channel cautious allocation, from the
// allocation on the posterior mean and from the current spend, keeping the best.
func (m *Model) planCaution(cur, lo, hi []float64, total, margin, ra float64, cautious []float64) []float64 {
	sums := m.drawSummaries()
	C := len(cur)
	if C == 0 || len(sums[0]) == 0 {
		return cautious
	}
	K := min(len(sums[0]), planDraws)
	// gain[c][i]: channel c's change of value in draw i at spend x.
	gain := func(c int, x float64, out []float64) {
		mult := x / cur[c]
		for i := range K {
			d := sums[c][i].curve(mult) - sums[c][i].one
			if margin > 0 {
				d = margin*d - (x - cur[c])
			}
			out[i] = d
		}
	}
	score := func(tot []float64) float64 {
		var s1, s2 float64
		for _, g := range tot {
			s1 += g
			s2 += g * g
		}
		mu := s1 / float64(K)
		return mu - ra*math.Sqrt(math.Max(0, s2/float64(K)-mu*mu))
	}
	mean := Allocate(cur, lo, hi, total, margin, func(c int, mult float64) float64 { return m.objective(c, mult, 0) })
	start := [][]float64{cautious, mean}
	inside := true
	for c := range cur {
		inside = inside && cur[c] >= lo[c] && cur[c] <= hi[c]
	}
	// The current spend is a start when it is a feasible plan: within every limit and
	// spending the budget (with a margin, at most the budget).
	if s := sum(cur); inside && (math.Abs(s-total) <= 1e-9*math.Max(1, total) || margin > 0 && s <= total) {
		start = append(start, slices.Clone(cur))
	}
	var best []float64
	var bestScore float64
	for _, x0 := range start {
		x, v := m.climb(x0, lo, hi, total, margin, K, gain, score)
		if best == nil || v > bestScore+1e-9*math.Abs(bestScore) {
			best, bestScore = x, v
		}
	}
	return best
}

// climb moves budget between pairs of channels (and, with a margin, in or out of one
// channel within the budget) while the score of the plan's total gain per draw rises,
// halving the step from a twentieth of the budget down to a twenty-thousandth.
func (m *Model) climb(x0, lo, hi []float64, total, margin float64, K int, gain func(int, float64, []float64), score func([]float64) float64) ([]float64, float64) {
	C := len(x0)
	x := slices.Clone(x0)
	per := make([][]float64, C)
	tot := make([]float64, K)
	for c := range C {
		per[c] = make([]float64, K)
		gain(c, x[c], per[c])
		for i := range K {
			tot[i] += per[c][i]
		}
	}
	cur := score(tot)
	down, up := make([][]float64, C), make([][]float64, C)
	canDown, canUp := make([]bool, C), make([]bool, C)
	for c := range C {
		down[c], up[c] = make([]float64, K), make([]float64, K)
	}
	trial := make([]float64, K)
	scale := math.Max(total, sum(x))
	for delta := scale / 20; delta > scale/20000; delta /= 2 {
		fresh := func(c int) {
			canDown[c] = x[c]-delta >= lo[c]-1e-9
			canUp[c] = x[c]+delta <= hi[c]+1e-9
			if canDown[c] {
				gain(c, x[c]-delta, down[c])
			}
			if canUp[c] {
				gain(c, x[c]+delta, up[c])
			}
		}
		for c := range C {
			fresh(c)
		}
		for iter := 0; iter < 200; iter++ {
			bi, bj, bestV := -1, -1, cur+1e-12*(1+math.Abs(cur))
			try := func(i, j int) {
				for k := range K {
					t := tot[k]
					if i >= 0 {
						t += down[i][k] - per[i][k]
					}
					if j >= 0 {
						t += up[j][k] - per[j][k]
					}
					trial[k] = t
				}
				if v := score(trial); v > bestV {
					bi, bj, bestV = i, j, v
				}
			}
			for i := range C {
				for j := range C {
					if i != j && canDown[i] && canUp[j] {
						try(i, j)
					}
				}
			}
			if margin > 0 {
				for c := range C {
					if canDown[c] {
						try(c, -1)
					}
					if canUp[c] && sum(x)+delta <= total*(1+1e-9) {
						try(-1, c)
					}
				}
			}
			if bi < 0 && bj < 0 {
				break
			}
			for _, c := range []int{bi, bj} {
				if c < 0 {
					continue
				}
				src := up[c]
				if c == bi {
					x[c] -= delta
					src = down[c]
				} else {
					x[c] += delta
				}
				for k := range K {
					tot[k] += src[k] - per[c][k]
				}
				copy(per[c], src)
			}
			cur = bestV
			if bi >= 0 {
				fresh(bi)
			}
			if bj >= 0 {
				fresh(bj)
			}
		}
	}
	return x, cur
}

// Allocate maximises the sum of the channels' contributions (or profit) over spends in
// [lo, hi] that add up to total (at most total with a margin); resp(c, mult) is channel
// c's contribution with its current spend cur[c] multiplied by mult. The response curves
// may be S-shaped, where greedy marginal allocation stalls, so it is solved exactly on a
// grid of the free budget by dynamic programming, then refined between grid points by
// moving budget between pairs of channels. The demo's ground truth uses it too, with the
// generator's own response functions.
func Allocate(cur, lo, hi []float64, total, margin float64, resp func(c int, mult float64) float64) []float64 {
	C := len(cur)
	free := total - sum(lo)
	rec := slices.Clone(lo)
	if free <= 0 {
		return rec
	}
	const K = 200
	u := free / K
	val := func(c int, spend float64) float64 {
		v := resp(c, spend/cur[c])
		if margin > 0 {
			return margin*v - spend
		}
		return v
	}
	// f[c][k]: value of channel c at lo + k·u.
	f := make([][]float64, C)
	for c := range C {
		kc := min(K, int(math.Floor((hi[c]-lo[c])/u+1e-9)))
		f[c] = make([]float64, kc+1)
		for k := range f[c] {
			f[c][k] = val(c, lo[c]+float64(k)*u)
		}
	}
	// V[b]: best value of channels 0..c using exactly b units; choice[c][b] the units of c.
	neg := math.Inf(-1)
	V := make([]float64, K+1)
	for b := range V {
		V[b] = neg
	}
	V[0] = 0
	choice := make([][]int, C)
	for c := range C {
		next := make([]float64, K+1)
		choice[c] = make([]int, K+1)
		for b := range next {
			next[b] = neg
			for k := 0; k < len(f[c]) && k <= b; k++ {
				if V[b-k] == neg {
					continue
				}
				if v := V[b-k] + f[c][k]; v > next[b] {
					next[b], choice[c][b] = v, k
				}
			}
		}
		V = next
	}
	best := K
	if margin > 0 {
		for b := range V {
			if V[b] > V[best] {
				best = b
			}
		}
	}
	if V[best] == neg { // the maximums cannot absorb the budget: take the largest feasible
		for best > 0 && V[best] == neg {
			best--
		}
	}
	for c := C - 1; c >= 0; c-- {
		k := choice[c][best]
		rec[c] = lo[c] + float64(k)*u
		best -= k
	}
	// Refine: move δ between pairs while it pays, halving δ down to a thousandth of a unit.
	cv := make([]float64, C)
	for c := range C {
		cv[c] = val(c, rec[c])
	}
	for delta := u / 2; delta > u/1000; delta /= 2 {
		down := make([]float64, C) // value of each channel with δ less, and more
		up := make([]float64, C)
		fresh := func(c int) {
			down[c], up[c] = math.Inf(-1), math.Inf(-1)
			if rec[c]-delta >= lo[c] {
				down[c] = val(c, rec[c]-delta)
			}
			if rec[c]+delta <= hi[c] {
				up[c] = val(c, rec[c]+delta)
			}
		}
		for c := range C {
			fresh(c)
		}
		for iter := 0; iter < 100; iter++ {
			bi, bj, best := -1, -1, 1e-12*(1+math.Abs(sum(cv)))
			for i := range C {
				for j := range C {
					if i != j {
						if g := down[i] + up[j] - cv[i] - cv[j]; g > best {
							bi, bj, best = i, j, g
						}
					}
				}
			}
			if margin > 0 { // with a margin, one channel may also shrink or grow alone
				for c := range C {
					if g := down[c] - cv[c]; g > best {
						bi, bj, best = c, -1, g
					}
					if g := up[c] - cv[c]; g > best && sum(rec)+delta <= total+1e-9 {
						bi, bj, best = -1, c, g
					}
				}
			}
			if bi < 0 && bj < 0 {
				break
			}
			if bi >= 0 {
				rec[bi] -= delta
				cv[bi] = down[bi]
				fresh(bi)
			}
			if bj >= 0 {
				rec[bj] += delta
				cv[bj] = up[bj]
				fresh(bj)
			}
		}
	}
	return rec
}

// moves pairs the plan's cuts with its increases, largest first, and values each move
// in sequence: its gain is the change it brings after the moves before it.
func (m *Model) moves(cur, rec []float64, margin float64) []Move {
	p := m.prob
	C := len(cur)
	type amt struct {
		c int
		v float64
	}
	var down, up []amt
	tot := sum(cur)
	for c := range C {
		d := rec[c] - cur[c]
		switch {
		case d < -1e-6*tot:
			down = append(down, amt{c, -d})
		case d > 1e-6*tot:
			up = append(up, amt{c, d})
		}
	}
	byV := func(a, b amt) int {
		if a.v != b.v {
			if a.v > b.v {
				return -1
			}
			return 1
		}
		return a.c - b.c
	}
	slices.SortFunc(down, byV)
	slices.SortFunc(up, byV)
	state := make([]float64, C)
	for c := range state {
		state[c] = 1
	}
	buf := make([]float64, p.n)
	var out []Move
	step := func(from, to int, amount float64) {
		next := slices.Clone(state)
		if from >= 0 {
			next[from] -= amount / cur[from]
		}
		if to >= 0 {
			next[to] += amount / cur[to]
		}
		mv := Move{Amount: amount}
		if from >= 0 {
			mv.From = p.channels[from]
		}
		if to >= 0 {
			mv.To = p.channels[to]
		}
		for c := range C {
			if next[c] == state[c] {
				continue
			}
			d := m.expected(c, next[c], buf) - m.expected(c, state[c], buf)
			if margin > 0 {
				d = margin*d - (next[c]-state[c])*cur[c]
			}
			mv.Gain += d
		}
		mv.GainLow, mv.GainHigh = m.interval(m.drawGains(state, next, cur, margin), mv.Gain)
		out = append(out, mv)
		state = next
	}
	i, j := 0, 0
	for i < len(down) && j < len(up) {
		a := math.Min(down[i].v, up[j].v)
		step(down[i].c, up[j].c, a)
		down[i].v -= a
		up[j].v -= a
		if down[i].v <= 1e-9*tot {
			i++
		}
		if up[j].v <= 1e-9*tot {
			j++
		}
	}
	for ; i < len(down); i++ {
		if down[i].v > 1e-9*tot {
			step(down[i].c, -1, down[i].v)
		}
	}
	for ; j < len(up); j++ {
		if up[j].v > 1e-9*tot {
			step(-1, up[j].c, up[j].v)
		}
	}
	return out
}

// CurvePoint is one point of a channel's response curve.
type CurvePoint struct {
	Spend        float64 // over the window
	Contribution float64
	Low, High    float64
	MarginalROAS float64
}

// Curve is a channel's response: its contribution over the window as its spend (with the
// same day-to-day pattern) ranges from zero to Points' last spend.
type Curve struct {
	Channel      string
	Current      float64 // current spend over the window: the point to mark
	Contribution float64 // at the current spend
	Points       []CurvePoint
	// TargetSpend is the spend at which the marginal return falls to the target ROAS
	// asked for (ResponseCurves' argument); NaN when no spend earns that much at the margin.
	TargetSpend float64
}

// ResponseCurves returns each channel's response curve from zero to upto times its
// current spend (0: 2.5) in steps, and the spend where the marginal return falls to
// targetROAS (0: 1, break-even for a money target).
func (m *Model) ResponseCurves(upto, targetROAS float64, steps int) []Curve {
	if upto <= 0 {
		upto = 2.5
	}
	if targetROAS <= 0 {
		targetROAS = 1
	}
	if steps <= 0 {
		steps = 40
	}
	p := m.prob
	buf := make([]float64, p.n)
	sums := m.drawSummaries()
	var out []Curve
	for c, name := range p.channels {
		cur := p.xScale[c] * sum(p.x[c][:p.n])
		cv := Curve{Channel: name, Current: cur, Contribution: m.response(c, 1, buf)}
		for k := 0; k <= steps; k++ {
			mult := upto * float64(k) / float64(steps)
			v, sl := m.channelTotals(c, m.beta[len(p.base)+c], p.params(m.phi, c), mult, buf)
			vals := make([]float64, len(m.draws))
			for i := range m.draws {
				vals[i] = sums[c][i].at(mult)
			}
			lo, hi := m.interval(vals, v)
			cv.Points = append(cv.Points, CurvePoint{Spend: mult * cur, Contribution: v, Low: lo, High: hi, MarginalROAS: sl / cur})
		}
		cv.TargetSpend = m.targetSpend(c, targetROAS, cur, buf)
		out = append(out, cv)
	}
	return out
}

// targetSpend finds the spend beyond which channel c's marginal return is below r: the
// largest multiplier (up to 10) at which it is still r.
func (m *Model) targetSpend(c int, r, cur float64, buf []float64) float64 {
	p := m.prob
	beta, cp := m.beta[len(p.base)+c], p.params(m.phi, c)
	mroas := func(mult float64) float64 {
		_, sl := m.channelTotals(c, beta, cp, mult, buf)
		return sl / cur
	}
	// Scan for the last multiplier with mROAS ≥ r, then bisect.
	const top = 10.0
	prev := -1.0
	for k := 1; k <= 200; k++ {
		mult := top * float64(k) / 200
		if mroas(mult) >= r {
			prev = mult
		}
	}
	if prev < 0 {
		if mroas(1e-3) >= r {
			prev = 1e-3
		} else {
			return math.NaN()
		}
	}
	if prev >= top {
		return top * cur
	}
	a, b := prev, math.Min(top, prev+top/200)
	for range 50 {
		mid := (a + b) / 2
		if mroas(mid) >= r {
			a = mid
		} else {
			b = mid
		}
	}
	return a * cur
}

// Scenario is the expected result of a given spend per channel (a "what if").
type Scenario struct {
	Channels     []ChannelPlan
	Change       float64 // in the target (media contribution) versus the current spend
	ChangeLow    float64
	ChangeHigh   float64
	SpendChange  float64
	Extrapolated []string // channels taken beyond the model's default maximum
}

// WhatIf evaluates spend (over the window, per channel; absent channels keep their
// current spend).
func (m *Model) WhatIf(spend map[string]float64) (*Scenario, error) {
	p := m.prob
	C := len(p.channels)
	cur := make([]float64, C)
	mult := make([]float64, C)
	ones := make([]float64, C)
	sc := &Scenario{}
	buf := make([]float64, p.n)
	for name := range spend {
		if m.channelIndex(name) < 0 {
			return nil, fmt.Errorf("what if: no channel %q in the model (have %v)", name, p.channels)
		}
	}
	for c, name := range p.channels {
		cur[c] = p.xScale[c] * sum(p.x[c][:p.n])
		ones[c] = 1
		mult[c] = 1
		if v, ok := spend[name]; ok {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errors.New("what if: spend must be an amount ≥ 0")
			}
			mult[c] = v / cur[c]
		}
		if mult[c] > m.defaultMax(c)+1e-9 {
			sc.Extrapolated = append(sc.Extrapolated, name)
		}
		cc := m.expected(c, 1, buf)
		rc := m.expected(c, mult[c], buf)
		sc.Channels = append(sc.Channels, ChannelPlan{Channel: name, Current: cur[c], Recommended: mult[c] * cur[c],
			CurrentContribution: cc, RecommendedContribution: rc, Identifiable: m.Channels[c].Identifiable})
		sc.Change += rc - cc
		sc.SpendChange += (mult[c] - 1) * cur[c]
	}
	sc.ChangeLow, sc.ChangeHigh = m.interval(m.drawGains(ones, mult, cur, 0), sc.Change)
	return sc, nil
}
