package mix

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"
)

// Uncertainty methods.
const (
	Laplace   = "laplace"
	Bootstrap = "bootstrap"
	// laplaceIID is the Laplace approximation without the Newey–West correction, kept
	// for the measurement that chose between the methods (docs/decisions.md).
	laplaceIID = "laplace-iid"
)

// Options control Fit. The zero value is the documented default.
type Options struct {
	// Granularity forces daily (Day) or weekly (Week) rows; 0 chooses by data size
	// (see chooseGranularity). Weekly input stays weekly.
	Granularity Period
	// Form forces Additive or Multiplicative; "" fits both and keeps the more likely.
	Form         Form
	Calibrations []Calibration
	Level        float64 // interval level; 0 means 0.8
	// Uncertainty is Laplace (default) or Bootstrap; Draws is the number of posterior
	// draws (Laplace, default 400) or bootstrap replicates (default 100).
	Uncertainty string
	Draws       int
	// Holdout is the number of final periods held out to measure the forecast error
	// (MAPE); 0 chooses four weeks (eight when weekly), −1 skips it.
	Holdout int
	Seed    uint64 // for the draws; the same seed gives the same intervals
	Workers int    // 0: GOMAXPROCS
	// Money formats an amount of the target's money for warnings; nil prints 2 decimals.
	Money func(float64) string
}

// ChannelEffect is what the model says about one channel over the fitted window, in the
// target's units (money in major units). Intervals are at Model.Level.
type ChannelEffect struct {
	Channel          string
	Spend            float64
	Contribution     float64 // target the channel caused in the window (with carryover inside it)
	ContributionLow  float64
	ContributionHigh float64
	ROAS             float64 // Contribution / Spend
	ROASLow          float64
	ROASHigh         float64
	// MarginalROAS is the return of one more unit of spend, spread like the current spend.
	MarginalROAS float64
	MarginalLow  float64
	MarginalHigh float64
	ShareOfMedia float64 // share of all channels' contribution
	Identifiable bool    // false when the spend barely varied or moved with something else
	// Transform parameters at the estimate: carryover per period (θ), half-life in days,
	// the half-saturation spend per period and the curve's shape.
	Carryover      float64
	HalfLifeDays   float64
	HalfSaturation float64
	Shape          float64
	// Calibration is the experiment result the fit was given for the channel, nil when
	// none: a channel "backed by an experiment".
	Calibration *Calibration
	// ProbBelowOne is the share of the posterior draws in which the channel's return per
	// unit of spend is below 1 (for a money target: it costs more than it brings back).
	ProbBelowOne float64
}

// Warning is a finding about the data or the fit, in plain words.
type Warning struct {
	Code    string `json:"code"`
	Channel string `json:"channel,omitempty"`
	Message string `json:"message"`
}

// Model is a fitted model.
type Model struct {
	Period   Period
	Dates    []time.Time // first day of each fitted period
	Channels []ChannelEffect
	// Dropped are input channels without spend in the window: not in the model.
	Dropped      []string
	Total        float64 // target over the window
	Baseline     float64 // target the model puts down to the baseline (no paid media)
	BaselineLow  float64
	BaselineHigh float64
	R2           float64
	// MAPEHoldout is the mean absolute percentage error of a fit without the last
	// HoldoutPeriods periods, predicting them; NaN when there was no holdout.
	MAPEHoldout    float64
	HoldoutPeriods int
	Level          float64
	Method         string
	Warnings       []Warning
	Actual, Fitted []float64 // per period
	BaselineSeries []float64
	Elapsed        time.Duration
	Form           Form // the form fitted

	prob     *problem
	s2       float64     // residual variance in the regression's scale
	weights  [][]float64 // per channel and fitted period: what a unit of its effect is worth
	phi      []float64
	beta     []float64 // all coefficients at the estimate
	draws    []draw
	sums     [][]summary // compressed draws, made on first use by the planner
	sumsOnce sync.Once
}

// draw is one posterior (or bootstrap) draw of the media part of the model.
type draw struct {
	beta   []float64 // per channel
	params []channelParams
}

// ErrTooLittleData is returned (wrapped) when the series is too short to fit at all.
var ErrTooLittleData = errors.New("too little data")

// needed is the number of periods the model should have for c channels: a season's
// worth of days (or a year of weeks) plus a month (a quarter) of varied spend per channel.
func needed(period Period, c int) int {
	if period == Week {
		return max(52, 20+8*c)
	}
	return max(180, 60+30*c)
}

// floor is the number of periods below which Fit refuses.
func floor(period Period, c int) int {
	if period == Week {
		return 16 + 2*c
	}
	return 56 + 7*c
}

// chooseGranularity picks the rows the model is fitted on. Daily rows carry more
// information about carryover and reaction to bursts; weekly rows are less noisy and cheaper.
// Daily is kept unless the history is long (three years and more: weekly rows are then
// plenty) or the target is sparse (a third of days without any: a tiny shop's days are
// mostly noise).
func chooseGranularity(d *Data, period Period, force Period) Period {
	if period == Week {
		return Week
	}
	if force != 0 {
		return force
	}
	zeros := 0
	for _, v := range d.Target {
		if v == 0 {
			zeros++
		}
	}
	if d.Len() >= 3*365 || float64(zeros) > float64(d.Len())/3 {
		return Week
	}
	return Day
}

// Fit fits the model to d (see the package documentation and docs/budget.md).
func Fit(ctx context.Context, d Data, o Options) (*Model, error) {
	t0 := time.Now()
	period, err := d.validate()
	if err != nil {
		return nil, err
	}
	if err := o.fillDefaults(); err != nil {
		return nil, err
	}
	g := chooseGranularity(&d, period, o.Granularity)
	if g == Week && period == Day {
		d = d.Weekly()
	}
	n := d.Len()
	f := &Model{Period: g, Level: o.Level, Method: o.Uncertainty, MAPEHoldout: math.NaN()}
	if n < floor(g, len(d.Channels)) {
		return nil, fmt.Errorf("%w: %d %ss of history; the model needs at least %d to fit %d channels and should have %d",
			ErrTooLittleData, n, g, floor(g, len(d.Channels)), len(d.Channels), needed(g, len(d.Channels)))
	}
	if err := checkCalibrations(&d, o.Calibrations); err != nil {
		return nil, err
	}
	forms, err := formsToTry(o.Form, d.Target)
	if err != nil {
		return nil, err
	}
	p, e, phi, err := f.fitLikeliestForm(ctx, &d, g, n, forms, o)
	if err != nil {
		return nil, err
	}
	if err := f.holdout(ctx, &d, g, n, o); err != nil {
		return nil, err
	}
	f.phi = phi
	f.beta = slices.Clone(e.beta)
	f.s2 = e.residualVariance()
	f.fitSeries(&d, p, e, n)
	f.channelWeights(p, e, n)
	switch o.Uncertainty {
	case Bootstrap:
		f.draws, err = bootstrapDraws(ctx, e, phi, o)
	default:
		f.draws, err = laplaceDraws(e, phi, o)
	}
	if err != nil {
		return nil, err
	}
	f.summarise(e, o)
	f.warn(e, &d, o)
	f.attachCalibrations(o.Calibrations)
	f.Elapsed = time.Since(t0)
	return f, nil
}

// fillDefaults fills in the options' defaults (an 80 % interval by the Laplace
// approximation, money with two decimals, a worker per CPU) and checks the level and
// the uncertainty method.
func (o *Options) fillDefaults() error {
	if o.Level == 0 {
		o.Level = 0.8
	}
	if o.Level <= 0 || o.Level >= 1 {
		return fmt.Errorf("interval level %v: want a number between 0 and 1", o.Level)
	}
	if o.Uncertainty == "" {
		o.Uncertainty = Laplace
	}
	if o.Uncertainty != Laplace && o.Uncertainty != Bootstrap && o.Uncertainty != laplaceIID {
		return fmt.Errorf("uncertainty method %q: want %s or %s", o.Uncertainty, Laplace, Bootstrap)
	}
	if o.Money == nil {
		o.Money = func(v float64) string { return fmt.Sprintf("%.2f", v) }
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// checkCalibrations refuses a calibration for a channel d does not have, or whose
// interval does not hold its ROAS. A test may measure a return below zero (noise around
// a small effect); its estimate and spread are kept, and the fit keeps the effect itself
// non-negative.
func checkCalibrations(d *Data, cals []Calibration) error {
	for _, c := range cals {
		if !slices.Contains(d.Channels, c.Channel) {
			return fmt.Errorf("calibration for %q: no such channel (have %v)", c.Channel, d.Channels)
		}
		if !(c.Low <= c.ROAS && c.ROAS <= c.High) || c.High <= 0 {
			return fmt.Errorf("calibration for %q: want low ≤ roas ≤ high and high > 0, have %v, %v, %v", c.Channel, c.Low, c.ROAS, c.High)
		}
	}
	return nil
}

// formsToTry are the forms to fit: the one asked for, or by default additive and (for a
// target that is always positive) multiplicative.
func formsToTry(form Form, target []float64) ([]Form, error) {
	switch {
	case form == "" && positive(target):
		return []Form{Additive, Multiplicative}, nil
	case form == "":
		return []Form{Additive}, nil
	case form != Additive && form != Multiplicative:
		return nil, fmt.Errorf("model form %q: want %s or %s", form, Additive, Multiplicative)
	}
	return []Form{form}, nil
}

// fitLikeliestForm fits each form in full and keeps the one under which the data are
// more likely; the likelihoods are compared on the target's own scale (the log model's
// with the Jacobian of the log).
func (f *Model) fitLikeliestForm(ctx context.Context, d *Data, g Period, n int, forms []Form, o Options) (*problem, *evaluator, []float64, error) {
	var (
		p    *problem
		e    *evaluator
		phi  []float64
		best = math.Inf(-1)
	)
	for _, form := range forms {
		fp, dropped, err := newProblem(d, g, n, form, o.Calibrations, o.Level)
		if err != nil {
			return nil, nil, nil, err
		}
		fe, fphi, err := fitMAP(ctx, fp, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		if ll := logLik(fe); ll > best {
			best, p, e, phi = ll, fp, fe, fphi
			f.Dropped = dropped
		}
	}
	f.Form = p.form
	f.prob = p
	return p, e, phi, nil
}

// holdout fits the chosen form again without the last periods (28 days, or 8 weeks),
// from scratch, and measures how well it predicts them with the spend they had.
func (f *Model) holdout(ctx context.Context, d *Data, g Period, n int, o Options) error {
	h := o.Holdout
	if h == 0 {
		h = 28 / g.Days()
		if g == Week {
			h = 8
		}
	}
	if h <= 0 || n-h < floor(g, len(d.Channels)) {
		return nil
	}
	hp, _, err := newProblem(d, g, n-h, f.prob.form, o.Calibrations, o.Level)
	if err != nil {
		return nil
	}
	he, _, err := fitMAP(ctx, hp, nil)
	if err != nil {
		return err
	}
	pred := he.predict()
	f.MAPEHoldout = mape(d.Target[n-h:], pred[n-h:])
	f.HoldoutPeriods = h
	return nil
}

// fitSeries sets the actual, fitted and baseline series, the fit's R² and the total.
func (f *Model) fitSeries(d *Data, p *problem, e *evaluator, n int) {
	pred := e.predict()
	f.Dates = d.Dates
	f.Actual = slices.Clone(d.Target[:n])
	f.Fitted = pred[:n]
	f.BaselineSeries = make([]float64, n)
	var ssr, sst float64
	for t := range n {
		b := 0.0
		for j := range p.base {
			b += e.beta[j] * p.base[j][t]
		}
		if p.form == Multiplicative {
			b = math.Exp(b + f.s2/2)
		}
		f.BaselineSeries[t] = b * p.yScale
		r := f.Actual[t] - f.Fitted[t]
		ssr += r * r
		sst += (f.Actual[t] - p.yScale) * (f.Actual[t] - p.yScale)
	}
	f.R2 = 0
	if sst > 0 {
		f.R2 = 1 - ssr/sst
	}
	f.Total = sum(f.Actual)
}

// channelWeights sets each channel's weight per period: what a unit of its effect is
// worth that day. The additive form's is the mean target; the multiplicative form's the
// prediction without the channel (its effect multiplies that).
func (f *Model) channelWeights(p *problem, e *evaluator, n int) {
	f.weights = make([][]float64, len(p.channels))
	for c := range p.channels {
		w := make([]float64, n)
		for t := range n {
			if p.form == Multiplicative {
				w[t] = f.Fitted[t] * math.Exp(-e.beta[e.pb+c]*e.g[c][t])
			} else {
				w[t] = p.yScale
			}
		}
		f.weights[c] = w
	}
}

// attachCalibrations shows each channel's calibration beside its results.
func (f *Model) attachCalibrations(cals []Calibration) {
	for i := range f.Channels {
		for _, c := range cals {
			if c.Channel == f.Channels[i].Channel {
				cc := c
				f.Channels[i].Calibration = &cc
			}
		}
	}
}

// logLik is the fit's Gaussian log-likelihood of the target divided by its mean (up to
// a constant shared by both forms), with the noise variance at its estimate: the log
// form's density of log v carries the Jacobian −Σ log v.
func logLik(e *evaluator) float64 {
	p := e.p
	n := float64(p.n)
	ll := -n / 2 * math.Log(e.rss()/n)
	if p.form == Multiplicative {
		ll -= sum(p.y[:p.n])
	}
	return ll
}

// residualVariance is the variance of the residuals in the regression's own scale.
func (e *evaluator) residualVariance() float64 {
	return e.rss() / float64(max(e.p.n-e.np, 1))
}

// predict returns the expected target (in its units) for every row, the holdout's too.
func (e *evaluator) predict() []float64 {
	p := e.p
	f := e.fitted(nil)
	s2 := e.residualVariance()
	for t := range f {
		if p.form == Multiplicative {
			f[t] = p.yScale * math.Exp(f[t]+s2/2)
		} else {
			f[t] *= p.yScale
		}
	}
	return f
}

// fitMAP finds the maximum a posteriori parameters of p. The noise variance is estimated
// from a pilot fit at the prior centre, then once more from the fit's residuals, with
// the parameters re-polished under it.
func fitMAP(ctx context.Context, p *problem, warm []float64) (*evaluator, []float64, error) {
	e := newEvaluator(p, p.y, 1)
	phi0 := p.start()
	e.eval(phi0)
	dof := float64(max(p.n-e.np, 1))
	e.sigma2 = math.Max(e.rss()/dof, 1e-8)
	grid := true
	if warm != nil {
		phi0, grid = warm, false
		// The warm start must still be a good point here; the grid runs when it is not.
		if e.eval(warm) > e.eval(p.start()) {
			phi0, grid = p.start(), true
		}
	}
	phi, _, err := search(ctx, e, phi0, grid, 0)
	if err != nil {
		return nil, nil, err
	}
	s2 := math.Max(e.rss()/dof, 1e-8)
	if math.Abs(s2/e.sigma2-1) > 0.05 {
		e.sigma2 = s2
		e.have = make([]bool, len(p.channels)) // recompute with the new penalties' weights
		phi, _, err = search(ctx, e, phi, false, 0)
		if err != nil {
			return nil, nil, err
		}
	}
	e.eval(phi)
	if p.form == Multiplicative && len(p.calib) > 0 {
		if phi, err = refineCalibration(ctx, e, phi); err != nil {
			return nil, nil, err
		}
	}
	return e, phi, nil
}

// refineCalibration makes a calibrated channel's return, as the multiplicative model
// computes it (the target lost without the channel), match what the calibration prior
// sees (a first-order approximation in β): it rescales the approximation by their ratio
// at the estimate and refits, a few times.
func refineCalibration(ctx context.Context, e *evaluator, phi []float64) ([]float64, error) {
	p := e.p
	for range 4 {
		pred := e.predict()
		changed := false
		for i := range p.calib {
			k := &p.calib[i]
			b := e.beta[e.pb+k.channel]
			lin := b * e.roasFactor(k.channel) * k.scale
			if b <= 0 || lin <= 0 {
				continue
			}
			spend := p.xScale[k.channel] * float64(p.n)
			act := 0.0
			for t := range p.n {
				act += pred[t] * -math.Expm1(-b*e.g[k.channel][t])
			}
			r := act / spend / lin
			if math.Abs(r-1) > 1e-3 {
				k.scale *= r
				changed = true
			}
		}
		if !changed {
			break
		}
		var err error
		if phi, _, err = search(ctx, e, phi, false, 0); err != nil {
			return nil, err
		}
	}
	return phi, nil
}

func mape(y, pred []float64) float64 {
	s, k := 0.0, 0
	for t, v := range y {
		if v != 0 {
			s += math.Abs(v-pred[t]) / math.Abs(v)
			k++
		}
	}
	if k == 0 {
		return math.NaN()
	}
	return s / float64(k)
}

// channelTotals returns channel c's contribution over the fitted rows (in target units)
// and its derivative with respect to a multiplier of all its spend, for coefficient beta,
// parameters cp and the spend multiplied by mult. buf holds n values.
func (m *Model) channelTotals(c int, beta float64, cp channelParams, mult float64, buf []float64) (contrib, slope float64) {
	p := m.prob
	n := p.n
	if mult <= 0 || beta == 0 {
		return 0, 0
	}
	adstock(buf[:n], p.x[c][:n], cp.Theta)
	h := newHill(cp.Kappa, cp.Shape)
	w := m.weights[c]
	mul := p.form == Multiplicative
	for t := range n {
		a := buf[t]
		if a <= 0 {
			continue
		}
		x := beta * h.at(mult*a)
		d := beta * h.slope(mult*a) * a
		if mul {
			contrib += w[t] * math.Expm1(x)
			slope += w[t] * math.Exp(x) * d
		} else {
			contrib += w[t] * x
			slope += w[t] * d
		}
	}
	return contrib, slope
}

// drawTotals evaluates every draw: contribution and slope per channel at multiplier 1.
func (m *Model) drawTotals() (contrib, slope [][]float64) {
	p := m.prob
	buf := make([]float64, p.n)
	contrib = make([][]float64, len(m.draws))
	slope = make([][]float64, len(m.draws))
	for i, d := range m.draws {
		contrib[i] = make([]float64, len(p.channels))
		slope[i] = make([]float64, len(p.channels))
		for c := range p.channels {
			contrib[i][c], slope[i][c] = m.channelTotals(c, d.beta[c], d.params[c], 1, buf)
		}
	}
	return contrib, slope
}

// summarise fills the channel effects: estimates at the MAP, intervals from the draws.
func (m *Model) summarise(e *evaluator, o Options) {
	p := m.prob
	n := p.n
	C := len(p.channels)
	buf := make([]float64, n)
	lo, hi := (1-o.Level)/2, 1-(1-o.Level)/2
	dc, ds := m.drawTotals()
	var mediaTotal float64
	m.Channels = make([]ChannelEffect, C)
	for c := range C {
		cp := p.params(m.phi, c)
		spend := p.xScale[c] * sum(p.x[c][:n])
		contrib, slope := m.channelTotals(c, m.beta[e.pb+c], cp, 1, buf)
		ce := ChannelEffect{
			Channel: p.channels[c], Spend: spend, Contribution: contrib,
			ROAS: contrib / spend, MarginalROAS: slope / spend,
			Carryover: cp.Theta, Shape: cp.Shape,
			HalfSaturation: cp.Kappa * p.xScale[c],
		}
		if cp.Theta > 0 {
			ce.HalfLifeDays = math.Log(0.5) / math.Log(cp.Theta) * float64(p.period.Days())
		}
		cs := make([]float64, len(dc))
		ms := make([]float64, len(dc))
		for i := range dc {
			cs[i], ms[i] = dc[i][c], ds[i][c]/spend
		}
		below := 0
		for _, v := range cs {
			if v < spend {
				below++
			}
		}
		if len(cs) > 0 {
			ce.ProbBelowOne = float64(below) / float64(len(cs))
		}
		sort.Float64s(cs)
		sort.Float64s(ms)
		// The estimate is the posterior mode; an interval from draws of a posterior
		// that piles up at zero can sit just beside it, so it is widened to include it.
		ce.ContributionLow = math.Min(quantile(cs, lo), contrib)
		ce.ContributionHigh = math.Max(quantile(cs, hi), contrib)
		ce.ROASLow, ce.ROASHigh = ce.ContributionLow/spend, ce.ContributionHigh/spend
		ce.MarginalLow = math.Min(quantile(ms, lo), ce.MarginalROAS)
		ce.MarginalHigh = math.Max(quantile(ms, hi), ce.MarginalROAS)
		mediaTotal += contrib
		m.Channels[c] = ce
	}
	for c := range m.Channels {
		if mediaTotal > 0 {
			m.Channels[c].ShareOfMedia = m.Channels[c].Contribution / mediaTotal
		}
	}
	m.Baseline = sum(m.BaselineSeries)
	// The baseline's interval: the fitted total minus the media, per draw.
	fitted := sum(m.Fitted)
	bs := make([]float64, len(dc))
	for i := range dc {
		bs[i] = fitted - sum(dc[i])
	}
	sort.Float64s(bs)
	m.BaselineLow = math.Min(quantile(bs, lo), m.Baseline)
	m.BaselineHigh = math.Max(quantile(bs, hi), m.Baseline)
}

// quantile of sorted xs (linear interpolation).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(xs)-1)
	i := int(math.Floor(pos))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	fr := pos - float64(i)
	return xs[i]*(1-fr) + xs[i+1]*fr
}

// Draws is the number of posterior (or bootstrap) draws behind the intervals.
func (m *Model) Draws() int { return len(m.draws) }
