package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MetricType says how a metric's values are read: a mean of any values (revenue, orders,
// event counts per unit) or a proportion of 0/1 values (converted or not).
type MetricType string

const (
	Mean       MetricType = "mean"
	Proportion MetricType = "proportion"
)

// Defaults, as GrowthBook's stats engine has them where it has one.
const (
	DefaultAlpha        = 0.05
	DefaultPower        = 0.80
	DefaultMDE          = 0.10  // the relative lift a "need more units" estimate aims at
	DefaultMinSample    = 150   // units per arm before any verdict
	DefaultMinDays      = 3     // days of running before any verdict
	DefaultSRMThreshold = 0.001 // SRM p-value below which the verdict is blocked
	DefaultSRMMinUnits  = 8     // units in all before the SRM check runs
	DefaultTuning       = 5000  // sequential n*: total units at which the interval is tightest
)

// Arm is one variant's data: its units' moments and its planned weight.
type Arm struct {
	Name    string
	Weight  float64 // planned share, any positive scale; all zero means equal
	Moments Moments
}

// Options tune an analysis; the zero value takes every default.
type Options struct {
	Type    MetricType // default Mean
	Control string     // default: the arm named "control", else the first
	Alpha   float64    // default 0.05

	CUPED bool // adjust by the covariate X (pre-period value) when it varies

	// Sequential makes intervals and p-values always valid, so the test may be read
	// every day; Tuning is the total units at which they are tightest.
	Sequential bool
	Tuning     float64

	MinSample    int     // default 150
	MinDays      int     // default 3
	Days         float64 // how long the test has run; 0: unknown (a CSV has no dates)
	SRMThreshold float64 // default 0.001
	SRMMinUnits  int     // default 8

	MDE   float64 // relative lift a "need more" estimate aims at; default 0.10
	Power float64 // default 0.8

	MetricLabel string // "revenue per visitor"; default from Type
	UnitLabel   string // "visitors"; default "units"
}

func (o *Options) defaults() {
	if o.Type == "" {
		o.Type = Mean
	}
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = DefaultAlpha
	}
	if o.Tuning <= 0 {
		o.Tuning = DefaultTuning
	}
	if o.MinSample <= 0 {
		o.MinSample = DefaultMinSample
	}
	if o.MinDays <= 0 {
		o.MinDays = DefaultMinDays
	}
	if o.SRMThreshold <= 0 {
		o.SRMThreshold = DefaultSRMThreshold
	}
	if o.SRMMinUnits <= 0 {
		o.SRMMinUnits = DefaultSRMMinUnits
	}
	if o.MDE <= 0 {
		o.MDE = DefaultMDE
	}
	if o.Power <= 0 || o.Power >= 1 {
		o.Power = DefaultPower
	}
	if o.MetricLabel == "" {
		o.MetricLabel = "value per unit"
		if o.Type == Proportion {
			o.MetricLabel = "conversion"
		}
	}
	if o.UnitLabel == "" {
		o.UnitLabel = "units"
	}
}

// Num is a number that is null in JSON when it is not finite (a comparison of control
// with itself, a lift over a zero mean).
type Num float64

func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// Valid reports whether n is a finite number.
func (n Num) Valid() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// VariantResult is one arm compared with control. Lift and Diff are CUPED-adjusted when
// CUPED applies; Mean is the observed mean. Intervals are 1 − α (Bonferroni-adjusted
// across variants) and always valid when the analysis is sequential; P is adjusted the
// same way. Control's comparison fields are null.
type VariantResult struct {
	Variant         string `json:"variant"`
	N               int64  `json:"n"`
	Mean            Num    `json:"mean"`
	Lift            Num    `json:"lift"`
	LiftLow         Num    `json:"lift_low"`
	LiftHigh        Num    `json:"lift_high"`
	Diff            Num    `json:"diff"`
	DiffLow         Num    `json:"diff_low"`
	DiffHigh        Num    `json:"diff_high"`
	PValue          Num    `json:"p_value"`
	ProbBeatControl Num    `json:"prob_beat_control"`
	ExpectedLoss    Num    `json:"expected_loss"` // E[max(control − variant, 0)] / control mean
	SD              Num    `json:"sd"`
	Share           Num    `json:"share"`         // observed share of units
	PlannedShare    Num    `json:"planned_share"` // from the weights
	AdjustedMean    Num    `json:"adjusted_mean"` // the mean the comparison uses (CUPED)
	Significant     bool   `json:"significant"`   // p < α and the intervals exclude 0
	Verdict         string `json:"verdict"`       // this variant against control, plain words
	Control         bool   `json:"control,omitempty"`
}

// CUPEDResult reports the covariate adjustment.
type CUPEDResult struct {
	Applied           bool   `json:"applied"`
	VarianceReduction Num    `json:"variance_reduction"` // 1 − Var(adjusted)/Var(raw), within arms
	Theta             Num    `json:"theta"`
	Why               string `json:"why,omitempty"` // why it was not applied
}

// Correction says how the variants' intervals and p-values were adjusted.
type Correction struct {
	Method      string `json:"method"` // "bonferroni", or "none" with one comparison
	Comparisons int    `json:"comparisons"`
}

// Verdict kinds.
const (
	VerdictSRM          = "srm"           // stop: sample ratio mismatch
	VerdictTooEarly     = "too_early"     // below the minimum sample or run
	VerdictWinner       = "winner"        // a variant is significantly better
	VerdictLoser        = "loser"         // every significant variant is worse
	VerdictNoDifference = "no_difference" // enough data, no difference worth the name
	VerdictNotYet       = "not_yet"       // no difference yet, more units could find one
)

// Verdict is the analysis in plain words.
type Verdict struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// MoreUnits is how many more units per arm the test needs to detect the MDE (not_yet).
	MoreUnits int64 `json:"more_units_per_arm,omitempty"`
}

// Result is a whole analysis. The JSON is the `omniroi experiment analyze --format json`
// contract: variants (lift relative to control, 95 % intervals), srm_p_value, cuped.
type Result struct {
	Variants   []VariantResult `json:"variants"`
	SRMPValue  Num             `json:"srm_p_value"`
	CUPED      CUPEDResult     `json:"cuped"`
	Control    string          `json:"control"`
	MetricType MetricType      `json:"metric_type"`
	Alpha      float64         `json:"alpha"`
	Sequential bool            `json:"sequential"`
	Correction Correction      `json:"correction"`
	Verdict    Verdict         `json:"verdict"`
}

// Analyze compares every arm with control.
func Analyze(arms []Arm, opt Options) (Result, error) {
	opt.defaults()
	if len(arms) < 2 {
		return Result{}, fmt.Errorf("an experiment needs at least two variants, got %d", len(arms))
	}
	ci := -1
	seen := map[string]bool{}
	for i, a := range arms {
		if a.Name == "" {
			return Result{}, errors.New("a variant has no name")
		}
		if seen[a.Name] {
			return Result{}, fmt.Errorf("variant %q appears twice", a.Name)
		}
		seen[a.Name] = true
		if a.Weight < 0 {
			return Result{}, fmt.Errorf("variant %q has a negative weight", a.Name)
		}
		if opt.Control != "" && a.Name == opt.Control {
			ci = i
		}
	}
	if opt.Control != "" && ci < 0 {
		names := make([]string, len(arms))
		for i, a := range arms {
			names[i] = a.Name
		}
		return Result{}, fmt.Errorf("control %q is not a variant (variants: %s)", opt.Control, strings.Join(names, ", "))
	}
	if ci < 0 {
		ci = 0
		for i, a := range arms {
			if strings.EqualFold(a.Name, "control") {
				ci = i
				break
			}
		}
	}
	ctl := arms[ci]
	m := len(arms) - 1
	res := Result{Control: ctl.Name, MetricType: opt.Type, Alpha: opt.Alpha, Sequential: opt.Sequential,
		Correction: Correction{Method: "none", Comparisons: m}}
	if m > 1 {
		res.Correction.Method = "bonferroni"
	}
	alpha := opt.Alpha / float64(m)

	// Sample ratio.
	var total float64
	obs := make([]float64, len(arms))
	w := make([]float64, len(arms))
	var wsum float64
	for i, a := range arms {
		obs[i] = a.Moments.N
		total += a.Moments.N
		w[i] = a.Weight
		wsum += a.Weight
	}
	if wsum == 0 {
		for i := range w {
			w[i] = 1
		}
		wsum = float64(len(w))
	}
	res.SRMPValue = Num(math.NaN())
	if total >= float64(opt.SRMMinUnits) {
		res.SRMPValue = Num(SRMPValue(obs, w))
	}

	// CUPED: one slope for all arms, from the within-arm covariance (a regression with an
	// intercept per arm), so randomisation keeps the adjusted difference unbiased.
	theta, poolX := 0.0, 0.0
	res.CUPED = CUPEDResult{VarianceReduction: Num(math.NaN()), Theta: Num(math.NaN())}
	if opt.CUPED {
		var sxx, sxy, syy, nx float64
		for _, a := range arms {
			sxx += a.Moments.M2X
			sxy += a.Moments.CXY
			syy += a.Moments.M2Y
			nx += a.Moments.N
			poolX += a.Moments.MeanX * a.Moments.N
		}
		switch {
		case nx == 0:
			res.CUPED.Why = "no units"
		case sxx <= 0:
			res.CUPED.Why = "the pre-period value is the same for every unit"
		case syy <= 0:
			res.CUPED.Why = "the metric is the same for every unit"
		default:
			poolX /= nx
			theta = sxy / sxx
			var ssAdj float64
			for _, a := range arms {
				_, v := a.Moments.adjusted(theta, poolX)
				if a.Moments.N >= 2 {
					ssAdj += v * (a.Moments.N - 1)
				}
			}
			res.CUPED = CUPEDResult{Applied: true, Theta: Num(theta), VarianceReduction: Num(1 - ssAdj/syy)}
		}
	}

	cm, cv := ctl.Moments.adjusted(theta, poolX)
	cn := ctl.Moments.N
	for i, a := range arms {
		am, av := a.Moments.adjusted(theta, poolX)
		vr := VariantResult{
			Variant: a.Name, N: int64(a.Moments.N), Mean: Num(a.Moments.MeanY), AdjustedMean: Num(am),
			SD: Num(math.Sqrt(a.Moments.VarY())), Share: Num(a.Moments.N / total), PlannedShare: Num(w[i] / wsum),
			Lift: nan, LiftLow: nan, LiftHigh: nan, Diff: nan, DiffLow: nan, DiffHigh: nan,
			PValue: nan, ProbBeatControl: nan, ExpectedLoss: nan,
		}
		if total == 0 {
			vr.Share = nan
		}
		if a.Moments.N == 0 {
			vr.Mean, vr.AdjustedMean = nan, nan
		}
		if i == ci {
			vr.Control = true
			res.Variants = append(res.Variants, vr)
			continue
		}
		an := a.Moments.N
		if an >= 2 && cn >= 2 {
			d := welch(cm, cv, cn, am, av, an)
			interval := func(e estimate) (lo, hi, p float64) { return fixedInterval(e, alpha) }
			if opt.Sequential {
				rho2 := seqRho2(opt.Tuning, alpha)
				interval = func(e estimate) (lo, hi, p float64) { return seqInterval(e, cn+an, rho2, alpha) }
			}
			dlo, dhi, p := interval(d)
			lift, llo, lhi := liftInterval(cm, cv, cn, am, av, an, func(e estimate) (float64, float64) {
				lo, hi, _ := interval(e)
				return lo, hi
			})
			vr.Diff, vr.DiffLow, vr.DiffHigh = Num(d.Est), Num(dlo), Num(dhi)
			vr.Lift, vr.LiftLow, vr.LiftHigh = Num(lift), Num(llo), Num(lhi)
			vr.PValue = Num(math.Min(1, p*float64(m)))
			excl := func(lo, hi float64) bool { return lo > 0 || hi < 0 }
			vr.Significant = p*float64(m) < opt.Alpha && excl(dlo, dhi) && (math.IsNaN(lift) || excl(llo, lhi))
			var b bayesResult
			if opt.Type == Proportion && !res.CUPED.Applied {
				ck := math.Round(ctl.Moments.MeanY * cn)
				ak := math.Round(a.Moments.MeanY * an)
				b = bayesBeta(1+ck, 1+cn-ck, 1+ak, 1+an-ak)
			} else {
				b = bayesNormal(d.Est, d.SE, cm)
			}
			vr.ProbBeatControl, vr.ExpectedLoss = Num(b.ProbBeat), Num(b.ExpectedLoss)
		}
		res.Variants = append(res.Variants, vr)
	}
	res.Verdict = verdict(&res, arms, ci, cm, theta, poolX, opt)
	return res, nil
}

var nan = Num(math.NaN())
