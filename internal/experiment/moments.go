package experiment

import "math"

// Moments are the running sums of one arm: the metric Y per unit and, for CUPED, its
// pre-period covariate X. They are updated with Welford's algorithm (and Chan et al.'s
// merge), which stays accurate where the textbook sums of squares lose digits: revenue in
// minor units squared over a million units is 1e14 and more.
type Moments struct {
	N            float64
	MeanY, MeanX float64
	M2Y, M2X     float64 // sums of squared deviations from the mean
	CXY          float64 // sum of cross deviations
}

// Add counts one unit with metric value y and covariate x (0 when there is none).
func (m *Moments) Add(y, x float64) {
	m.N++
	dy := y - m.MeanY
	dx := x - m.MeanX
	m.MeanY += dy / m.N
	m.MeanX += dx / m.N
	m.M2Y += dy * (y - m.MeanY)
	m.M2X += dx * (x - m.MeanX)
	m.CXY += dx * (y - m.MeanY)
}

// Merge adds the units counted in o.
func (m *Moments) Merge(o Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = o
		return
	}
	n := m.N + o.N
	dy := o.MeanY - m.MeanY
	dx := o.MeanX - m.MeanX
	f := m.N * o.N / n
	m.M2Y += o.M2Y + dy*dy*f
	m.M2X += o.M2X + dx*dx*f
	m.CXY += o.CXY + dx*dy*f
	m.MeanY += dy * o.N / n
	m.MeanX += dx * o.N / n
	m.N = n
}

// VarY is the sample variance of Y (n − 1 in the denominator); NaN below two units.
func (m Moments) VarY() float64 {
	if m.N < 2 {
		return math.NaN()
	}
	return m.M2Y / (m.N - 1)
}

// adjusted returns the arm's CUPED-adjusted mean and sample variance for slope theta and
// the covariate's pooled mean: Y − θ(X − X̄). theta 0 leaves Y as it is.
func (m Moments) adjusted(theta, poolX float64) (mean, variance float64) {
	mean = m.MeanY - theta*(m.MeanX-poolX)
	if m.N < 2 {
		return mean, math.NaN()
	}
	ss := m.M2Y + theta*theta*m.M2X - 2*theta*m.CXY
	if ss < 0 { // rounding when X explains Y exactly
		ss = 0
	}
	return mean, ss / (m.N - 1)
}
