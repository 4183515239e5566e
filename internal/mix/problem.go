package mix

import (
	"errors"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"
)

// problem is one fitting problem: the target and spend scaled, the baseline laid out, the
// priors set. Rows [0, n) are fitted; rows after n (a holdout) are only predicted.
type problem struct {
	form     Form
	period   Period
	dates    []time.Time
	n        int         // fitted rows
	v        []float64   // target / yScale, all rows
	y        []float64   // the response the regression fits: v (additive) or log v (multiplicative)
	yScale   float64     // mean target over the fitted rows
	channels []string    // modelled channels (spend > 0 in the fitted rows)
	x        [][]float64 // spend / xScale, all rows
	xScale   []float64   // mean spend per period over the fitted rows
	base     [][]float64 // [column][row], all rows
	bnames   []string
	bkinds   []string
	bprec    []float64 // prior precision of each baseline coefficient (1/sd²; 0 flat)
	mprec    float64   // prior precision of the media coefficients β (half-normal)
	calib    []calibRow
	pr       priors

	// Over the fitted rows: baseline Gram matrix, baseline × y, y·y.
	btb *mat.SymDense
	bty []float64
	yty float64
}

// priors of the transformed channel parameters (see channelParams / toParams).
type priors struct {
	thetaMax     float64
	uMean, uSD   float64 // u = logit(θ/θmax)
	lkMean, lkSD float64 // log κ
	vMean, vSD   float64 // v = logit((s−0.5)/2.5)
}

func defaultPriors(p Period) priors {
	pr := priors{lkMean: math.Log(1.5), lkSD: 1, vMean: logit(0.2), vSD: 0.5, uSD: 1.5}
	if p == Week {
		pr.thetaMax = 0.9
		pr.uMean = logit(0.3 / 0.9)
	} else {
		pr.thetaMax = 0.95
		pr.uMean = logit(0.5 / 0.95)
	}
	return pr
}

type calibRow struct {
	channel int
	roas    float64
	sd      float64
	// scale corrects the linear approximation of the channel's return in the
	// multiplicative form (see refineCalibration); 1 in the additive form.
	scale float64
}

// Calibration is an experiment's result for one channel: a lift test (geo holdout,
// conversion lift study, switching a channel off for a while) that measured its return
// per unit of spend. ROAS is the estimate and [Low, High] its interval at level Level
// (0.8 when zero). The fit then treats the channel's return over the window as normally
// distributed around ROAS with the spread the interval implies: a tight test pins the
// channel down, a wide one barely moves it.
type Calibration struct {
	Channel   string  `json:"channel"`
	ROAS      float64 `json:"roas"`
	Low       float64 `json:"low"`
	High      float64 `json:"high"`
	Level     float64 `json:"level,omitempty"`
	StartDate string  `json:"start_date,omitempty"` // informative: when the test ran
	EndDate   string  `json:"end_date,omitempty"`
	// Experiment names the stored test the result comes from (informative).
	Experiment string `json:"experiment,omitempty"`
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// toParams maps a channel's unconstrained parameters (u, log κ, v) to θ, κ, s.
func (pr priors) toParams(u, lk, v float64) channelParams {
	return channelParams{
		Theta: pr.thetaMax * sigmoid(u),
		Kappa: math.Exp(lk),
		Shape: 0.5 + 2.5*sigmoid(v),
	}
}

func (pr priors) fromParams(p channelParams) (u, lk, v float64) {
	return logit(p.Theta / pr.thetaMax), math.Log(p.Kappa), logit((p.Shape - 0.5) / 2.5)
}

// penalty is the negative log prior density (up to a constant) of one channel's
// unconstrained parameters.
func (pr priors) penalty(u, lk, v float64) float64 {
	a := (u - pr.uMean) / pr.uSD
	b := (lk - pr.lkMean) / pr.lkSD
	c := (v - pr.vMean) / pr.vSD
	return 0.5 * (a*a + b*b + c*c)
}

// mediaPriorSD is the prior scale of β (a channel's contribution per period at its mean
// spend, in units of the mean target): half-normal with sd 0.5, so a single channel
// driving half of everything is plausible and anything beyond that needs strong data.
const mediaPriorSD = 0.5

// Form is how the channels and the baseline combine.
type Form string

const (
	// Additive: target = baseline + Σ channel effects. A channel adds the same whatever
	// the day.
	Additive Form = "additive"
	// Multiplicative: target = baseline × Π (1 + channel effect), fitted on the log of the
	// target: weekday, season and growth multiply one another, and a channel's effect is
	// larger on a busy day. Needs a target above zero in every period.
	Multiplicative Form = "multiplicative"
)

// positive reports whether every value is above zero (a multiplicative model's need).
func positive(x []float64) bool {
	for _, v := range x {
		if !(v > 0) {
			return false
		}
	}
	return len(x) > 0
}

// newProblem scales d and lays out the baseline; the first n rows are fitted.
func newProblem(d *Data, period Period, n int, form Form, cal []Calibration, level float64) (*problem, []string, error) {
	if n < 2 {
		return nil, nil, errors.New("too few rows to fit")
	}
	p := &problem{form: form, period: period, dates: d.Dates, n: n, pr: defaultPriors(period)}
	p.yScale = mean(d.Target[:n])
	if !(p.yScale > 0) {
		return nil, nil, errors.New("the target's mean over the window is not positive: nothing to explain")
	}
	if form == Multiplicative && !positive(d.Target) {
		return nil, nil, errors.New("a multiplicative model needs a target above zero in every period")
	}
	p.v = make([]float64, len(d.Target))
	p.y = make([]float64, len(d.Target))
	for t, v := range d.Target {
		p.v[t] = v / p.yScale
		p.y[t] = p.v[t]
		if form == Multiplicative {
			p.y[t] = math.Log(p.v[t])
		}
	}
	var dropped []string
	for c, s := range d.Spend {
		m := mean(s[:n])
		if m <= 0 {
			dropped = append(dropped, d.Channels[c])
			continue
		}
		xs := make([]float64, len(s))
		for t, v := range s {
			xs[t] = v / m
		}
		p.channels = append(p.channels, d.Channels[c])
		p.x = append(p.x, xs)
		p.xScale = append(p.xScale, m)
	}
	if len(p.channels) == 0 {
		return nil, dropped, errors.New("no channel has any spend in the window")
	}
	cols := baseline(d.Dates, n, period, d.Controls, d.ControlValues)
	for _, c := range cols {
		v := make([]float64, len(d.Dates))
		for t := range v {
			v[t] = c.at(t, d.Dates[t])
		}
		p.base = append(p.base, v)
		p.bnames = append(p.bnames, c.name)
		p.bkinds = append(p.bkinds, c.kind)
		prec := 0.0
		if c.prior > 0 {
			prec = 1 / (c.prior * c.prior)
		}
		p.bprec = append(p.bprec, prec)
	}
	p.mprec = 1 / (mediaPriorSD * mediaPriorSD)
	if level == 0 {
		level = 0.8
	}
	for _, c := range cal {
		idx := -1
		for i, ch := range p.channels {
			if ch == c.Channel {
				idx = i
			}
		}
		if idx < 0 {
			continue // reported by the caller
		}
		lv := c.Level
		if lv == 0 {
			lv = level
		}
		z := normalQuantile(0.5 + lv/2)
		sd := (c.High - c.Low) / (2 * z)
		if !(sd > 0) {
			sd = math.Max(0.05*c.ROAS, 0.01)
		}
		p.calib = append(p.calib, calibRow{channel: idx, roas: c.ROAS, sd: sd, scale: 1})
	}
	pb := len(p.base)
	p.btb = mat.NewSymDense(pb, nil)
	p.bty = make([]float64, pb)
	for i := range pb {
		bi := p.base[i][:n]
		for j := i; j < pb; j++ {
			p.btb.SetSym(i, j, dot(bi, p.base[j][:n]))
		}
		p.bty[i] = dot(bi, p.y[:n])
	}
	p.yty = dot(p.y[:n], p.y[:n])
	return p, dropped, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// nParams is the number of unconstrained channel parameters.
func (p *problem) nParams() int { return 3 * len(p.channels) }

func (p *problem) params(phi []float64, c int) channelParams {
	return p.pr.toParams(phi[3*c], phi[3*c+1], phi[3*c+2])
}

// start is the prior centre of every channel's parameters.
func (p *problem) start() []float64 {
	phi := make([]float64, p.nParams())
	for c := range p.channels {
		phi[3*c], phi[3*c+1], phi[3*c+2] = p.pr.uMean, p.pr.lkMean, p.pr.vMean
	}
	return phi
}

// normalQuantile is the standard normal quantile.
func normalQuantile(p float64) float64 { return mathext.NormalQuantile(p) }
