package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Stored ad-channel tests: a region test (unit region: the channel is switched off in
// the second variant's regions) or a switchback (unit day with a channel: the channel
// runs in the control's periods and is off in the other's). Their reports come from
// AnalyzeTBR and AnalyzeSwitchback over the store's orders and spend.

// SchedulePeriod is one period of a switchback: what the channel does from From to To
// (inclusive days in the business time zone).
type SchedulePeriod struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Variant string `json:"variant"`
	On      bool   `json:"on"` // the channel runs
}

// testDays are the whole days of e's test in the business time zone: from the first
// midnight at or after the start to the last one at or before min(end, now).
func testDays(e Experiment, now time.Time, loc *time.Location) (from, to time.Time) {
	from = startOfDay(*e.Start, loc)
	if from.Before(e.Start.In(loc)) {
		from = from.AddDate(0, 0, 1)
	}
	end := now
	if e.End != nil && e.End.Before(end) {
		end = *e.End
	}
	to = startOfDay(end, loc)
	if to.Before(from) {
		to = from
	}
	return from, to
}

// Schedule lists a switchback's periods from its start for days days (the planned end,
// or 12 weeks when open).
func (e Experiment) Schedule(loc *time.Location) []SchedulePeriod {
	if e.Unit != UnitDay || e.Channel == "" || e.Start == nil || len(e.Variants) < 2 {
		return nil
	}
	from, _ := testDays(e, *e.Start, loc)
	days := MaxGeoDays
	if e.End != nil {
		days = max(1, civilDays(from, startOfDay(*e.End, loc)))
	}
	on := SwitchbackSchedule(e.Name, days, e.Design.Period())
	var out []SchedulePeriod
	for i := 0; i < days; {
		j := i
		for j < days && on[j] == on[i] {
			j++
		}
		v := e.Variants[0].Key
		if !on[i] {
			v = e.Variants[1].Key
		}
		out = append(out, SchedulePeriod{From: from.AddDate(0, 0, i).Format(time.DateOnly), To: from.AddDate(0, 0, j-1).Format(time.DateOnly), Variant: v, On: on[i]})
		i = j
	}
	return out
}

// ErrTooEarly wraps an analysis that has too little data yet.
var ErrTooEarly = errors.New("not enough data yet")

// AdTestReport analyses a stored ad-channel test from the orders and the spend table.
func AdTestReport(ctx context.Context, db *store.DB, e Experiment, now time.Time) (GeoResult, error) {
	if !e.IsAdTest() {
		return GeoResult{}, fmt.Errorf("experiment %q is not an ad-channel test", e.Name)
	}
	if e.Start == nil {
		return GeoResult{}, fmt.Errorf("experiment %q has not started", e.Name)
	}
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return GeoResult{}, err
	}
	cur, err := workspace.Currency(ctx, db)
	if err != nil {
		return GeoResult{}, err
	}
	from, to := testDays(e, now, loc)
	histFrom := from.AddDate(0, 0, -GeoHistoryDays)
	first, err := firstOrderDay(ctx, db, histFrom, from)
	if err != nil {
		return GeoResult{}, err
	}
	if first.After(histFrom) {
		histFrom = startOfDay(first, loc)
	}
	region := e.Unit == UnitRegion
	prefix := e.Design.PostcodePrefix
	if prefix == 0 {
		prefix = DefaultPostcodePrefix
	}
	p, err := ReadPanel(ctx, db, histFrom, to, e.Metric.Kind, region, prefix)
	if err != nil {
		return GeoResult{}, err
	}
	spend, err := ChannelSpend(ctx, db, e.Channel, p.Dates, cur)
	if err != nil {
		return GeoResult{}, err
	}
	pre := civilDays(histFrom, from)
	unit := "orders"
	if e.Metric.Kind == MetricRevenue {
		unit = cur
	}
	if p.Days <= pre {
		return GeoResult{}, fmt.Errorf("%w: the test has no whole day yet (it counts from %s)", ErrTooEarly, from.Format(time.DateOnly))
	}
	if !region {
		on := make([]bool, p.Days)
		sched := SwitchbackSchedule(e.Name, p.Days-pre, e.Design.Period())
		for d := range on {
			on[d] = d < pre || sched[d-pre]
		}
		r, err := AnalyzeSwitchback(SwitchbackInput{Dates: p.Dates, Response: p.Total, Spend: spend, On: on, TestStart: pre, TestEnd: p.Days, PeriodDays: e.Design.Period(),
			Washout: e.Design.WashoutDays(), Channel: e.Channel, Unit: unit})
		if err != nil {
			return r, fmt.Errorf("%w: %v", ErrTooEarly, err)
		}
		return r, nil
	}
	idx := map[string]int{}
	for i, name := range p.Regions {
		idx[name] = i
	}
	group := func(v Variant) []int {
		var out []int
		for _, name := range e.Design.Regions[v.Key] {
			if i, ok := idx[name]; ok {
				out = append(out, i)
			}
		}
		return out
	}
	ct, tr := group(e.Variants[0]), group(e.Variants[1])
	if len(ct) == 0 || len(tr) == 0 {
		return GeoResult{}, fmt.Errorf("experiment %q: no sales in the regions of %s or %s", e.Name, e.Variants[0].Key, e.Variants[1].Key)
	}
	y, x := sumRegions(p.ByRegion, tr), sumRegions(p.ByRegion, ct)
	// The spend table has no regions: before the test the channel's spend is split by the
	// groups' shares of sales; during it, the treated regions have the channel off and
	// all of its spend is the control regions'.
	share := sumOf(y[:pre]) / (sumOf(y[:pre]) + sumOf(x[:pre]))
	ts, cs := make([]float64, p.Days), make([]float64, p.Days)
	for d := range p.Days {
		if d < pre {
			ts[d], cs[d] = spend[d]*share, spend[d]*(1-share)
		} else {
			cs[d] = spend[d]
		}
	}
	r, err := AnalyzeTBR(TBRInput{Dates: p.Dates, Treated: y, Control: x, TreatedSpend: ts, ControlSpend: cs,
		TestStart: pre, TestEnd: p.Days, Channel: e.Channel, Unit: unit})
	if err != nil {
		if pre < MinPreDays {
			return r, err
		}
		return r, fmt.Errorf("%w: %v", ErrTooEarly, err)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("the channel's spend before the test is split by the groups' shares of sales (%.0f %% treated); during the test all of it is the control regions'", 100*share))
	if p.Unknown > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%.0f %s of sales had no postcode or region and are left out", p.Unknown, unit))
	}
	return r, nil
}

// AdTestPlan sizes a stored ad-channel test from the shop's history: the half year
// before now (or before the test's start), with the channel's spend per day over the
// last 28 days of it.
func AdTestPlan(ctx context.Context, db *store.DB, e Experiment, now time.Time, spendPerDay float64) (GeoPlan, error) {
	req := PlanRequest{Channel: e.Channel, Metric: e.Metric.Kind, PostcodePrefix: e.Design.PostcodePrefix, PeriodDays: e.Design.Period(),
		Washout: e.Design.WashoutDays(), SpendPerDay: spendPerDay, Seed: e.Name, Now: now}
	if req.Washout == 0 {
		req.Washout = -1
	}
	if e.Start != nil && e.Start.Before(now) {
		req.Before = *e.Start
	}
	switch e.Unit {
	case UnitRegion:
		req.Design = DesignRegions
		if len(e.Variants) == 2 && len(e.Design.Regions) > 0 {
			req.Control, req.Treated = e.Design.Regions[e.Variants[0].Key], e.Design.Regions[e.Variants[1].Key]
		}
	case UnitDay:
		req.Design = DesignSwitchback
	}
	return PlanAdChannel(ctx, db, req)
}

// PlanRequest asks for a plan of an ad-channel test from the store.
type PlanRequest struct {
	Channel        string
	Design         string // "" (both), regions or switchback
	Metric         string // revenue (default) or orders
	PostcodePrefix int
	PeriodDays     int
	Washout        int // 0: default; -1: none
	TargetROAS     float64
	SpendPerDay    float64 // 0: the channel's mean over the history's last 28 days
	Seed           string
	Treated        []string
	Control        []string
	Now            time.Time
	Before         time.Time // the history ends here (a test's start); zero: now
}

// PlanAdChannel plans a test of a channel on the store's daily sales: the half year
// before req.Before (or now, or the last order when orders stopped coming).
func PlanAdChannel(ctx context.Context, db *store.DB, req PlanRequest) (GeoPlan, error) {
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return GeoPlan{}, err
	}
	cur, err := workspace.Currency(ctx, db)
	if err != nil {
		return GeoPlan{}, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	end := startOfDay(now, loc)
	if !req.Before.IsZero() && req.Before.Before(now) {
		end = startOfDay(req.Before, loc)
		if end.Before(req.Before.In(loc)) {
			end = end.AddDate(0, 0, 1)
		}
	}
	// History that stopped arriving (an import, the demo) ends at its last order.
	var last int64
	if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(ts), 0) FROM orders WHERE ts < ?`, end.UnixMilli()).Scan(&last); err != nil {
		return GeoPlan{}, fmt.Errorf("read last order: %w", err)
	}
	if last > 0 {
		if d := startOfDay(time.UnixMilli(last), loc).AddDate(0, 0, 1); d.Before(end) {
			end = d
		}
	}
	from := end.AddDate(0, 0, -GeoHistoryDays)
	first, err := firstOrderDay(ctx, db, from, end)
	if err != nil {
		return GeoPlan{}, err
	}
	if first.After(from) {
		from = startOfDay(first, loc)
	}
	prefix := req.PostcodePrefix
	if prefix == 0 {
		prefix = DefaultPostcodePrefix
	}
	metric := req.Metric
	if metric == "" {
		metric = MetricRevenue
	}
	p, err := ReadPanel(ctx, db, from, end, metric, req.Design != DesignSwitchback, prefix)
	if err != nil {
		return GeoPlan{}, err
	}
	spendPerDay := req.SpendPerDay
	if spendPerDay <= 0 && p.Days > 0 {
		spend, err := ChannelSpend(ctx, db, req.Channel, p.Dates[max(0, p.Days-28):], cur)
		if err != nil {
			return GeoPlan{}, err
		}
		spendPerDay = sumOf(spend) / float64(len(spend))
	}
	if !(spendPerDay > 0) {
		chans, _ := SpendChannels(ctx, db)
		hint := "no channel has spend yet (omniroi import spend FILE.csv)"
		if len(chans) > 0 {
			hint = "channels with spend: " + strings.Join(chans, ", ")
		}
		return GeoPlan{}, fmt.Errorf("no spend on %q in %s over the 28 days before %s; %s", req.Channel, cur, end.Format(time.DateOnly), hint)
	}
	return PlanGeo(p, GeoPlanOptions{Channel: req.Channel, SpendPerDay: spendPerDay, Design: req.Design, TargetROAS: req.TargetROAS, Seed: req.Seed,
		PeriodDays: req.PeriodDays, Washout: req.Washout, Unit: cur, Treated: req.Treated, Control: req.Control})
}

// proposeRegions fills a region test's design with the planner's split when it has none.
func proposeRegions(ctx context.Context, db *store.DB, e *Experiment, now time.Time) error {
	if e.Unit != UnitRegion || len(e.Design.Regions) > 0 || len(e.Variants) != 2 || e.Channel == "" {
		return nil
	}
	plan, err := AdTestPlan(ctx, db, *e, now, 0)
	if err != nil {
		return fmt.Errorf("no regions given and none proposed: %w", err)
	}
	d := plan.Designs[0]
	if !d.Available {
		return fmt.Errorf("no regions given and none proposed: %s", d.Why)
	}
	e.Design.Regions = map[string][]string{e.Variants[0].Key: d.Control, e.Variants[1].Key: d.Treated}
	return nil
}

// ParseRegions reads "control=75,92;off=93,94" into a design's regions.
func ParseRegions(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("regions %q: want VARIANT=AREA,AREA;VARIANT=AREA,...", part)
		}
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], r)
			}
		}
	}
	return out, nil
}

// Calibration is a finished ad-channel test's result for one channel, the form the
// budget model takes as calibration: the channel's return per unit of spend (ROAS) with
// its interval at Level.
type Calibration struct {
	Channel    string  `json:"channel"`
	ROAS       float64 `json:"roas"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Level      float64 `json:"level,omitempty"`
	StartDate  string  `json:"start_date,omitempty"`
	EndDate    string  `json:"end_date,omitempty"`
	Experiment string  `json:"experiment"`
	Design     string  `json:"design"`
}

// Calibrations returns, for each ad channel with a finished test (stopped, or running
// past its planned end) whose analysis gave a ROAS interval, the latest test's result.
// Tests on revenue only: a return measured in orders is not a return on spend.
func Calibrations(ctx context.Context, db *store.DB, now time.Time) ([]Calibration, error) {
	all, err := List(ctx, db)
	if err != nil {
		return nil, err
	}
	latest := map[string]Calibration{}
	for _, e := range all {
		if !e.IsAdTest() || e.Metric.Kind != MetricRevenue || e.Start == nil {
			continue
		}
		finished := e.Status == StatusStopped || (e.Status == StatusRunning && e.End != nil && !e.End.After(now))
		if !finished {
			continue
		}
		r, err := AdTestReport(ctx, db, e, now)
		if errors.Is(err, ErrTooEarly) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("experiment %s: %w", e.Name, err)
		}
		if !r.ROAS.Valid() || !r.ROASLow.Valid() || !r.ROASHigh.Valid() || math.IsInf(float64(r.ROAS), 0) {
			continue
		}
		c := Calibration{Channel: e.Channel, ROAS: float64(r.ROAS), Low: float64(r.ROASLow), High: float64(r.ROASHigh), Level: r.Level,
			StartDate: r.From, EndDate: r.To, Experiment: e.Name, Design: r.Design}
		if prev, ok := latest[e.Channel]; !ok || prev.EndDate < c.EndDate {
			latest[e.Channel] = c
		}
	}
	out := make([]Calibration, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out, nil
}
