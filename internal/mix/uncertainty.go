package mix

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// jacobian returns J (fitted rows × (coefficients + channel parameters)): the derivative
// of the fitted values with respect to every parameter at the estimate.
func jacobian(e *evaluator, phi []float64) *mat.Dense {
	p := e.p
	n, np := p.n, e.np
	q := np + p.nParams()
	J := mat.NewDense(n, q, nil)
	for j := range e.pb {
		for t := range n {
			J.Set(t, j, p.base[j][t])
		}
	}
	for c := range p.channels {
		for t := range n {
			J.Set(t, e.pb+c, e.g[c][t])
		}
	}
	plus := make([]float64, len(p.y))
	minus := make([]float64, len(p.y))
	buf := make([]float64, len(p.y))
	const h = 1e-5
	for c := range p.channels {
		bc := e.beta[e.pb+c]
		for k := range 3 {
			x := append([]float64(nil), phi[3*c:3*c+3]...)
			x[k] += h
			p.pr.toParams(x[0], x[1], x[2]).column(plus, buf, p.x[c])
			x[k] -= 2 * h
			p.pr.toParams(x[0], x[1], x[2]).column(minus, buf, p.x[c])
			for t := range n {
				J.Set(t, np+3*c+k, bc*(plus[t]-minus[t])/(2*h))
			}
		}
	}
	return J
}

// laplaceDraws draws from the normal approximation of the posterior at its mode. The
// covariance is the sandwich H⁻¹·M·H⁻¹: H is the Gauss–Newton Hessian of the negative log
// posterior, M the same with the likelihood part estimated from the residuals with a
// Newey–West (Bartlett) window, so that days that err together (a warm week, an event
// the baseline does not know) do not count as independent evidence. Media coefficients
// drawn below zero are set to zero: the constraint is part of the model.
func laplaceDraws(e *evaluator, phi []float64, o Options) ([]draw, error) {
	p := e.p
	n, np := p.n, e.np
	C := len(p.channels)
	J := jacobian(e, phi)
	q := np + p.nParams()
	s2 := e.sigma2
	fit := e.fitted(nil)
	res := make([]float64, n)
	for t := range n {
		res[t] = e.y[t] - fit[t]
	}
	prior := make([]float64, q)
	copy(prior, p.bprec)
	for c := range C {
		prior[e.pb+c] = p.mprec
		prior[np+3*c] = 1 / (p.pr.uSD * p.pr.uSD)
		prior[np+3*c+1] = 1 / (p.pr.lkSD * p.pr.lkSD)
		prior[np+3*c+2] = 1 / (p.pr.vSD * p.pr.vSD)
	}
	for _, k := range p.calib {
		qf := e.roasFactor(k.channel) * k.scale
		prior[e.pb+k.channel] += qf * qf / (k.sd * k.sd)
	}
	var H mat.SymDense
	H.SymOuterK(1/s2, J.T())
	for i := range q {
		H.SetSym(i, i, H.At(i, i)+prior[i])
	}
	// Meat: Σ_l w_l Σ_t (s_t s_{t−l}ᵀ + s_{t−l} s_tᵀ), s_t = J_t·r_t/σ².
	S := mat.NewDense(n, q, nil)
	for t := range n {
		for j := range q {
			S.Set(t, j, J.At(t, j)*res[t]/s2)
		}
	}
	L := bandwidth(n, p.period)
	if o.Uncertainty == laplaceIID {
		L = -1 // the plain Hessian: M = H
	}
	M := mat.NewDense(q, q, nil)
	if L >= 0 {
		M.Mul(S.T(), S)
	} else {
		M.Copy(&H)
		for i := range q {
			M.Set(i, i, M.At(i, i)-prior[i])
		}
	}
	for l := 1; l <= L; l++ {
		w := 1 - float64(l)/float64(L+1)
		var part mat.Dense
		part.Mul(S.Slice(l, n, 0, q).T(), S.Slice(0, n-l, 0, q))
		for i := range q {
			for j := range q {
				M.Set(i, j, M.At(i, j)+w*(part.At(i, j)+part.At(j, i)))
			}
		}
	}
	for i := range q {
		M.Set(i, i, M.At(i, i)+prior[i])
	}
	var chol mat.Cholesky
	if !chol.Factorize(&H) {
		// Flat directions (a column of zeros): add a little ridge rather than give up.
		for i := range q {
			H.SetSym(i, i, H.At(i, i)*(1+1e-6)+1e-8)
		}
		if !chol.Factorize(&H) {
			return nil, errNotPD
		}
	}
	var Hinv mat.SymDense
	if err := chol.InverseTo(&Hinv); err != nil {
		return nil, err
	}
	var tmp, cov mat.Dense
	tmp.Mul(&Hinv, M)
	cov.Mul(&tmp, &Hinv)
	covS := mat.NewSymDense(q, nil)
	for i := range q {
		for j := i; j < q; j++ {
			covS.SetSym(i, j, (cov.At(i, j)+cov.At(j, i))/2)
		}
	}
	var cc mat.Cholesky
	if !cc.Factorize(covS) {
		for i := range q {
			covS.SetSym(i, i, covS.At(i, i)*(1+1e-9)+1e-12)
		}
		if !cc.Factorize(covS) {
			return nil, errNotPD
		}
	}
	var Lc mat.TriDense
	cc.LTo(&Lc)
	k := o.Draws
	if k <= 0 {
		k = 400
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6978))
	z := make([]float64, q)
	x := make([]float64, q)
	mode := make([]float64, q)
	copy(mode, e.beta)
	copy(mode[np:], phi)
	draws := make([]draw, k)
	for i := range draws {
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		for r := range q {
			v := mode[r]
			for j := 0; j <= r; j++ {
				v += Lc.At(r, j) * z[j]
			}
			x[r] = v
		}
		d := draw{beta: make([]float64, C), params: make([]channelParams, C)}
		for c := range C {
			d.beta[c] = math.Max(0, x[e.pb+c])
			d.params[c] = p.pr.toParams(x[np+3*c], x[np+3*c+1], x[np+3*c+2])
		}
		draws[i] = d
	}
	return draws, nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errNotPD = errString("the model's curvature is not positive definite: the data cannot pin the model down")

// bandwidth is the Newey–West window: two weeks of days, or four weeks.
func bandwidth(n int, period Period) int {
	if period == Week {
		return min(4, n/4)
	}
	return min(14, n/4)
}

// blockLength is the bootstrap's block: two weeks of days, or four weeks.
func blockLength(period Period) int {
	if period == Week {
		return 4
	}
	return 14
}

// bootstrapDraws refits the model on replicates of the data: the fitted values plus the
// residuals resampled in blocks (moving-block bootstrap), so that runs of days that err
// together stay together. Each refit starts from the estimate and polishes with BFGS.
func bootstrapDraws(ctx context.Context, e *evaluator, phi []float64, o Options) ([]draw, error) {
	p := e.p
	n := p.n
	C := len(p.channels)
	k := o.Draws
	if k <= 0 {
		k = 100
	}
	fit := e.fitted(nil)
	res := make([]float64, n)
	for t := range n {
		res[t] = e.y[t] - fit[t]
	}
	bl := min(blockLength(p.period), n)
	draws := make([]draw, k)
	errs := make([]error, k)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				rng := rand.New(rand.NewPCG(o.Seed, uint64(i)+1))
				y := make([]float64, len(p.y))
				copy(y, p.y)
				for t := 0; t < n; t += bl {
					s := rng.IntN(n - bl + 1)
					for j := 0; j < bl && t+j < n; j++ {
						y[t+j] = fit[t+j] + res[s+j]
					}
				}
				be := newEvaluator(p, y, e.sigma2)
				x, _, err := search(ctx, be, phi, false, 60)
				if err != nil {
					errs[i] = err
					continue
				}
				be.eval(x)
				d := draw{beta: make([]float64, C), params: make([]channelParams, C)}
				for c := range C {
					d.beta[c] = be.beta[be.pb+c]
					d.params[c] = p.params(x, c)
				}
				draws[i] = d
			}
		}()
	}
	for i := range k {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return draws, nil
}
