package value

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/optimize"
)

// Obs is one (x, t_x, T) history with a weight: the number of customers who share it.
// Grouping identical histories makes the likelihood cost scale with distinct
// histories instead of customers.
type Obs struct {
	X  int
	Tx float64
	T  float64
	W  float64
}

// GroupHistories groups customers with identical (x, t_x, T). Customers with
// T = 0 (only purchase on the calibration end day) are dropped: their
// likelihood is exactly 1 under BG/NBD and Pareto/NBD, so they carry no information.
func GroupHistories(s []CustomerSummary) []Obs {
	type key struct {
		x      int
		tx, tt float64
	}
	idx := make(map[key]int, len(s)/4+16)
	var out []Obs
	for _, c := range s {
		if c.T <= 0 {
			continue
		}
		k := key{c.Frequency, c.Recency, c.T}
		if i, ok := idx[k]; ok {
			out[i].W++
			continue
		}
		idx[k] = len(out)
		out = append(out, Obs{X: c.Frequency, Tx: c.Recency, T: c.T, W: 1})
	}
	return out
}

// ErrNoRepeat is returned by the fits when no customer made a repeat purchase:
// the purchase and dropout processes cannot be told apart then.
var ErrNoRepeat = errors.New("no repeat purchases in the data")

func hasRepeat(obs []Obs) bool {
	for _, o := range obs {
		if o.X > 0 {
			return true
		}
	}
	return false
}

func checkObs(obs []Obs) error {
	if len(obs) == 0 {
		return errors.New("no customer histories with T > 0 to fit")
	}
	for _, o := range obs {
		if o.X < 0 || o.Tx < 0 || o.T <= 0 || o.Tx > o.T || !(o.W > 0) || math.IsNaN(o.Tx+o.T) {
			return fmt.Errorf("invalid history x=%d t_x=%g T=%g w=%g (need 0 <= t_x <= T, T > 0, w > 0)", o.X, o.Tx, o.T, o.W)
		}
		if o.X == 0 && o.Tx != 0 {
			return fmt.Errorf("invalid history x=0 with t_x=%g (want 0)", o.Tx)
		}
	}
	return nil
}

// distinctX returns the sorted distinct frequencies and, per obs, its index among them.
func distinctX(obs []Obs) ([]int, []int32) {
	maxX := 0
	for _, o := range obs {
		maxX = max(maxX, o.X)
	}
	pos := make([]int32, maxX+1)
	for i := range pos {
		pos[i] = -1
	}
	for _, o := range obs {
		pos[o.X] = 0
	}
	var xs []int
	for x, p := range pos {
		if p == 0 {
			pos[x] = int32(len(xs))
			xs = append(xs, x)
		}
	}
	xi := make([]int32, len(obs))
	for i, o := range obs {
		xi[i] = pos[o.X]
	}
	return xs, xi
}

// parallelSum splits [0,n) into chunks run on up to GOMAXPROCS goroutines; each
// chunk accumulates into its own acc slice of length k, summed at the end.
// Small inputs run inline: the goroutine start-up costs more than the work.
func parallelSum(n, k int, acc []float64, body func(lo, hi int, acc []float64)) {
	clear(acc)
	workers := runtime.GOMAXPROCS(0)
	if n < 4096 || workers == 1 {
		body(0, n, acc)
		return
	}
	workers = min(workers, 8)
	parts := make([][]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		parts[w] = make([]float64, k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi, parts[w])
		}()
	}
	wg.Wait()
	for _, p := range parts {
		for i := range acc {
			acc[i] += p[i]
		}
	}
}

// objective caches the last point, since gonum asks for Func and Grad at the
// same location separately. eval fills grad only when it is not nil, so a
// line search that needs only values does not pay for a gradient.
type objective struct {
	eval  func(theta, grad []float64) float64
	last  []float64
	f     float64
	g     []float64
	hasF  bool
	hasG  bool
	evals int
}

func (o *objective) at(theta []float64, needGrad bool) {
	if !slices.Equal(theta, o.last) {
		o.last = append(o.last[:0], theta...)
		o.hasF, o.hasG = false, false
	}
	if o.hasF && (o.hasG || !needGrad) {
		return
	}
	var g []float64
	if needGrad {
		if o.g == nil {
			o.g = make([]float64, len(theta))
		}
		g = o.g
	}
	o.f = o.eval(theta, g)
	o.hasF, o.hasG = true, needGrad
	o.evals++
}

// minimizeLog minimises a function of log-parameters with BFGS. eval returns
// the objective and fills grad (d/dtheta) when grad is not nil; analytic says the
// gradient is cheap enough to compute with every value. When the result is not finite or
// the search fails, it retries with Nelder-Mead from the best point seen.
func minimizeLog(ctx context.Context, theta0 []float64, analytic bool, eval func(theta, grad []float64) float64) ([]float64, float64, error) {
	obj := &objective{eval: eval}
	status := func() (optimize.Status, error) {
		if err := ctx.Err(); err != nil {
			return optimize.Failure, err
		}
		return optimize.NotTerminated, nil
	}
	p := optimize.Problem{
		Status: status,
		Func: func(x []float64) float64 {
			for _, v := range x {
				if math.Abs(v) > 30 {
					return math.Inf(1)
				}
			}
			obj.at(x, analytic) // an analytic gradient costs little beside the value
			return obj.f
		},
		Grad: func(g, x []float64) {
			obj.at(x, true)
			copy(g, obj.g)
		},
	}
	settings := &optimize.Settings{
		// The objective is the mean negative log-likelihood, so 1e-7 in gradient
		// is far below sampling error; tighter only burns line searches on round-off.
		GradientThreshold: 1e-7,
		MajorIterations:   1000,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-12, Iterations: 10},
	}
	res, err := optimize.Minimize(p, theta0, settings, &optimize.BFGS{})
	if cerr := ctx.Err(); cerr != nil {
		return nil, 0, cerr
	}
	if res != nil && !math.IsNaN(res.F) && !math.IsInf(res.F, 0) {
		if err == nil {
			return res.X, res.F, nil
		}
		// A failed line search at the optimum is common with finite-difference
		// gradients: accept when the gradient is flat, else polish with Nelder-Mead.
		obj.at(res.X, true)
		flat := true
		for _, g := range obj.g {
			flat = flat && math.Abs(g) < 1e-5
		}
		if flat {
			return res.X, res.F, nil
		}
		theta0 = res.X
	}
	nm := optimize.Problem{Func: p.Func, Status: status}
	res2, err2 := optimize.Minimize(nm, theta0, &optimize.Settings{
		MajorIterations: 5000,
		Converger:       &optimize.FunctionConverge{Absolute: 1e-12, Iterations: 200},
	}, &optimize.NelderMead{})
	if cerr := ctx.Err(); cerr != nil {
		return nil, 0, cerr
	}
	if err2 != nil && (res2 == nil || math.IsInf(res2.F, 0) || math.IsNaN(res2.F)) {
		return nil, 0, fmt.Errorf("optimiser failed: %w", errors.Join(err, err2))
	}
	return res2.X, res2.F, nil
}

// numGrad fills grad with central differences of f at theta.
func numGrad(f func([]float64) float64, theta, grad []float64) {
	const h = 1e-6
	x := slices.Clone(theta)
	for i := range theta {
		x[i] = theta[i] + h
		fp := f(x)
		x[i] = theta[i] - h
		fm := f(x)
		x[i] = theta[i]
		grad[i] = (fp - fm) / (2 * h)
	}
}

// timeScale maps the histories to a scale where max T is 10, as lifetimes does,
// so that log-parameters start near 0 whatever the unit.
func timeScale(obs []Obs) float64 {
	m := 0.0
	for _, o := range obs {
		m = max(m, o.T)
	}
	if m <= 0 {
		return 1
	}
	return 10 / m
}

func scaleObs(obs []Obs, c float64) []Obs {
	out := make([]Obs, len(obs))
	for i, o := range obs {
		out[i] = Obs{X: o.X, Tx: o.Tx * c, T: o.T * c, W: o.W}
	}
	return out
}

func totalWeight(obs []Obs) float64 {
	w := 0.0
	for _, o := range obs {
		w += o.W
	}
	return w
}
