package mix

import (
	"context"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// Grids for the first, coarse search of each channel's parameters.
var (
	gridTheta = []float64{0.05, 0.3, 0.55, 0.8} // as a share of θmax
	gridKappa = []float64{0.5, 1, 2, 4}
)

// search finds the maximum a posteriori channel parameters from phi0: a coordinate-wise
// grid search over carryover and half-saturation (shape 1), two sweeps over the channels,
// then BFGS on all parameters together with a central-difference gradient. Every step is
// deterministic. It returns the parameters and the objective.
func search(ctx context.Context, e *evaluator, phi0 []float64, grid bool, maxIter int) ([]float64, float64, error) {
	p := e.p
	phi := slices.Clone(phi0)
	best := e.eval(phi)
	if grid {
		for sweep := 0; sweep < 2; sweep++ {
			for c := range p.channels {
				if err := ctx.Err(); err != nil {
					return nil, 0, err
				}
				bu, bk, bv := phi[3*c], phi[3*c+1], phi[3*c+2]
				for _, th := range gridTheta {
					for _, k := range gridKappa {
						u, lk, v := p.pr.fromParams(channelParams{Theta: th * p.pr.thetaMax, Kappa: k, Shape: 1})
						phi[3*c], phi[3*c+1], phi[3*c+2] = u, lk, v
						if f := e.eval(phi); f < best {
							best, bu, bk, bv = f, u, lk, v
						}
					}
				}
				phi[3*c], phi[3*c+1], phi[3*c+2] = bu, bk, bv
			}
		}
	}
	x, f, err := minimize(ctx, e, phi, maxIter)
	if err != nil {
		return nil, 0, err
	}
	if f > best { // the polish should never lose ground; keep the grid's point if it did
		e.eval(phi)
		return phi, best, nil
	}
	e.eval(x)
	return x, f, nil
}

// gradient fills g with central differences of the objective at x. Each coordinate
// changes one channel's column only, which the evaluator recomputes alone.
func gradient(e *evaluator, x, g []float64) {
	const h = 1e-5
	xx := slices.Clone(x)
	for i := range x {
		xx[i] = x[i] + h
		fp := e.eval(xx)
		xx[i] = x[i] - h
		fm := e.eval(xx)
		xx[i] = x[i]
		g[i] = (fp - fm) / (2 * h)
	}
}

func minimize(ctx context.Context, e *evaluator, x0 []float64, maxIter int) ([]float64, float64, error) {
	if maxIter == 0 {
		maxIter = 200
	}
	var lastX, lastG []float64
	prob := optimize.Problem{
		Func: func(x []float64) float64 { return e.eval(x) },
		Grad: func(g, x []float64) {
			if lastX != nil && slices.Equal(x, lastX) {
				copy(g, lastG)
				return
			}
			gradient(e, x, g)
			lastX, lastG = append(lastX[:0], x...), append(lastG[:0], g...)
		},
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-6,
		MajorIterations:   maxIter,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-9, Relative: 1e-10, Iterations: 5},
	}
	res, err := optimize.Minimize(prob, x0, settings, &optimize.BFGS{})
	if cerr := ctx.Err(); cerr != nil {
		return nil, 0, cerr
	}
	if res == nil || math.IsNaN(res.F) || math.IsInf(res.F, 0) {
		f := e.eval(x0)
		return slices.Clone(x0), f, nil
	}
	_ = err // a line search that stalls at the optimum is not a failure: res holds the best point
	return res.X, res.F, nil
}
