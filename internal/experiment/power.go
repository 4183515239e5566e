package experiment

import (
	"errors"
	"fmt"
	"math"
)

// PlanInput describes a planned test: the metric's baseline per unit (from the shop's
// own history or a running test's control), the traffic and the effect worth finding.
type PlanInput struct {
	Mean        float64 // baseline mean per unit (a rate for proportions)
	SD          float64 // standard deviation per unit; sqrt(p(1−p)) for a rate
	UnitsPerDay float64 // new units entering the test per day, all arms together
	Arms        int     // variants including control; default 2
	MDE         float64 // the smallest relative lift worth detecting; default 0.10
	Alpha       float64 // default 0.05 (Bonferroni-split over Arms − 1 comparisons)
	Power       float64 // default 0.80
	Sequential  bool    // size for the always-valid (sequential) interval
	Tuning      float64 // sequential tuning n* (total units); NewPlan's default: the plan's own total
	MinDays     int     // default DefaultMinDays
}

// Plan is how much a test needs.
type Plan struct {
	PerArm  int64   `json:"units_per_arm"`
	Total   int64   `json:"units_total"`
	Days    int     `json:"days"` // 0 when the traffic is unknown
	MDE     float64 `json:"mde"`
	Arms    int     `json:"arms"`
	Alpha   float64 `json:"alpha"`
	Power   float64 `json:"power"`
	Seq     bool    `json:"sequential"`
	Tuning  float64 `json:"tuning,omitempty"` // sequential n*: total units the interval is tuned to
	TooWeak bool    `json:"too_weak"`         // more than MaxPlanDays of traffic
}

// MaxPlanDays is the longest test worth proposing: beyond a quarter, seasons and the
// shop itself change under the test.
const MaxPlanDays = 90

func (in *PlanInput) defaults() {
	if in.Arms < 2 {
		in.Arms = 2
	}
	if in.MDE <= 0 {
		in.MDE = DefaultMDE
	}
	if in.Alpha <= 0 {
		in.Alpha = DefaultAlpha
	}
	if in.Power <= 0 {
		in.Power = DefaultPower
	}
	if in.Tuning <= 0 {
		in.Tuning = DefaultTuning
	}
	if in.MinDays <= 0 {
		in.MinDays = DefaultMinDays
	}
}

// SampleSize is the number of units per arm a two-sided test at level alpha/(arms−1)
// needs to detect a relative lift MDE with the given power:
//
//	fixed horizon: n = 2 (z_{1−α'/2} + z_{power})² σ² / (MDE·μ)²
//	sequential:    the smallest n with MDE·μ ≥ σ·sqrt(2/n) · (c(2n) + z_{power}),
//
// c being the always-valid interval's multiplier (seqMultiplier).
func SampleSize(in PlanInput) (float64, error) {
	in.defaults()
	if !(in.Mean > 0) || !(in.SD > 0) {
		return math.NaN(), errors.New("the baseline needs a positive mean and standard deviation")
	}
	a := in.Alpha / float64(in.Arms-1)
	zb := zQuantile(in.Power)
	delta := in.MDE * in.Mean
	if !in.Sequential {
		z := zQuantile(1-a/2) + zb
		return 2 * z * z * in.SD * in.SD / (delta * delta), nil
	}
	rho2 := seqRho2(in.Tuning, a)
	enough := func(n float64) bool {
		return delta >= in.SD*math.Sqrt(2/n)*(seqMultiplier(2*n, rho2, a)+zb)
	}
	lo, hi := 1.0, 2.0
	for !enough(hi) {
		lo, hi = hi, hi*2
		if hi > 1e12 {
			return math.Inf(1), nil
		}
	}
	for hi-lo > 0.5 {
		mid := (lo + hi) / 2
		if enough(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// MDEFor is the smallest relative lift a test with perArm units per arm detects with the
// given power (fixed horizon, or sequential when in.Sequential).
func MDEFor(in PlanInput, perArm float64) float64 {
	in.defaults()
	if !(in.Mean > 0) || !(perArm > 1) {
		return math.NaN()
	}
	a := in.Alpha / float64(in.Arms-1)
	c := zQuantile(1 - a/2)
	if in.Sequential {
		c = seqMultiplier(2*perArm, seqRho2(in.Tuning, a), a)
	}
	return (c + zQuantile(in.Power)) * in.SD * math.Sqrt(2/perArm) / in.Mean
}

// NewPlan sizes a test and, with the traffic known, says how many days it takes. A
// sequential plan without a Tuning is tuned to its own total: the always-valid interval
// is then narrowest when the test reaches its planned size.
func NewPlan(in PlanInput) (Plan, error) {
	if in.Sequential && in.Tuning <= 0 {
		fixed := in
		fixed.Sequential = false
		n, err := SampleSize(fixed)
		if err != nil {
			return Plan{}, err
		}
		in.Tuning = math.Max(2, float64(max(in.Arms, 2))*n)
		for range 4 { // a fixed point: the total the tuning asks for
			if n, err = SampleSize(in); err != nil || math.IsInf(n, 1) {
				break
			}
			in.Tuning = float64(max(in.Arms, 2)) * n
		}
	}
	in.defaults()
	n, err := SampleSize(in)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{MDE: in.MDE, Arms: in.Arms, Alpha: in.Alpha, Power: in.Power, Seq: in.Sequential}
	if in.Sequential {
		p.Tuning = in.Tuning
	}
	if math.IsInf(n, 1) {
		p.TooWeak = true
		return p, nil
	}
	p.PerArm = int64(math.Ceil(n))
	p.Total = p.PerArm * int64(in.Arms)
	if in.UnitsPerDay > 0 {
		d := math.Ceil(float64(p.Total) / in.UnitsPerDay)
		p.Days = int(math.Max(d, float64(in.MinDays)))
		if d > MaxPlanDays {
			p.Days = int(math.Min(d, 1e6))
			p.TooWeak = true
		}
	}
	return p, nil
}

// Text says the plan in plain words.
func (p Plan) Text(unit string) string {
	if unit == "" {
		unit = "units"
	}
	lift := fmt.Sprintf("a %s lift", pct(p.MDE, false))
	switch {
	case p.Days > 0 && p.TooWeak:
		return fmt.Sprintf("too weak to be worth running: with your traffic this test needs %d days (%s %s per arm) to detect %s; test a bigger change or a busier page",
			p.Days, about(float64(p.PerArm)), unit, lift)
	case p.Days > 0:
		return fmt.Sprintf("with your traffic this test needs %d days (%s %s per arm) to detect %s", p.Days, about(float64(p.PerArm)), unit, lift)
	case p.TooWeak:
		return "too weak to be worth running: no sample size detects " + lift
	}
	return fmt.Sprintf("this test needs %s %s per arm to detect %s", about(float64(p.PerArm)), unit, lift)
}
