package goals

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// Season is the length of the seasonal cycle of a daily series: a week.
const Season = 7

// MinDays is the shortest history the forecaster accepts: two weeks to start the level,
// trend and weekday pattern, two more to fit how fast they move.
const MinDays = 4 * Season

// DefaultPaths is how many futures Forecast simulates.
const DefaultPaths = 2000

// ErrTooShort is returned (wrapped, with the counts) for a history under MinDays.
var ErrTooShort = errors.New("too little history to forecast")

// Model is additive Holt-Winters with a weekly season (ETS(A,A,A) in the state-space
// form of Hyndman et al.): for the one-step error e_t = y_t − (l_{t−1} + b_{t−1} + s_{t−7}),
//
//	l_t = l_{t−1} + b_{t−1} + α·e_t
//	b_t = b_{t−1} + β·e_t
//	s_t = s_{t−7} + γ·e_t
//
// with 0 < α < 1, 0 ≤ β ≤ α, 0 ≤ γ ≤ 1 − α.
type Model struct {
	Alpha, Beta, Gamma float64
	// The states after the last day of the history.
	Level, Trend float64
	// Seasonal holds the weekday effects, Seasonal[k] for the k-th day after the last
	// day of history (k = 0 is tomorrow's weekday); they sum to about 0.
	Seasonal [Season]float64
	// Residuals are the one-step errors after the first two weeks (which start the states).
	Residuals []float64
	SSE       float64 // sum of squared one-step errors over the whole history
	Days      int     // length of the history

	init    params
	history []float64
}

// Fit fits the model to a daily series y (oldest first) by minimising the sum of squared
// one-step errors over α, β, γ (Nelder–Mead from fixed starts: the same data give the
// same model). The states start from a least-squares line with weekday effects fitted to
// the first weeks (up to eight).
func Fit(y []float64) (*Model, error) {
	if len(y) < MinDays {
		return nil, fmt.Errorf("%w: the forecast needs at least %d days (%d weeks, for the weekly pattern), the history has %d: %d more needed",
			ErrTooShort, MinDays, MinDays/Season, len(y), MinDays-len(y))
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("day %d of the history is not a number", i+1)
		}
	}
	p := fitParams(y)
	m := &Model{Alpha: p.a, Beta: p.b, Gamma: p.g, Days: len(y), init: p, history: slices.Clone(y)}
	var resid []float64
	m.SSE, m.Level, m.Trend, m.Seasonal = runStates(y, p, &resid)
	m.Residuals = resid[2*Season:]
	return m, nil
}

// params are the smoothing weights and the states before the first day.
type params struct {
	a, b, g float64
	l0, b0  float64
	s0      [Season]float64
}

// x is the weights on fitFrom's scale (clamped off the bounds).
func (p params) x() []float64 {
	c := func(v float64) float64 { return min(max(v, 1e-4), 1-1e-4) }
	a := c((p.a - 0.0001) / 0.9998)
	return []float64{logit(a), logit(c(p.b / p.a)), logit(c(p.g / (1 - p.a)))}
}

// fitParams starts the states by initialStates and finds α, β, γ by Nelder–Mead on the
// sum of squared one-step errors, from three fixed starts (a slow, a medium and a fast
// level), keeping the best.
func fitParams(y []float64) params {
	return fitFrom(y, [][]float64{{logit(0.1), logit(0.1), logit(0.1)}, {logit(0.3), logit(0.1), logit(0.2)}, {logit(0.7), logit(0.05), logit(0.3)}}, 1500)
}

// fitFrom is fitParams from the given starts (α, β/α, γ/(1−α) on the logit scale), with
// at most evals evaluations each.
func fitFrom(y []float64, starts [][]float64, evals int) params {
	var p params
	p.l0, p.b0, p.s0 = initialStates(y)
	set := func(x []float64) params {
		q := p
		q.a = 0.0001 + 0.9998*sigmoid(x[0])
		q.b = q.a * sigmoid(x[1])
		q.g = (1 - q.a) * sigmoid(x[2])
		return q
	}
	obj := func(x []float64) float64 {
		sse, _, _, _ := runStates(y, set(x), nil)
		return sse
	}
	best := math.Inf(1)
	bestX := starts[0]
	for _, start := range starts {
		res, err := optimize.Minimize(optimize.Problem{Func: obj}, start,
			&optimize.Settings{FuncEvaluations: evals, Converger: &optimize.FunctionConverge{Absolute: 1e-9, Relative: 1e-9, Iterations: 50}},
			&optimize.NelderMead{})
		if err != nil && res == nil {
			continue
		}
		if res.F < best {
			best, bestX = res.F, slices.Clone(res.X)
		}
	}
	return set(bestX)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func logit(p float64) float64   { return math.Log(p / (1 - p)) }

// initialStates fits y = a + b·t + s_{t mod 7} by least squares on the first weeks (at
// most 52, at least two), the weekday effects summing to zero: the states before the
// first day are level a − b, trend b and those effects. Over whole weeks the effects
// cancel in each week's mean, so the line is fitted to the weekly means (a line fitted
// to the days would take up part of the weekday pattern as slope), and the effects are
// the weekday means of what the line leaves.
func initialStates(y []float64) (l0, b0 float64, s0 [Season]float64) {
	weeks := min(len(y)/Season, 52)
	var sx, sy, sxx, sxy float64
	for w := range weeks {
		var m float64
		for j := range Season {
			m += y[w*Season+j] / Season
		}
		x := float64(w*Season) + (Season-1)/2.0
		sx += x
		sy += m
		sxx += x * x
		sxy += x * m
	}
	fw := float64(weeks)
	b0 = (fw*sxy - sx*sy) / (fw*sxx - sx*sx)
	a := (sy - b0*sx) / fw
	for t := range weeks * Season {
		s0[t%Season] += (y[t] - a - b0*float64(t)) / fw
	}
	var mean float64
	for _, s := range s0 {
		mean += s / Season
	}
	for i := range s0 {
		s0[i] -= mean
	}
	return a - b0, b0, s0
}

// runStates filters y with the given parameters: the sum of squared one-step errors and
// the states after the last day. resid, when not nil, receives the errors.
func runStates(y []float64, p params, resid *[]float64) (sse, level, trend float64, season [Season]float64) {
	a, b, g := p.a, p.b, p.g
	l, tr := p.l0, p.b0
	s := p.s0 // s[t%7] is the effect of weekday t%7 (relative to the first day)
	for t, v := range y {
		k := t % Season
		e := v - (l + tr + s[k])
		sse += e * e
		if resid != nil {
			*resid = append(*resid, e)
		}
		l, tr, s[k] = l+tr+a*e, tr+b*e, s[k]+g*e
	}
	// Rotate so that season[0] is the weekday after the last day.
	for k := range Season {
		season[k] = s[(len(y)+k)%Season]
	}
	return sse, l, tr, season
}

// Mean is the point forecast h days after the last day of history (h ≥ 1).
func (m *Model) Mean(h int) float64 {
	return m.Level + float64(h)*m.Trend + m.Seasonal[(h-1)%Season]
}

// Forecast is a simulated future of the series.
type Forecast struct {
	Horizon int
	Mean    []float64 // point forecast per day (the model's, not the paths' average)
	// Low and High bound the central interval of the level asked for, per day, from the
	// simulated paths (days floored at zero: a day's orders or revenue is not negative).
	Low, High []float64
	// Sums[p] is path p's total over the horizon (days floored at zero), sorted.
	Sums []float64
}

// Replicates is how many refitted models Simulate draws its futures from.
const Replicates = 100

// Simulate draws paths futures of horizon days. The future's days carry the model's own
// noise, and the model is itself an estimate: both are simulated (a bootstrap in the
// manner of Pascual, Romo and Ruiz for exponential smoothing).
//
//   - Replicates bootstrap histories are generated from the fitted model, each day's
//     error one of the history's one-step errors drawn at random (skewed days, such as a
//     few big orders, keep their shape), scaled by √(n/(n−3)) for the three fitted
//     weights; each is refitted (states and weights).
//   - Each refit is run over the real history to its own states at the last day, and
//     paths/Replicates futures are drawn from there the same way.
//
// The random numbers come from a fixed seed: the same model gives the same forecast.
// level is the interval's coverage (0.8 for 80 %).
func (m *Model) Simulate(horizon, paths int, level float64) Forecast {
	return m.SimulateFrom(0, horizon, paths, level)
}

// SimulateFrom is Simulate with the first skip days left out of Sums (a goal that starts
// after the last day of history counts from its own start).
func (m *Model) SimulateFrom(skip, horizon, paths int, level float64) Forecast {
	f := Forecast{Horizon: horizon, Mean: make([]float64, horizon), Low: make([]float64, horizon), High: make([]float64, horizon)}
	for h := 1; h <= horizon; h++ {
		f.Mean[h-1] = m.Mean(h)
	}
	if horizon <= 0 || paths <= 0 {
		return f
	}
	n := len(m.Residuals)
	scale := 1.0
	if n > 3 {
		scale = math.Sqrt(float64(n) / float64(n-3))
	}
	// The errors are drawn centred: a mean error left in would push every bootstrap
	// history, and every future, the same way.
	var mu float64
	for _, e := range m.Residuals {
		mu += e / float64(n)
	}
	draw := func(rng *rand.Rand) float64 {
		if n == 0 {
			return 0
		}
		return (m.Residuals[rng.IntN(n)] - mu) * scale
	}
	rng := rand.New(rand.NewPCG(0x60a15, uint64(horizon)))
	reps := min(Replicates, paths)
	per := (paths + reps - 1) / reps
	paths = per * reps
	days := make([][]float64, horizon)
	for h := range days {
		days[h] = make([]float64, paths)
	}
	f.Sums = make([]float64, paths)
	ystar := make([]float64, len(m.history))
	p := 0
	for range reps {
		// A history the model could have produced, and the model refitted to it.
		l, tr, s := m.init.l0, m.init.b0, m.init.s0
		for t := range ystar {
			k := t % Season
			e := draw(rng)
			ystar[t] = l + tr + s[k] + e
			l, tr, s[k] = l+tr+m.Alpha*e, tr+m.Beta*e, s[k]+m.Gamma*e
		}
		q := fitFrom(ystar, [][]float64{m.init.x()}, 300)
		_, l0, tr0, s0 := runStates(m.history, q, nil)
		for range per {
			l, tr, s := l0, tr0, s0
			var sum float64
			for h := range horizon {
				k := h % Season
				e := draw(rng)
				v := max(l+tr+s[k]+e, 0)
				l, tr, s[k] = l+tr+q.a*e, tr+q.b*e, s[k]+q.g*e
				days[h][p] = v
				if h >= skip {
					sum += v
				}
			}
			f.Sums[p] = sum
			p++
		}
	}
	lo, hi := (1-level)/2, 1-(1-level)/2
	for h := range horizon {
		slices.Sort(days[h])
		f.Low[h], f.High[h] = quantile(days[h], lo), quantile(days[h], hi)
	}
	slices.Sort(f.Sums)
	return f
}

// quantile of sorted xs, linear between order statistics.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	fr := pos - float64(i)
	return xs[i]*(1-fr) + xs[i+1]*fr
}

// ProbabilityAtLeast is the share of the simulated totals at or above x.
func (f Forecast) ProbabilityAtLeast(x float64) float64 {
	if len(f.Sums) == 0 {
		return math.NaN()
	}
	i, _ := slices.BinarySearch(f.Sums, x)
	return float64(len(f.Sums)-i) / float64(len(f.Sums))
}

// SumQuantile is the q-quantile of the total over the horizon.
func (f Forecast) SumQuantile(q float64) float64 { return quantile(f.Sums, q) }

// SumMean is the average of the simulated totals.
func (f Forecast) SumMean() float64 {
	var s float64
	for _, v := range f.Sums {
		s += v
	}
	return s / float64(max(len(f.Sums), 1))
}
