package experiment

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Planning an ad-channel test from the shop's own daily history: which design (region
// groups or switchback weeks), how long, and the smallest effect it would detect — as a
// lift in revenue and as a return per unit of spend (ROAS). A test that cannot detect the
// return worth knowing about (TargetROAS) within MaxGeoDays is too weak to be worth
// running, and the plan says so.

// Defaults of a geo plan.
const (
	DefaultTargetROAS = 2.0 // the smallest return worth proving
	DefaultPeriodDays = 7   // switchback period: a week, so every weekday is in every period
	DefaultWashout    = 1   // days left out after each switch
	MaxGeoDays        = 84  // the longest test proposed: 12 weeks
	GeoHistoryDays    = 182 // history read for planning and as a pre-period

)

// GeoPlanOptions tune a plan.
type GeoPlanOptions struct {
	Channel     string
	SpendPerDay float64 // the channel's spend per day (all regions), in the response's money
	Design      string  // "" (both), regions or switchback
	TargetROAS  float64 // default 2
	Alpha       float64 // default 0.05
	Power       float64 // default 0.8
	Seed        string  // names the random region split (the experiment's name)
	PeriodDays  int     // switchback period, default 7
	Washout     int     // default 1; -1 for none
	Unit        string  // "EUR", "orders": for the text
	// Treated and Control fix the region split (a stored test's); empty: the planner draws one.
	Treated, Control []string
}

func (o *GeoPlanOptions) defaults() {
	if o.TargetROAS <= 0 {
		o.TargetROAS = DefaultTargetROAS
	}
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = DefaultAlpha
	}
	if o.Power <= 0 || o.Power >= 1 {
		o.Power = DefaultPower
	}
	if o.PeriodDays <= 0 {
		o.PeriodDays = DefaultPeriodDays
	}
	if o.Washout == 0 {
		o.Washout = DefaultWashout
		if o.PeriodDays < 3 {
			o.Washout = -1
		}
	}
	if o.Washout < 0 {
		o.Washout = 0
	}
	if o.Seed == "" {
		o.Seed = "geo"
	}
}

// GeoDuration is what a design detects when it runs for Days.
type GeoDuration struct {
	Days       int     `json:"days"`
	MDE        float64 `json:"mde"`      // smallest change in the response over the test detected with the power asked
	MDELift    float64 `json:"mde_lift"` // as a fraction of the affected response
	MDEROAS    float64 `json:"mde_roas"` // as a return per unit of the spend the test moves
	SpendMoved float64 `json:"spend_moved"`
	SE         float64 `json:"se"` // the standard error of the test's incremental response the plan expects
}

// GeoDesignPlan is one design's plan.
type GeoDesignPlan struct {
	Design       string        `json:"design"`
	Available    bool          `json:"available"`
	Why          string        `json:"why,omitempty"` // why not available
	Treated      []string      `json:"treated_regions,omitempty"`
	Control      []string      `json:"control_regions,omitempty"`
	TreatedShare float64       `json:"treated_share,omitempty"` // of the regions' response
	PeriodDays   int           `json:"period_days,omitempty"`
	Washout      int           `json:"washout,omitempty"`
	Durations    []GeoDuration `json:"durations"`
	Days         int           `json:"days"` // shortest duration detecting TargetROAS; 0 when none does
	TooWeak      bool          `json:"too_weak"`
	Placebo      Placebo       `json:"placebo"`
	Text         string        `json:"text"`
}

// GeoPlan is the planner's answer.
type GeoPlan struct {
	Channel     string          `json:"channel"`
	Metric      string          `json:"metric"`
	Currency    string          `json:"currency,omitempty"`
	HistoryFrom string          `json:"history_from"`
	HistoryTo   string          `json:"history_to"` // last day, inclusive
	HistoryDays int             `json:"history_days"`
	MeanPerDay  float64         `json:"mean_per_day"`
	SpendPerDay float64         `json:"spend_per_day"`
	TargetROAS  float64         `json:"target_roas"`
	Regions     int             `json:"regions"`     // areas with orders
	KnownShare  float64         `json:"known_share"` // share of the response whose area is known
	Designs     []GeoDesignPlan `json:"designs"`
	Proposed    string          `json:"proposed"` // the design to run; "" when none is worth it
	TooWeak     bool            `json:"too_weak"`
	Text        string          `json:"text"`
}

// PlanGeo plans a test of opt.Channel on the panel's history.
func PlanGeo(p Panel, opt GeoPlanOptions) (GeoPlan, error) {
	opt.defaults()
	if p.Days < 4*7 {
		return GeoPlan{}, fmt.Errorf("%d days of history: planning an ad-channel test needs at least 4 weeks of daily sales", p.Days)
	}
	if !(opt.SpendPerDay > 0) {
		return GeoPlan{}, fmt.Errorf("no spend on %q: a test measures what the channel's spend brings, so it needs the channel's spend per day", opt.Channel)
	}
	g := GeoPlan{Channel: opt.Channel, Metric: p.Metric, Currency: p.Currency, HistoryDays: p.Days,
		HistoryFrom: p.Dates[0].Format(time.DateOnly), HistoryTo: p.Dates[p.Days-1].Format(time.DateOnly),
		SpendPerDay: opt.SpendPerDay, TargetROAS: opt.TargetROAS, Regions: len(p.Regions)}
	var tot, known float64
	for _, v := range p.Total {
		tot += v
	}
	for _, s := range p.ByRegion {
		for _, v := range s {
			known += v
		}
	}
	g.MeanPerDay = tot / float64(p.Days)
	if tot > 0 {
		g.KnownShare = known / tot
	}
	if !(g.MeanPerDay > 0) {
		return g, errors.New("no sales in the history: nothing to plan a test on")
	}
	if opt.Design == "" || opt.Design == DesignRegions {
		g.Designs = append(g.Designs, planRegions(p, opt, g.KnownShare))
	}
	if opt.Design == "" || opt.Design == DesignSwitchback {
		g.Designs = append(g.Designs, planSwitchback(p, opt, g.MeanPerDay))
	}
	if len(g.Designs) == 0 {
		return g, fmt.Errorf("design %q: want regions or switchback", opt.Design)
	}
	best := -1
	for i, d := range g.Designs {
		if !d.Available || d.Days == 0 {
			continue
		}
		if best < 0 || d.Days < g.Designs[best].Days || (d.Days == g.Designs[best].Days && mdeAt(d, d.Days) < mdeAt(g.Designs[best], d.Days)) {
			best = i
		}
	}
	ch := opt.Channel
	if best >= 0 {
		g.Proposed = g.Designs[best].Design
		g.Text = g.Designs[best].Text
	} else {
		g.TooWeak = true
		var parts []string
		for _, d := range g.Designs {
			if d.Available {
				last := d.Durations[len(d.Durations)-1]
				parts = append(parts, fmt.Sprintf("a %d-week %s test would only detect a return of %.1f or more per unit of spend", last.Days/7, d.Design, last.MDEROAS))
			} else {
				parts = append(parts, fmt.Sprintf("no %s test: %s", d.Design, d.Why))
			}
		}
		g.Text = fmt.Sprintf("too weak to be worth running: %s; a test that cannot see a return of %.1f will not tell you whether %s pays. Test when %s spends more per day, or test a bigger channel",
			strings.Join(parts, "; "), opt.TargetROAS, ch, ch)
	}
	return g, nil
}

func mdeAt(d GeoDesignPlan, days int) float64 {
	if x, ok := d.duration(days); ok {
		return x.MDEROAS
	}
	return math.Inf(1)
}

// duration is the design's plan for a test of days.
func (d GeoDesignPlan) duration(days int) (GeoDuration, bool) {
	for _, x := range d.Durations {
		if x.Days == days {
			return x, true
		}
	}
	return GeoDuration{}, false
}

// choose sets the design's proposed duration: the shortest that detects the target.
func (d *GeoDesignPlan) choose(target float64) {
	for _, x := range d.Durations {
		if x.MDEROAS <= target {
			d.Days = x.Days
			return
		}
	}
	d.TooWeak = true
}

// planRegions splits the regions into two groups and sizes a test that switches the
// channel off in one of them.
func planRegions(p Panel, opt GeoPlanOptions, knownShare float64) GeoDesignPlan {
	d := GeoDesignPlan{Design: DesignRegions, Durations: []GeoDuration{}}
	var active []int
	for i, s := range p.ByRegion {
		days := 0
		for _, v := range s {
			if v > 0 {
				days++
			}
		}
		if days > 0 {
			active = append(active, i)
		}
	}
	switch {
	case len(p.Regions) == 0:
		d.Why = "the orders carry no postcode or region (properties.shipping_address.postal_code, or the customer's address trait)"
		return d
	case knownShare < 0.5:
		d.Why = fmt.Sprintf("only %.0f %% of sales have a known postcode or region", 100*knownShare)
		return d
	case len(active) < 4:
		d.Why = fmt.Sprintf("%d areas with sales; a region test needs at least 4 (use a longer postcode prefix for more, smaller areas)", len(active))
		return d
	}
	// Areas in pairs of similar size, one of each pair drawn into the treated group (the
	// draw is the seed's hash). A draw whose treated group has less than a quarter or more
	// than three quarters of the sales is drawn again. Choosing among many draws the one
	// the history fits best was tried and dropped: it made the plan promise a smaller
	// error than the test then had, and the test no smaller one (docs/decisions.md).
	h := p.Days
	var bestT []int
	var bestFit linFit
	if len(opt.Treated) > 0 {
		pos := map[string]int{}
		for i, r := range p.Regions {
			pos[r] = i
		}
		in := map[int]bool{}
		var tr, ct []int
		for _, r := range opt.Treated {
			if i, ok := pos[r]; ok {
				tr = append(tr, i)
				in[i] = true
			}
		}
		for _, r := range opt.Control {
			if i, ok := pos[r]; ok && !in[i] {
				ct = append(ct, i)
			}
		}
		if len(tr) == 0 || len(ct) == 0 {
			d.Why = "the test's regions had no sales in the history"
			return d
		}
		f, err := fitLine(sumRegions(p.ByRegion, ct), sumRegions(p.ByRegion, tr), seqIdx(0, h))
		if err != nil || !(f.sxx > 0) {
			d.Why = "the control regions' sales do not vary: nothing to predict the treated regions from"
			return d
		}
		active, bestT, bestFit = append(tr, ct...), tr, f
	}
	for c := 0; c < 20 && bestT == nil; c++ {
		var tr, ct []int
		for k := 0; k+1 < len(active); k += 2 {
			a, b := active[k], active[k+1]
			if Bucket(opt.Seed, fmt.Sprintf("%d/%d", c, k)) < 0.5 {
				a, b = b, a
			}
			tr, ct = append(tr, a), append(ct, b)
		}
		if len(active)%2 == 1 {
			ct = append(ct, active[len(active)-1])
		}
		y, x := sumRegions(p.ByRegion, tr), sumRegions(p.ByRegion, ct)
		share := sumOf(y) / (sumOf(y) + sumOf(x))
		if share < 0.25 || share > 0.75 {
			continue
		}
		f, err := fitLine(x, y, seqIdx(0, h))
		if err != nil || !(f.sxx > 0) {
			continue
		}
		bestT, bestFit = tr, f
	}
	inT := map[int]bool{}
	for _, r := range bestT {
		inT[r] = true
	}
	var tr, ct []int
	for _, r := range active {
		if inT[r] {
			tr = append(tr, r)
			d.Treated = append(d.Treated, p.Regions[r])
		} else {
			ct = append(ct, r)
			d.Control = append(d.Control, p.Regions[r])
		}
	}
	sort.Strings(d.Treated)
	sort.Strings(d.Control)
	y, x := sumRegions(p.ByRegion, tr), sumRegions(p.ByRegion, ct)
	d.TreatedShare = sumOf(y) / (sumOf(y) + sumOf(x))
	meanY := sumOf(y) / float64(h)
	f := bestFit
	d.Available = true
	// One placebo check, with fake tests of four weeks (or as long as the history allows),
	// widens every duration alike.
	d.Placebo = tbrPlacebo(x, y, h, 28, opt.Alpha)
	k := math.Max(1, float64(d.Placebo.Inflation))
	for t := 14; t <= MaxGeoDays; t += 7 {
		sd := k * math.Sqrt(f.sigma2*(arSum(t, f.rho)+float64(t*t)/float64(h)*(1+f.rho)/(1-f.rho)))
		df := f.df()
		mde := (tQuantile(1-opt.Alpha/2, df) + tQuantile(opt.Power, df)) * sd
		// The spend the test moves: the treated areas' part of the channel's spend, taken
		// as their share of sales (the spend table has no regions).
		moved := opt.SpendPerDay * d.TreatedShare * float64(t)
		d.Durations = append(d.Durations, GeoDuration{Days: t, MDE: mde, MDELift: mde / (meanY * float64(t)), MDEROAS: mde / moved, SpendMoved: moved, SE: sd})
	}
	d.choose(opt.TargetROAS)
	d.Text = regionText(d, opt)
	return d
}

func regionText(d GeoDesignPlan, opt GeoPlanOptions) string {
	last := d.Durations[len(d.Durations)-1]
	if d.TooWeak {
		return fmt.Sprintf("too weak to be worth running: switching %s off in half the areas for %d weeks would only detect a return of %.1f or more per unit of spend",
			opt.Channel, last.Days/7, last.MDEROAS)
	}
	x := d.Durations[0]
	for _, y := range d.Durations {
		if y.Days == d.Days {
			x = y
		}
	}
	return fmt.Sprintf("switch %s off for %d days in %s (%.0f %% of sales), keep it in %s; with your sales this detects a return of %.1f or more per unit of spend (a %s change in those areas' sales) with %s power",
		opt.Channel, d.Days, listWords(d.Treated), 100*d.TreatedShare, listWords(d.Control), x.MDEROAS, pct(x.MDELift, false), pct(opt.Power, false))
}

func listWords(s []string) string {
	if len(s) > 6 {
		return strings.Join(s[:6], ", ") + fmt.Sprintf(" and %d more", len(s)-6)
	}
	return strings.Join(s, ", ")
}

func sumOf(s []float64) float64 {
	var t float64
	for _, v := range s {
		t += v
	}
	return t
}

// SwitchbackSchedule says which test days the channel runs: periods of periodDays in
// pairs, one on and one off in each pair, in an order drawn from the name's hash.
func SwitchbackSchedule(name string, days, periodDays int) []bool {
	if periodDays <= 0 {
		periodDays = DefaultPeriodDays
	}
	on := make([]bool, days)
	for d := range days {
		k := d / periodDays
		onFirst := Bucket(name, fmt.Sprintf("pair/%d", k/2)) < 0.5
		on[d] = (k%2 == 0) == onFirst
	}
	return on
}

// planSwitchback sizes a test that switches the channel on and off for the whole shop.
func planSwitchback(p Panel, opt GeoPlanOptions, meanPerDay float64) GeoDesignPlan {
	d := GeoDesignPlan{Design: DesignSwitchback, PeriodDays: opt.PeriodDays, Washout: opt.Washout, Durations: []GeoDuration{}}
	l := opt.PeriodDays
	if opt.Washout >= l {
		d.Why = fmt.Sprintf("a washout of %d days leaves nothing of %d-day periods", opt.Washout, l)
		return d
	}
	// The spread of period means around a trend over the history.
	var ps []period
	for s := p.Days % l; s+l <= p.Days; s += l {
		pp := period{first: s, end: s + l}
		for k := s + opt.Washout; k < s+l; k++ {
			pp.kept = append(pp.kept, k)
		}
		ps = append(ps, pp)
	}
	if len(ps) < 4 {
		d.Why = fmt.Sprintf("%d periods of %d days in the history; a switchback plan needs at least 4", len(ps), l)
		return d
	}
	// Differences of consecutive period means: Var(Y_k − Y_{k−1}) = 2σ² for independent
	// periods, whatever a slow trend or season does.
	var cy []float64
	for _, pp := range ps {
		var s float64
		for _, k := range pp.kept {
			s += p.Total[k]
		}
		cy = append(cy, s/float64(len(pp.kept)))
	}
	var d2 float64
	for i := 1; i < len(cy); i++ {
		d2 += (cy[i] - cy[i-1]) * (cy[i] - cy[i-1])
	}
	sigma := math.Sqrt(d2 / float64(len(cy)-1) / 2)
	d.Available = true
	type cand struct {
		t, onDays int
		se, df    float64
		pl        Placebo
	}
	var cands []cand
	for k := 4; k*l <= MaxGeoDays; k += 2 {
		t := k * l
		if t < 14 {
			continue
		}
		// Standard error of the on/off coefficient for the schedule of k periods.
		sched := SwitchbackSchedule(opt.Seed, t, l)
		test := periods(sched, 0, t, opt.Washout, l)
		for i := range test {
			for _, j := range test[i].kept {
				test[i].center += float64(j)
			}
			test[i].center /= float64(len(test[i].kept))
		}
		se, df, ok := switchbackSE(test, sigma)
		if !ok {
			continue
		}
		// What the analysis would report: the standard errors of the same schedule laid on
		// the history (where it fits), else the one from the spread of period means.
		pl, histSE := slideSchedule(p.Total, sched, p.Days-t, opt.Washout, l, opt.Alpha)
		if pl.Windows > 0 {
			se = math.Max(se, histSE)
		}
		c := cand{t: t, se: se, df: df, pl: pl}
		for _, b := range sched {
			if b {
				c.onDays++
			}
		}
		cands = append(cands, c)
	}
	// One placebo check widens every duration alike: the 8-period schedule's, or the
	// longest one the history has fake tests for.
	for _, c := range cands {
		if c.pl.Windows > 0 && (d.Placebo.Windows == 0 || c.t <= 56) {
			d.Placebo = c.pl
		}
	}
	kf := math.Max(1, float64(d.Placebo.Inflation))
	for _, c := range cands {
		perDay := (tQuantile(1-opt.Alpha/2, c.df) + tQuantile(opt.Power, c.df)) * kf * c.se
		d.Durations = append(d.Durations, GeoDuration{Days: c.t, MDE: perDay * float64(c.onDays), MDELift: perDay / meanPerDay,
			MDEROAS: perDay / opt.SpendPerDay, SpendMoved: opt.SpendPerDay * float64(c.onDays), SE: kf * c.se * float64(c.onDays)})
	}
	if len(d.Durations) == 0 {
		d.Available = false
		d.Why = "no schedule fits in 12 weeks"
		return d
	}
	d.choose(opt.TargetROAS)
	last := d.Durations[len(d.Durations)-1]
	if d.TooWeak {
		d.Text = fmt.Sprintf("too weak to be worth running: switching %s on and off by the %s for %d weeks would only detect a return of %.1f or more per unit of spend",
			opt.Channel, periodWord(l), last.Days/7, last.MDEROAS)
		return d
	}
	x := d.Durations[0]
	for _, y := range d.Durations {
		if y.Days == d.Days {
			x = y
		}
	}
	wash := ""
	if opt.Washout > 0 {
		wash = fmt.Sprintf("; the first %d day(s) after each switch are left out", opt.Washout)
	}
	d.Text = fmt.Sprintf("switch %s off every other %s for %d days (in pairs of %ss, one on and one off, in random order%s); with your sales this detects a return of %.1f or more per unit of spend (a %s change in sales per day) with %s power",
		opt.Channel, periodWord(l), d.Days, periodWord(l), wash, x.MDEROAS, pct(x.MDELift, false), pct(opt.Power, false))
	return d
}

func periodWord(days int) string {
	switch days {
	case 1:
		return "day"
	case 7:
		return "week"
	}
	return fmt.Sprintf("%d-day period", days)
}

// switchbackSE is the standard error of the on/off coefficient of a schedule's periods
// (the analysis's regression, fitSwitchback) for period means with spread sigma around
// the trend, and its degrees of freedom.
func switchbackSE(ps []period, sigma float64) (se, df float64, ok bool) {
	if len(ps) < sbMinPeriods {
		return 0, 0, false
	}
	_, inv, _, _, ok := sbDesign(ps)
	if !ok {
		return 0, 0, false
	}
	return sigma * math.Sqrt(inv.At(sbParams-1, sbParams-1)), float64(len(ps) - sbParams), true
}

// sumRegions adds the rows of m in regions for each day.
func sumRegions(m [][]float64, regions []int) []float64 {
	if len(m) == 0 {
		return nil
	}
	out := make([]float64, len(m[0]))
	for _, r := range regions {
		for d, v := range m[r] {
			out[d] += v
		}
	}
	return out
}
