package experiment

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

func distuvChi2Quantile(p, k float64) float64 { return distuv.ChiSquared{K: k}.Quantile(p) }

// Ad-channel incrementality for a small business (docs/experiments.md, "Ad channels").
// Two designs:
//
//   - regions: the channel is switched off (or changed) in a group of regions or postcode
//     areas and left alone in the others; time-based regression (TBR; Kerman, Wang &
//     Vaver 2017) predicts what the treated group would have sold from the control group,
//     fitted on the days before the test, and the difference over the test is the
//     channel's effect there;
//   - switchback: the whole shop switches the channel on and off in periods (weeks); a
//     regression of each period's mean on a quadratic trend and the on/off state gives
//     the effect per day.
//
// Both turn the effect into the channel's return on the spend the test moved (ROAS) with
// an interval, and both run the same analysis on fake tests inside the pre-period (the
// placebo check): with no effect there, the share of placebo intervals that exclude zero
// should be about alpha.

// Geo designs.
const (
	DesignRegions    = "regions"
	DesignSwitchback = "switchback"
)

// GeoFit describes the regression behind an analysis.
type GeoFit struct {
	Intercept       float64 `json:"intercept"` // switchback: the off level at the test's centre
	Slope           float64 `json:"slope"`     // TBR: treated on control; switchback: trend per day at the test's centre
	ResidualSD      float64 `json:"residual_sd"`
	R2              Num     `json:"r2"`
	Autocorrelation float64 `json:"autocorrelation"` // lag-1 autocorrelation of the residuals (TBR), ≥ 0
	DF              float64 `json:"df"`
}

// Placebo is the analysis repeated on fake tests inside the pre-period, where the true
// effect is zero.
type Placebo struct {
	Windows     int    `json:"windows"`      // fake tests analysed
	FalseAlarms int    `json:"false_alarms"` // of them, intervals that excluded zero
	Rate        Num    `json:"rate"`         // FalseAlarms / Windows; about alpha when the model holds
	RMSZ        Num    `json:"rms_z"`        // root mean square of the fake estimates in standard errors (as normal scores); about 1
	Inflation   Num    `json:"inflation"`    // factor the intervals were widened by (1: none)
	Note        string `json:"note,omitempty"`
}

// GeoDay is one test day: the treated group's actual and predicted response, and the
// cumulative effect so far with its interval (for the chart).
type GeoDay struct {
	Date       string `json:"date"`
	Actual     Num    `json:"actual"`
	Predicted  Num    `json:"predicted"`
	Cumulative Num    `json:"cumulative"`
	CumLow     Num    `json:"cumulative_low"`
	CumHigh    Num    `json:"cumulative_high"`
	On         *bool  `json:"on,omitempty"` // switchback: the channel ran that day
}

// GeoResult is an ad-channel test's analysis. Incremental is the test's effect on the
// response (revenue or orders) over the test days: the treated group minus its
// counterfactual (regions), or the on days' effect (switchback); SpendChange is the
// channel spend the test moved (negative when it switched the channel off), and ROAS =
// Incremental / SpendChange, the revenue per unit of spend.
type GeoResult struct {
	Design          string   `json:"design"`
	Method          string   `json:"method"`
	Channel         string   `json:"channel,omitempty"`
	PreDays         int      `json:"pre_days"`
	TestDays        int      `json:"test_days"`
	From            string   `json:"test_from"`
	To              string   `json:"test_to"` // last test day, inclusive
	Level           float64  `json:"level"`   // 1 − alpha
	Incremental     Num      `json:"incremental"`
	IncrementalLow  Num      `json:"incremental_low"`
	IncrementalHigh Num      `json:"incremental_high"`
	Counterfactual  Num      `json:"counterfactual"` // what the treated group (the on days) would have had without the change
	Lift            Num      `json:"lift"`           // Incremental / Counterfactual
	LiftLow         Num      `json:"lift_low"`
	LiftHigh        Num      `json:"lift_high"`
	PValue          Num      `json:"p_value"`
	SpendChange     Num      `json:"spend_change"`
	ROAS            Num      `json:"roas"`
	ROASLow         Num      `json:"roas_low"`
	ROASHigh        Num      `json:"roas_high"`
	Significant     bool     `json:"significant"`
	Fit             GeoFit   `json:"fit"`
	Placebo         Placebo  `json:"placebo"`
	Daily           []GeoDay `json:"daily"`
	Periods         int      `json:"periods,omitempty"` // switchback: on/off periods analysed
	VerdictKind     string   `json:"verdict_kind"`
	Verdict         string   `json:"verdict"`
	Notes           []string `json:"notes,omitempty"`
}

// Geo verdict kinds, beside the A/B ones.
const (
	VerdictEffect   = "effect"    // the interval excludes zero
	VerdictNoEffect = "no_effect" // it does not
)

// TBRInput is a region test's data: the treated and the control group's response per
// day (revenue or orders, summed over their regions) over consecutive days, and the
// channel's spend per day in each group when known. Days [TestStart, TestEnd) are the
// test; the days before it are the pre-period the regression is fitted on.
type TBRInput struct {
	Dates              []time.Time
	Treated, Control   []float64
	TreatedSpend       []float64 // optional
	ControlSpend       []float64 // optional
	TestStart, TestEnd int
	Alpha              float64 // default 0.05
	Channel            string
	Unit               string // "revenue (EUR)", "orders": for the verdict; default "revenue"
	// SpendChange overrides the spend the test moved (when the spend series cannot say).
	SpendChange *float64
}

// MinPreDays is the shortest pre-period a TBR analysis accepts: three weeks of days to
// fit a line and its residual spread on.
const MinPreDays = 21

// linFit is an ordinary least-squares line y = a + b·x over the days in idx.
type linFit struct {
	a, b, sigma2, sxx, xbar, r2, rho float64
	n                                int
}

func fitLine(x, y []float64, idx []int) (linFit, error) {
	n := len(idx)
	if n < 3 {
		return linFit{}, errors.New("fewer than 3 days to fit")
	}
	var mx, my float64
	for _, i := range idx {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxx, sxy, syy float64
	for _, i := range idx {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	f := linFit{n: n, xbar: mx, sxx: sxx}
	if sxx > 0 {
		f.b = sxy / sxx
	}
	f.a = my - f.b*mx
	var rss, num, den float64
	prev, prevE := -2, 0.0
	for _, i := range idx {
		e := y[i] - f.a - f.b*x[i]
		rss += e * e
		den += e * e
		if i == prev+1 {
			num += e * prevE
		}
		prev, prevE = i, e
	}
	f.sigma2 = rss / float64(n-2)
	if syy > 0 {
		f.r2 = 1 - rss/syy
	}
	if den > 0 {
		f.rho = math.Max(0, math.Min(0.95, num/den))
	}
	return f, nil
}

// arSum is Var(Σ of T consecutive AR(1) errors) / σ²: T + 2 Σ_{k=1}^{T−1} (T − k) ρ^k.
func arSum(t int, rho float64) float64 {
	s := float64(t)
	p := 1.0
	for k := 1; k < t; k++ {
		p *= rho
		if p < 1e-12 {
			break
		}
		s += 2 * float64(t-k) * p
	}
	return s
}

// cumVar is the variance of the summed prediction errors over test days tdays:
// σ² [arSum(T, ρ) + T² (1/P + (x̄_T − x̄_P)²/Sxx) · (1 + ρ)/(1 − ρ)], the line's own
// uncertainty inflated by the autocorrelation (fewer effective pre-period days).
func (f linFit) cumVar(x []float64, tdays []int) float64 {
	t := len(tdays)
	if t == 0 {
		return 0
	}
	var xt float64
	for _, i := range tdays {
		xt += x[i]
	}
	xt /= float64(t)
	param := 1 / float64(f.n)
	if f.sxx > 0 {
		param += (xt - f.xbar) * (xt - f.xbar) / f.sxx
	}
	infl := (1 + f.rho) / (1 - f.rho)
	return f.sigma2 * (arSum(t, f.rho) + float64(t*t)*param*infl)
}

// df is the t distribution's degrees of freedom: the effective pre-period days minus 2.
func (f linFit) df() float64 {
	return math.Max(3, float64(f.n)*(1-f.rho)/(1+f.rho)-2)
}

func seqIdx(from, to int) []int {
	out := make([]int, 0, max(0, to-from))
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func checkSeries(dates []time.Time, series map[string][]float64) error {
	n := len(dates)
	for name, s := range series {
		if s == nil {
			continue
		}
		if len(s) != n {
			return fmt.Errorf("%s has %d values for %d days", name, len(s), n)
		}
		for i, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s on %s is not a number", name, dates[i].Format(time.DateOnly))
			}
		}
	}
	for i := 1; i < n; i++ {
		if g := civilDays(dates[i-1], dates[i]); g != 1 {
			return fmt.Errorf("days %s and %s are %d days apart: the series needs one row per day without gaps", dates[i-1].Format(time.DateOnly), dates[i].Format(time.DateOnly), g)
		}
	}
	return nil
}

// civilDays is the number of calendar days from a to b.
func civilDays(a, b time.Time) int {
	ya, ma, da := a.Date()
	yb, mb, db := b.Date()
	ta := time.Date(ya, ma, da, 0, 0, 0, 0, time.UTC)
	tb := time.Date(yb, mb, db, 0, 0, 0, 0, time.UTC)
	return int(math.Round(tb.Sub(ta).Hours() / 24))
}

// AnalyzeTBR reads a region test by time-based regression: fit treated = a + b·control on
// the pre-period, predict the treated group over the test from the control group, and
// sum the differences. The interval of the sum accounts for the residual spread, the
// line's own uncertainty and the residuals' day-to-day autocorrelation (AR(1)).
func AnalyzeTBR(in TBRInput) (GeoResult, error) {
	alpha := in.Alpha
	if alpha <= 0 || alpha >= 1 {
		alpha = DefaultAlpha
	}
	n := len(in.Dates)
	if err := checkSeries(in.Dates, map[string][]float64{"treated": in.Treated, "control": in.Control,
		"treated spend": in.TreatedSpend, "control spend": in.ControlSpend}); err != nil {
		return GeoResult{}, err
	}
	if in.TestStart < MinPreDays {
		return GeoResult{}, fmt.Errorf("the pre-period has %d days: a time-based regression needs at least %d days before the test", in.TestStart, MinPreDays)
	}
	if in.TestEnd > n {
		in.TestEnd = n
	}
	if in.TestEnd <= in.TestStart {
		return GeoResult{}, errors.New("the test has no days in the data")
	}
	r := GeoResult{Design: DesignRegions, Method: "time-based regression", Channel: in.Channel, Level: 1 - alpha,
		PreDays: in.TestStart, TestDays: in.TestEnd - in.TestStart,
		From: in.Dates[in.TestStart].Format(time.DateOnly), To: in.Dates[in.TestEnd-1].Format(time.DateOnly), Daily: []GeoDay{}}
	pre := seqIdx(0, in.TestStart)
	f, err := fitLine(in.Control, in.Treated, pre)
	if err != nil {
		return r, err
	}
	if !(f.sxx > 0) {
		return r, errors.New("the control group's response does not vary over the pre-period: nothing to predict the treated group from")
	}
	df := f.df()
	r.Fit = GeoFit{Intercept: f.a, Slope: f.b, ResidualSD: math.Sqrt(f.sigma2), R2: Num(f.r2), Autocorrelation: f.rho, DF: df}

	// Placebo: the same analysis on fake tests of the test's length inside the pre-period,
	// each fitted on the other pre-period days.
	r.Placebo = tbrPlacebo(in.Control, in.Treated, in.TestStart, r.TestDays, alpha)
	infl := 1.0
	if float64(r.Placebo.Inflation) > 1 {
		infl = float64(r.Placebo.Inflation)
	}

	tq := tQuantile(1-alpha/2, df)
	var cum, cf float64
	for s := in.TestStart; s < in.TestEnd; s++ {
		pred := f.a + f.b*in.Control[s]
		cum += in.Treated[s] - pred
		cf += pred
		half := tq * infl * math.Sqrt(f.cumVar(in.Control, seqIdx(in.TestStart, s+1)))
		r.Daily = append(r.Daily, GeoDay{Date: in.Dates[s].Format(time.DateOnly), Actual: Num(in.Treated[s]), Predicted: Num(pred),
			Cumulative: Num(cum), CumLow: Num(cum - half), CumHigh: Num(cum + half)})
	}
	se := infl * math.Sqrt(f.cumVar(in.Control, seqIdx(in.TestStart, in.TestEnd)))
	r.Incremental, r.Counterfactual = Num(cum), Num(cf)
	r.IncrementalLow, r.IncrementalHigh = Num(cum-tq*se), Num(cum+tq*se)
	r.PValue = Num(tTwoSided(cum/se, df))
	if se == 0 {
		r.PValue = nan
	}
	r.Significant = float64(r.IncrementalLow) > 0 || float64(r.IncrementalHigh) < 0
	r.Lift, r.LiftLow, r.LiftHigh = nan, nan, nan
	if cf > 0 {
		r.Lift, r.LiftLow, r.LiftHigh = Num(cum/cf), r.IncrementalLow/Num(cf), r.IncrementalHigh/Num(cf)
	}

	// The spend the test moved: the treated group's spend over the test minus what it
	// would have spent, predicted from the control group's spend by their pre-period
	// ratio (or, when the control group has no spend, the treated group's pre-period
	// daily mean).
	r.SpendChange = nan
	switch {
	case in.SpendChange != nil:
		r.SpendChange = Num(*in.SpendChange)
	case in.TreatedSpend != nil:
		var preT, preC, testT, testC float64
		for i := 0; i < in.TestStart; i++ {
			preT += in.TreatedSpend[i]
			if in.ControlSpend != nil {
				preC += in.ControlSpend[i]
			}
		}
		for i := in.TestStart; i < in.TestEnd; i++ {
			testT += in.TreatedSpend[i]
			if in.ControlSpend != nil {
				testC += in.ControlSpend[i]
			}
		}
		if preC > 0 && testC > 0 {
			r.SpendChange = Num(testT - testC*preT/preC)
		} else {
			r.SpendChange = Num(testT - preT/float64(in.TestStart)*float64(r.TestDays))
		}
	}
	r.setROAS()
	geoVerdict(&r, in.Unit)
	return r, nil
}

// setROAS divides the effect and its interval by the spend the test moved.
func (r *GeoResult) setROAS() {
	r.ROAS, r.ROASLow, r.ROASHigh = nan, nan, nan
	s := float64(r.SpendChange)
	if !r.SpendChange.Valid() || math.Abs(s) < 1e-9 {
		return
	}
	lo, hi := float64(r.IncrementalLow)/s, float64(r.IncrementalHigh)/s
	if lo > hi {
		lo, hi = hi, lo
	}
	r.ROAS, r.ROASLow, r.ROASHigh = Num(float64(r.Incremental)/s), Num(lo), Num(hi)
}

// tbrPlacebo analyses fake tests of length t inside the pre-period [0, pre): windows
// stepped by a week (a day for short tests), each predicted by a line fitted on the
// other pre-period days. Inflation is the root mean square z when it exceeds 1 with at
// least 8 windows: the pre-period itself says the model's intervals are too narrow.
func tbrPlacebo(x, y []float64, pre, t int, alpha float64) Placebo {
	p := Placebo{Rate: nan, RMSZ: nan, Inflation: 1}
	if t > pre/2 {
		t = pre / 2
	}
	if t < 1 || pre-t < MinPreDays-7 {
		p.Note = "the pre-period is too short for fake tests of this length"
		return p
	}
	step := 7
	if t < 7 {
		step = 1
	}
	var z2 float64
	for s := 0; s+t <= pre; s += step {
		var fitIdx []int
		for i := 0; i < pre; i++ {
			if i < s || i >= s+t {
				fitIdx = append(fitIdx, i)
			}
		}
		f, err := fitLine(x, y, fitIdx)
		if err != nil || !(f.sxx > 0) || !(f.sigma2 > 0) {
			continue
		}
		win := seqIdx(s, s+t)
		var cum float64
		for _, i := range win {
			cum += y[i] - f.a - f.b*x[i]
		}
		z := cum / math.Sqrt(f.cumVar(x, win))
		p.Windows++
		zn := normalScore(z, f.df())
		z2 += zn * zn
		if math.Abs(z) > tQuantile(1-alpha/2, f.df()) {
			p.FalseAlarms++
		}
	}
	if p.Windows == 0 {
		p.Note = "no fake test could be fitted"
		return p
	}
	p.Rate = Num(float64(p.FalseAlarms) / float64(p.Windows))
	p.RMSZ = Num(math.Sqrt(z2 / float64(p.Windows)))
	p.widen(step, t, "pre-period")
	return p
}

// normalScore maps a t statistic with df degrees of freedom to the standard normal value
// with the same tail probability, so that fake tests' scores are N(0, 1) when the model
// holds whatever their degrees of freedom (a t with 5 has E[t²] = 5/3).
func normalScore(t, df float64) float64 {
	p := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(t)
	p = math.Max(1e-12, math.Min(1-1e-12, p))
	return zQuantile(p)
}

// widen sets the inflation when the fake tests' mean z² is beyond what chance gives:
// above the 95th percentile of χ²_m/m, m the number of non-overlapping fake tests the
// overlapping ones are worth (windows × step / length). A model that is right is then
// left alone 95 % of the time; one whose errors are bigger than it thinks is caught.
func (p *Placebo) widen(step, length int, where string) {
	m := math.Max(1, math.Floor(float64(p.Windows*step)/float64(length)))
	z2 := float64(p.RMSZ) * float64(p.RMSZ)
	if p.Windows < placeboMinWindows || z2 <= distuvChi2Quantile(0.95, m)/m {
		return
	}
	p.Inflation = p.RMSZ
	p.Note = fmt.Sprintf("fake tests in the %s varied %.2f times as much as the model expects: the intervals are widened by that factor", where, float64(p.RMSZ))
}

// placeboMinWindows is the number of fake tests from which their spread may widen the
// intervals.
var placeboMinWindows = 8

// SwitchbackInput is a switchback test's data: the shop's response and the channel's
// spend per day over consecutive days, and for the test days whether the channel ran.
// Days before TestStart are history for the placebo check.
type SwitchbackInput struct {
	Dates              []time.Time
	Response           []float64
	Spend              []float64 // optional: then SpendPerDay must be given
	On                 []bool    // per day; only [TestStart, TestEnd) is read
	TestStart, TestEnd int
	Washout            int // days after each switch left out (the channel's effect carrying over)
	// PeriodDays is the schedule's period: each run of the same state is cut into periods
	// of this many days from TestStart. 0: each run is one period.
	PeriodDays int
	Alpha      float64
	Channel    string
	Unit       string
	// SpendPerDay overrides the spend difference between on and off days.
	SpendPerDay *float64
}

type period struct {
	on         bool
	first, end int     // days [first, end) of the period
	kept       []int   // days after the washout
	mean       float64 // response per kept day
	spend      float64 // spend per kept day
	center     float64
}

// periods cuts [from, to) into runs of the same state, each cut again every periodDays
// days from from when periodDays > 0 (the schedule's periods: two on weeks in a row are
// two periods), and drops the first washout days of each: of every period, not only those
// after a switch, so that every period of a week keeps the same weekdays.
func periods(on []bool, from, to, washout, periodDays int) []period {
	var out []period
	for i := from; i < to; {
		j := i + 1
		for j < to && on[j] == on[i] && (periodDays <= 0 || (j-from)%periodDays != 0) {
			j++
		}
		p := period{on: on[i], first: i, end: j}
		for d := i + washout; d < j; d++ {
			p.kept = append(p.kept, d)
		}
		if len(p.kept) > 0 {
			out = append(out, p)
		}
		i = j
	}
	return out
}

// sbFit is a switchback regression: period means on an intercept, a quadratic trend in
// the period's centre day and the on/off state; the state's coefficient is the effect per
// day.
type sbFit struct {
	effect, se, df, sigma, offMean float64
	// trend: the coefficients of 1, x and x² for x = (day − t0) / scale.
	trend     [3]float64
	t0, scale float64
	k         int
}

// level is the fitted response per day without the channel's effect.
func (f sbFit) level(day float64) float64 {
	x := (day - f.t0) / f.scale
	return f.trend[0] + f.trend[1]*x + f.trend[2]*x*x
}

// sbParams is the number of coefficients of the switchback regression: intercept, linear
// and quadratic trend, on/off.
const sbParams = 4

// sbDesign is the switchback regression's design: one row per period, [1, x, x², on] with
// x the period's centre day centred on the periods' mean centre and scaled by their
// spread (so that x² is on the same footing as x). It returns (XᵀX)⁻¹ and the centring.
func sbDesign(ps []period) (x *mat.Dense, inv *mat.Dense, t0, scale float64, ok bool) {
	k := len(ps)
	for _, p := range ps {
		t0 += p.center
	}
	t0 /= float64(k)
	for _, p := range ps {
		scale += (p.center - t0) * (p.center - t0)
	}
	scale = math.Sqrt(scale / float64(k))
	if !(scale > 0) {
		return nil, nil, t0, 1, false
	}
	x = mat.NewDense(k, sbParams, nil)
	for i, p := range ps {
		c := (p.center - t0) / scale
		x.SetRow(i, []float64{1, c, c * c, b2f(p.on)})
	}
	var xtx mat.Dense
	xtx.Mul(x.T(), x)
	inv = mat.NewDense(sbParams, sbParams, nil)
	if err := inv.Inverse(&xtx); err != nil {
		return nil, nil, t0, scale, false
	}
	return x, inv, t0, scale, true
}

// periodMeans sets each period's mean response, spend and centre over its kept days.
func periodMeans(ps []period, resp, spend []float64) {
	for i := range ps {
		var s, sp, c float64
		for _, d := range ps[i].kept {
			s += resp[d]
			if spend != nil {
				sp += spend[d]
			}
			c += float64(d)
		}
		nk := float64(len(ps[i].kept))
		ps[i].mean, ps[i].spend, ps[i].center = s/nk, sp/nk, c/nk
	}
}

// sbMinPeriods is the fewest periods a switchback regression takes: two degrees of
// freedom for the spread around the trend.
const sbMinPeriods = sbParams + 2

func fitSwitchback(ps []period, resp, spend []float64) (sbFit, error) {
	k := len(ps)
	periodMeans(ps, resp, spend)
	nOn := 0
	for _, p := range ps {
		if p.on {
			nOn++
		}
	}
	if nOn < 2 || k-nOn < 2 || k < sbMinPeriods {
		return sbFit{k: k}, fmt.Errorf("%d on and %d off periods: a switchback needs at least 2 of each and %d in all to tell the channel from a bending trend", nOn, k-nOn, sbMinPeriods)
	}
	x, inv, t0, scale, ok := sbDesign(ps)
	if !ok {
		return sbFit{k: k}, errors.New("the on/off schedule cannot be told apart from the trend")
	}
	y := mat.NewVecDense(k, nil)
	for i, p := range ps {
		y.SetVec(i, p.mean)
	}
	var xty, beta mat.VecDense
	xty.MulVec(x.T(), y)
	beta.MulVec(inv, &xty)
	var rss, offSum float64
	off := 0
	for i, p := range ps {
		var fit float64
		for a := range sbParams {
			fit += x.At(i, a) * beta.AtVec(a)
		}
		e := p.mean - fit
		rss += e * e
		if !p.on {
			offSum += p.mean
			off++
		}
	}
	df := float64(k - sbParams)
	s2 := rss / df
	f := sbFit{effect: beta.AtVec(3), se: math.Sqrt(s2 * inv.At(3, 3)), df: df, sigma: math.Sqrt(s2),
		t0: t0, scale: scale, offMean: offSum / float64(off), k: k}
	for a := range 3 {
		f.trend[a] = beta.AtVec(a)
	}
	return f, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// AnalyzeSwitchback reads an on/off test of one channel over the whole shop: the mean
// response per day of each period (after its washout days) regressed on a quadratic trend
// and the on/off state. The state's coefficient is the channel's effect per day; times
// the on days it is the test's incremental response, and divided by the spend per day
// the switching moved it is the ROAS. Intervals use Student's t with periods − 4 degrees
// of freedom.
func AnalyzeSwitchback(in SwitchbackInput) (GeoResult, error) {
	alpha := in.Alpha
	if alpha <= 0 || alpha >= 1 {
		alpha = DefaultAlpha
	}
	n := len(in.Dates)
	if err := checkSeries(in.Dates, map[string][]float64{"response": in.Response, "spend": in.Spend}); err != nil {
		return GeoResult{}, err
	}
	if len(in.On) != n {
		return GeoResult{}, fmt.Errorf("on/off has %d values for %d days", len(in.On), n)
	}
	if in.TestEnd > n {
		in.TestEnd = n
	}
	if in.TestStart < 0 || in.TestEnd <= in.TestStart {
		return GeoResult{}, errors.New("the test has no days in the data")
	}
	if in.Washout < 0 {
		in.Washout = 0
	}
	r := GeoResult{Design: DesignSwitchback, Method: "switchback regression (period means on a quadratic trend and on/off)", Channel: in.Channel,
		Level: 1 - alpha, PreDays: in.TestStart, TestDays: in.TestEnd - in.TestStart,
		From: in.Dates[in.TestStart].Format(time.DateOnly), To: in.Dates[in.TestEnd-1].Format(time.DateOnly), Daily: []GeoDay{}}
	ps := periods(in.On, in.TestStart, in.TestEnd, in.Washout, in.PeriodDays)
	r.Periods = len(ps)
	f, err := fitSwitchback(ps, in.Response, in.Spend)
	if err != nil {
		return r, err
	}
	r.Fit = GeoFit{Intercept: f.trend[0], Slope: f.trend[1] / f.scale, ResidualSD: f.sigma, R2: nan, DF: f.df}
	r.Placebo = switchbackPlacebo(in, alpha)
	infl := 1.0
	if float64(r.Placebo.Inflation) > 1 {
		infl = float64(r.Placebo.Inflation)
	}
	onDays := 0
	for d := in.TestStart; d < in.TestEnd; d++ {
		if in.On[d] {
			onDays++
		}
	}
	se := f.se * infl
	tq := tQuantile(1-alpha/2, f.df)
	od := float64(onDays)
	r.Incremental = Num(f.effect * od)
	r.IncrementalLow, r.IncrementalHigh = Num((f.effect-tq*se)*od), Num((f.effect+tq*se)*od)
	r.PValue = nan
	if se > 0 {
		r.PValue = Num(tTwoSided(f.effect/se, f.df))
	}
	r.Significant = float64(r.IncrementalLow) > 0 || float64(r.IncrementalHigh) < 0
	base := f.offMean
	r.Counterfactual = Num(base * od)
	r.Lift, r.LiftLow, r.LiftHigh = nan, nan, nan
	if base > 0 {
		r.Lift, r.LiftLow, r.LiftHigh = Num(f.effect/base), Num((f.effect-tq*se)/base), Num((f.effect+tq*se)/base)
	}
	// The spend per day the switching moved: mean spend of the kept on days minus the kept
	// off days.
	r.SpendChange = nan
	if in.SpendPerDay != nil {
		r.SpendChange = Num(*in.SpendPerDay * od)
	} else if in.Spend != nil {
		var son, soff float64
		var non, noff int
		for _, p := range ps {
			for _, d := range p.kept {
				if p.on {
					son += in.Spend[d]
					non++
				} else {
					soff += in.Spend[d]
					noff++
				}
			}
		}
		r.SpendChange = Num((son/float64(non) - soff/float64(noff)) * od)
	}
	r.setROAS()
	// Chart: each test day's response, the fitted off-level (trend) as the prediction, and
	// the cumulative effect of the on days so far.
	var cumOn int
	for d := in.TestStart; d < in.TestEnd; d++ {
		on := in.On[d]
		if on {
			cumOn++
		}
		c := float64(cumOn)
		r.Daily = append(r.Daily, GeoDay{Date: in.Dates[d].Format(time.DateOnly), Actual: Num(in.Response[d]),
			Predicted: Num(f.level(float64(d))), Cumulative: Num(f.effect * c),
			CumLow: Num((f.effect - tq*se) * c), CumHigh: Num((f.effect + tq*se) * c), On: &on})
	}
	if in.Washout > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the first %d day(s) of each period are left out: the channel's effect carries over after a switch", in.Washout))
	}
	geoVerdict(&r, in.Unit)
	return r, nil
}

// switchbackPlacebo repeats the test's schedule on the history before it, shifted back by
// whole weeks, where the channel ran as usual: the effect there is zero.
func switchbackPlacebo(in SwitchbackInput, alpha float64) Placebo {
	t := in.TestEnd - in.TestStart
	if in.TestStart < t {
		p := Placebo{Rate: nan, RMSZ: nan, Inflation: 1}
		p.Note = fmt.Sprintf("the history before the test (%d days) is shorter than the test (%d days): no fake tests", in.TestStart, t)
		return p
	}
	p, _ := slideSchedule(in.Response, in.On[in.TestStart:in.TestEnd], in.TestStart-7*((t+6)/7), in.Washout, in.PeriodDays, alpha)
	return p
}

// slideSchedule analyses the on/off pattern placed on resp at days last, last − 7, … ≥ 0
// (where nothing was switched) and counts the fake tests' false alarms; it also returns
// the root mean square of their standard errors, what such a test would report.
func slideSchedule(resp []float64, pattern []bool, last, washout, periodDays int, alpha float64) (Placebo, float64) {
	p := Placebo{Rate: nan, RMSZ: nan, Inflation: 1}
	t := len(pattern)
	var z2, se2 float64
	for s := last; s >= 0; s -= 7 {
		if s+t > len(resp) {
			continue
		}
		on := make([]bool, len(resp))
		copy(on[s:], pattern)
		ps := periods(on, s, s+t, washout, periodDays)
		f, err := fitSwitchback(ps, resp, nil)
		if err != nil || !(f.se > 0) {
			continue
		}
		z := f.effect / f.se
		p.Windows++
		zn := normalScore(z, f.df)
		z2 += zn * zn
		se2 += f.se * f.se
		if math.Abs(z) > tQuantile(1-alpha/2, f.df) {
			p.FalseAlarms++
		}
	}
	if p.Windows == 0 {
		p.Note = "no fake test could be fitted"
		return p, 0
	}
	p.Rate = Num(float64(p.FalseAlarms) / float64(p.Windows))
	p.RMSZ = Num(math.Sqrt(z2 / float64(p.Windows)))
	p.widen(7, t, "history")
	return p, math.Sqrt(se2 / float64(p.Windows))
}

// geoVerdict says the result in plain words.
func geoVerdict(r *GeoResult, unit string) {
	ch := r.Channel
	if ch == "" {
		ch = "the channel"
	}
	level := pct(r.Level, false)
	effect := fmt.Sprintf("%s over %d days (%s CI %s to %s)", amount(float64(r.Incremental), unit), r.TestDays, level,
		amount(float64(r.IncrementalLow), unit), amount(float64(r.IncrementalHigh), unit))
	if r.Design == DesignRegions {
		effect = "the treated regions' sales moved " + effect
	} else {
		effect = "the days it ran added " + effect
	}
	roas := ""
	if r.ROAS.Valid() {
		roas = fmt.Sprintf("%s returns %.2f per unit of spend (%s CI %.2f to %.2f)", ch, float64(r.ROAS), level, float64(r.ROASLow), float64(r.ROASHigh))
	}
	if r.Significant {
		r.VerdictKind = VerdictEffect
		r.Verdict = effect
		if roas != "" {
			r.Verdict = roas + ": " + effect
		}
	} else {
		r.VerdictKind = VerdictNoEffect
		lo, hi := float64(r.ROASLow), float64(r.ROASHigh)
		switch {
		case roas != "" && lo < 1 && hi > 1:
			// The interval holds both a channel that loses money and one that pays: the
			// test cannot tell which.
			r.Verdict = fmt.Sprintf("the test cannot tell whether %s pays for itself: its return is somewhere between %.2f and %.2f per unit of spend (%s CI); %s", ch, lo, hi, level, effect)
		case roas != "":
			r.Verdict = fmt.Sprintf("no measurable effect: %s; %s's return is between %.2f and %.2f per unit of spend", effect, ch, lo, hi)
		default:
			r.Verdict = "no measurable effect: " + effect
		}
	}
	if r.Placebo.Windows > 0 && float64(r.Placebo.Inflation) > 1 {
		r.Verdict += fmt.Sprintf(" (intervals widened ×%.2f by the placebo check)", float64(r.Placebo.Inflation))
	}
}

// amount writes a signed whole amount: "EUR −2,160" for a currency, "+38 orders" else.
func amount(x float64, unit string) string {
	n := int64(math.Round(x))
	s := money.Count(n)
	if n >= 0 {
		s = "+" + s
	}
	switch {
	case unit == "":
		return s
	case len(unit) == 3 && strings.ToUpper(unit) == unit:
		return unit + " " + s
	}
	return s + " " + unit
}
