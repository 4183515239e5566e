package mix

import (
	"math"
)

// evaluator computes the profile objective of the channel parameters: for given
// adstock and saturation parameters, the coefficients (baseline and media) are the
// maximum a posteriori solution of a ridge regression with β_media ≥ 0, found exactly by
// an active-set method; the objective is the negative log posterior at that solution.
// An evaluator caches each channel's column and Gram entries and recomputes only the
// channels whose parameters changed, so a finite-difference gradient costs little.
// Not safe for concurrent use; each goroutine makes its own.
type evaluator struct {
	p      *problem
	y      []float64 // the target being fitted (p.y, or a bootstrap replicate)
	bty    []float64
	yty    float64
	sigma2 float64

	have []bool
	cur  []channelParams
	g    [][]float64 // [channel][row], all rows
	gb   [][]float64 // [channel][baseline column], fitted rows
	gy   []float64
	gg   [][]float64
	buf  []float64

	pb, np int
	a      []float64 // np×np normal matrix
	b      []float64
	beta   []float64
	zero   []bool // media coefficients held at 0 by the last solve
	work   solver
}

func newEvaluator(p *problem, y []float64, sigma2 float64) *evaluator {
	C := len(p.channels)
	e := &evaluator{p: p, y: y, sigma2: sigma2, pb: len(p.base)}
	e.np = e.pb + C
	e.have = make([]bool, C)
	e.cur = make([]channelParams, C)
	e.g = make([][]float64, C)
	e.gb = make([][]float64, C)
	e.gg = make([][]float64, C)
	for c := range C {
		e.g[c] = make([]float64, len(p.y))
		e.gb[c] = make([]float64, e.pb)
		e.gg[c] = make([]float64, C)
	}
	e.gy = make([]float64, C)
	e.buf = make([]float64, len(p.y))
	e.a = make([]float64, e.np*e.np)
	e.b = make([]float64, e.np)
	e.beta = make([]float64, e.np)
	e.zero = make([]bool, C)
	e.work = newSolver(e.np)
	if &y[0] == &p.y[0] {
		e.bty, e.yty = p.bty, p.yty
	} else {
		n := p.n
		e.bty = make([]float64, e.pb)
		for j := range e.pb {
			e.bty[j] = dot(p.base[j][:n], y[:n])
		}
		e.yty = dot(y[:n], y[:n])
	}
	return e
}

// setChannel recomputes channel c's column and Gram entries when its parameters changed.
func (e *evaluator) setChannel(c int, cp channelParams) {
	if e.have[c] && e.cur[c] == cp {
		return
	}
	p := e.p
	n := p.n
	cp.column(e.g[c], e.buf, p.x[c])
	gc := e.g[c][:n]
	for j := range e.pb {
		e.gb[c][j] = dot(gc, p.base[j][:n])
	}
	e.gy[c] = dot(gc, e.y[:n])
	for d := range e.g {
		if d == c || e.have[d] {
			v := dot(gc, e.g[d][:n])
			e.gg[c][d], e.gg[d][c] = v, v
		}
	}
	e.cur[c], e.have[c] = cp, true
}

// roasFactor is q_c: the channel's return over the fitted rows per unit of β. In the
// multiplicative form a channel adds β·g(t) times the day's target (to first order), and
// the observed target stands in for the prediction.
func (e *evaluator) roasFactor(c int) float64 {
	p := e.p
	if p.form == Multiplicative {
		return p.yScale * dot(e.g[c][:p.n], p.v[:p.n]) / (p.xScale[c] * float64(p.n))
	}
	return p.yScale * sum(e.g[c][:p.n]) / (p.xScale[c] * float64(p.n))
}

// eval returns the negative log posterior at phi, with the coefficients in e.beta.
func (e *evaluator) eval(phi []float64) float64 {
	p := e.p
	prior := 0.0
	for c := range p.channels {
		u, lk, v := phi[3*c], phi[3*c+1], phi[3*c+2]
		if math.IsNaN(u+lk+v) || math.Abs(u) > 40 || math.Abs(lk) > 12 || math.Abs(v) > 40 {
			return math.Inf(1)
		}
		e.setChannel(c, p.params(phi, c))
		prior += p.pr.penalty(u, lk, v)
	}
	return e.solve() + prior
}

// solve builds the normal equations for the current columns and solves them with
// β_media ≥ 0; it returns (RSS + penalties)/(2σ²).
func (e *evaluator) solve() float64 {
	p := e.p
	np, pb, s2 := e.np, e.pb, e.sigma2
	a, b := e.a, e.b
	for i := range pb {
		for j := i; j < pb; j++ {
			v := p.btb.At(i, j)
			a[i*np+j], a[j*np+i] = v, v
		}
		a[i*np+i] += s2 * p.bprec[i]
		b[i] = e.bty[i]
	}
	for c := range p.channels {
		r := pb + c
		for j := range pb {
			v := e.gb[c][j]
			a[r*np+j], a[j*np+r] = v, v
		}
		for d := range p.channels {
			a[r*np+pb+d] = e.gg[c][d]
		}
		a[r*np+r] += s2 * p.mprec
		b[r] = e.gy[c]
	}
	extra := 0.0
	for _, k := range p.calib {
		q := e.roasFactor(k.channel) * k.scale
		r := pb + k.channel
		w := s2 / (k.sd * k.sd)
		a[r*np+r] += w * q * q
		b[r] += w * q * k.roas
		extra += w * k.roas * k.roas
	}
	e.work.nnls(a, b, np, pb, e.beta, e.zero)
	// βᵀAβ − 2bᵀβ + yᵀy (+ calibration constant) = RSS + σ²·penalties.
	q := 0.0
	for i := range np {
		if e.beta[i] == 0 {
			continue
		}
		row := a[i*np : (i+1)*np]
		q += e.beta[i] * (dot(row, e.beta) - 2*b[i])
	}
	return (q + e.yty + extra) / (2 * s2)
}

// fitted returns the fitted values (all rows) for the current coefficients.
func (e *evaluator) fitted(dst []float64) []float64 {
	p := e.p
	if dst == nil {
		dst = make([]float64, len(p.y))
	}
	for t := range dst {
		v := 0.0
		for j := range e.pb {
			v += e.beta[j] * p.base[j][t]
		}
		for c := range p.channels {
			v += e.beta[e.pb+c] * e.g[c][t]
		}
		dst[t] = v
	}
	return dst
}

// rss is the residual sum of squares over the fitted rows (scaled target).
func (e *evaluator) rss() float64 {
	f := e.fitted(nil)
	s := 0.0
	for t := range e.p.n {
		r := e.y[t] - f[t]
		s += r * r
	}
	return s
}

// solver solves small dense symmetric positive-definite systems on a subset of indices.
type solver struct {
	l   []float64
	idx []int
	rhs []float64
	z   []float64
}

func newSolver(n int) solver {
	return solver{l: make([]float64, n*n), idx: make([]int, 0, n), rhs: make([]float64, n), z: make([]float64, n)}
}

// solveSubset solves A[idx,idx]·x = b[idx] by Cholesky and writes x into out (indices
// not in idx are set to 0). It returns false when the matrix is not positive definite.
func (s *solver) solveSubset(a, b []float64, n int, idx []int, out []float64) bool {
	m := len(idx)
	l := s.l[:m*m]
	for i := range m {
		ai := idx[i]
		for j := 0; j <= i; j++ {
			v := a[ai*n+idx[j]]
			for k := range j {
				v -= l[i*m+k] * l[j*m+k]
			}
			if i == j {
				if v <= 1e-300 {
					return false
				}
				l[i*m+i] = math.Sqrt(v)
			} else {
				l[i*m+j] = v / l[j*m+j]
			}
		}
	}
	z := s.z[:m]
	for i := range m {
		v := b[idx[i]]
		for k := range i {
			v -= l[i*m+k] * z[k]
		}
		z[i] = v / l[i*m+i]
	}
	for i := m - 1; i >= 0; i-- {
		v := z[i]
		for k := i + 1; k < m; k++ {
			v -= l[k*m+i] * z[k]
		}
		z[i] = v / l[i*m+i]
	}
	for i := range out {
		out[i] = 0
	}
	for i, ix := range idx {
		out[ix] = z[i]
	}
	return true
}

// nnls minimises ½βᵀAβ − bᵀβ subject to β_j ≥ 0 for j ≥ free (the media
// coefficients); the first free coefficients are unconstrained. It is Lawson and
// Hanson's active-set method, started from the previous call's active set: the answer
// changes little between nearby parameter values, and usually one solve confirms it.
func (s *solver) nnls(a, b []float64, n, free int, beta []float64, zero []bool) {
	const tol = 1e-10
	grad := func(j int) float64 { // b_j − (Aβ)_j: > 0 means β_j wants to grow
		return b[j] - dot(a[j*n:(j+1)*n], beta)
	}
	set := func() []int {
		s.idx = s.idx[:0]
		for j := range n {
			if j < free || !zero[j-free] {
				s.idx = append(s.idx, j)
			}
		}
		return s.idx
	}
	// Warm start: the previous active set, accepted if feasible and optimal.
	if s.solveSubset(a, b, n, set(), beta) {
		ok := true
		for j := free; j < n && ok; j++ {
			if zero[j-free] {
				ok = grad(j) <= tol*(1+math.Abs(b[j]))
			} else {
				ok = beta[j] >= 0
			}
		}
		if ok {
			return
		}
	}
	// Lawson–Hanson from all media at zero.
	for j := range zero {
		zero[j] = true
	}
	if !s.solveSubset(a, b, n, set(), beta) {
		for i := range beta {
			beta[i] = 0
		}
		return
	}
	z := make([]float64, n)
	for iter := 0; iter < 3*n; iter++ {
		best, bj := tol, -1
		for j := free; j < n; j++ {
			if zero[j-free] {
				if g := grad(j); g > best*(1+math.Abs(b[j])) {
					best, bj = g, j
				}
			}
		}
		if bj < 0 {
			return
		}
		zero[bj-free] = false
		for inner := 0; inner < 3*n; inner++ {
			if !s.solveSubset(a, b, n, set(), z) {
				zero[bj-free] = true
				return
			}
			feasible := true
			alpha := 1.0
			for j := free; j < n; j++ {
				if !zero[j-free] && z[j] <= 0 {
					feasible = false
					if d := beta[j] - z[j]; d > 0 {
						alpha = math.Min(alpha, beta[j]/d)
					}
				}
			}
			if feasible {
				copy(beta, z)
				break
			}
			for j := range beta {
				beta[j] += alpha * (z[j] - beta[j])
			}
			for j := free; j < n; j++ {
				if !zero[j-free] && beta[j] <= tol {
					zero[j-free] = true
					beta[j] = 0
				}
			}
		}
	}
}
