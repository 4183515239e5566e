package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// ExposureEvent is Segment's event for "this unit saw this variant"; its properties
// experiment_id (the experiment's name) and variation_id (the variant's key) say which.
const ExposureEvent = "Experiment Viewed"

// PrePeriod is how far before the start CUPED looks for each unit's covariate: the same
// metric over the four weeks before the test.
const PrePeriod = 28 * 24 * time.Hour

// SwitchbackMinDays is the minimum sample per arm of a day-level test: with days as
// units, GrowthBook's 150 per arm would take a year; two weeks per arm is the floor below
// which a weekly cycle can land in one arm.
const SwitchbackMinDays = 7

// ReportOptions tune a report.
type ReportOptions struct {
	Now time.Time // default time.Now()
	// Fixed reads the test with fixed-horizon intervals instead of always-valid ones;
	// only right when this is the one planned look.
	Fixed bool
}

// MetricReport is one metric's analysis.
type MetricReport struct {
	Metric   Metric `json:"metric"`
	Label    string `json:"label"`
	Currency string `json:"currency,omitempty"` // revenue: the business currency (others are left out)
	Result   Result `json:"result"`
}

// DayPoint is the primary metric per arm as it stood at the end of a day.
type DayPoint struct {
	Day      string          `json:"day"` // YYYY-MM-DD, business time zone
	Variants []VariantResult `json:"variants"`
	Verdict  string          `json:"verdict_kind"`
}

// Report is an experiment's analysis from the store.
type Report struct {
	Experiment Experiment     `json:"experiment"`
	From       time.Time      `json:"from"`
	To         time.Time      `json:"to"`
	Days       float64        `json:"days"`
	Units      int64          `json:"units"`              // exposed units analysed
	Crossovers int64          `json:"crossovers"`         // units exposed to more than one variant (kept in their first)
	Unknown    int64          `json:"unknown_variations"` // exposures naming no variant of this experiment
	Primary    MetricReport   `json:"primary"`
	Guardrails []MetricReport `json:"guardrails"`
	Daily      []DayPoint     `json:"daily"`
	Verdict    string         `json:"verdict"` // the primary verdict, with guardrail warnings
	Notes      []string       `json:"notes,omitempty"`
	// Ad-channel tests (region tests, switchbacks with a channel): the analysis of the
	// channel's effect and return, and a switchback's on/off schedule.
	Geo      *GeoResult       `json:"geo,omitempty"`
	Schedule []SchedulePeriod `json:"schedule,omitempty"`
}

// unitObs is one analysed unit: its arm and when it was first exposed.
type unitObs struct {
	arm int
	at  int64 // unix ms
}

// contribution is one outcome (an order, an event) of a customer or a day.
type contribution struct {
	unit  int64
	at    int64
	value float64
}

// BuildReport analyses an experiment from the events and orders in the store. Only
// exposed units count: for customer and visitor experiments, the customers with an
// "Experiment Viewed" event for this experiment between start and end, each in the
// variant of their first exposure, with outcomes from that moment to the end. Visitors
// are analysed as the customers the identity graph resolved them to, so an order placed
// after logging in counts, and one person on two devices is one unit.
func BuildReport(ctx context.Context, db *store.DB, name string, opt ReportOptions) (Report, error) {
	e, err := Get(ctx, db, name)
	if err != nil {
		return Report{}, err
	}
	if e.IsJourneyTest() {
		if JourneyReporter == nil {
			return Report{}, fmt.Errorf("experiment %q is a test inside journey %s: omniroi journey report %s", e.Name, e.Design.Journey, e.Design.Journey)
		}
		now := opt.Now
		if now.IsZero() {
			now = time.Now()
		}
		return JourneyReporter(ctx, db, e, now)
	}
	if e.Start == nil || e.Status == StatusDraft {
		return Report{}, fmt.Errorf("experiment %q has not started: nothing to report yet (omniroi experiment start %s)", e.Name, e.Name)
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := Report{Experiment: e, From: *e.Start, To: now.UTC(), Guardrails: []MetricReport{}, Daily: []DayPoint{}}
	if e.End != nil && e.End.Before(r.To) {
		r.To = *e.End
	}
	if !r.To.After(r.From) {
		r.To = r.From
	}
	r.Days = r.To.Sub(r.From).Hours() / 24
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return Report{}, err
	}
	currency, err := workspace.Currency(ctx, db)
	if err != nil {
		return Report{}, err
	}

	if e.IsAdTest() {
		r.Primary = MetricReport{Metric: e.Metric, Label: e.Metric.Label(e.Unit)}
		if e.Metric.Kind == MetricRevenue {
			r.Primary.Currency = currency
		}
		r.Schedule = e.Schedule(loc)
		g, err := AdTestReport(ctx, db, e, now)
		switch {
		case errors.Is(err, ErrTooEarly):
			r.Verdict = err.Error()
		case err != nil:
			return Report{}, err
		default:
			r.Geo, r.Verdict, r.Notes = &g, g.Verdict, g.Notes
			r.Units = int64(g.TestDays)
		}
		return r, nil
	}
	units := map[int64]unitObs{}
	switch e.Unit {
	case UnitCustomer, UnitAnonymous:
		if units, err = r.exposures(ctx, db); err != nil {
			return Report{}, err
		}
	case UnitDay:
		for d := startOfDay(r.From, loc); !d.After(r.To); d = d.AddDate(0, 0, 1) {
			if d.Before(r.From) || d.AddDate(0, 0, 1).After(r.To) {
				continue // only whole days inside the test
			}
			key := d.Format(time.DateOnly)
			units[d.UnixMilli()] = unitObs{arm: e.Assign(key), at: d.UnixMilli()}
		}
		r.Notes = append(r.Notes, "switchback: each whole day of the test is one unit, on the variant its date hashes to; read at the planned end (fixed-horizon intervals)")
	default:
		return Report{}, fmt.Errorf("experiment %q randomises regions: analyse region totals with omniroi experiment analyze --input FILE.csv (a row per region) until regions are stored", e.Name)
	}
	r.Units = int64(len(units))

	metrics := append([]Metric{e.Metric}, e.Guardrails...)
	for i, m := range metrics {
		mr, daily, err := r.analyseMetric(ctx, db, e, m, units, loc, currency, opt, i == 0)
		if err != nil {
			return Report{}, err
		}
		if i == 0 {
			r.Primary, r.Daily = mr, daily
		} else {
			r.Guardrails = append(r.Guardrails, mr)
		}
	}
	r.Verdict = r.Primary.Result.Verdict.Text
	var warn []string
	for _, g := range r.Guardrails {
		for _, v := range g.Result.Variants {
			if !v.Control && v.Significant {
				warn = append(warn, fmt.Sprintf("%s moved a guardrail: %s", v.Variant, effectWords(v, Options{Alpha: g.Result.Alpha, MetricLabel: g.Label})))
			}
		}
	}
	if len(warn) > 0 {
		r.Verdict += "; but " + strings.Join(warn, "; ")
	}
	if r.Crossovers > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d %s saw more than one variant and count in the first they saw", r.Crossovers, e.Unit.Noun()))
	}
	if r.Unknown > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d exposures named a variation that is not in this experiment and were left out", r.Unknown))
	}
	return r, nil
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// exposures reads the "Experiment Viewed" events of r's experiment: each customer's
// first exposure.
func (r *Report) exposures(ctx context.Context, db *store.DB) (map[int64]unitObs, error) {
	e := r.Experiment
	rows, err := db.Query(ctx, `SELECT a.customer_id, a.ts, ev.body FROM activity a JOIN events ev ON ev.seq = a.seq
		WHERE a.name = ? AND a.ts >= ? AND a.ts < ? ORDER BY a.ts, a.seq`, ExposureEvent, r.From.UnixMilli(), r.To.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("read exposures: %w", err)
	}
	defer rows.Close()
	idx := map[string]int{}
	for i, v := range e.Variants {
		idx[v.Key] = i
	}
	units := map[int64]unitObs{}
	crossed := map[int64]bool{}
	for rows.Next() {
		var cust, ts int64
		var body string
		if err := rows.Scan(&cust, &ts, &body); err != nil {
			return nil, fmt.Errorf("read exposures: %w", err)
		}
		exp, variation := exposureProps([]byte(body))
		if exp != e.Name {
			continue
		}
		arm, ok := idx[variation]
		if !ok {
			r.Unknown++
			continue
		}
		if u, seen := units[cust]; seen {
			if u.arm != arm && !crossed[cust] {
				crossed[cust] = true
				r.Crossovers++
			}
			continue
		}
		units[cust] = unitObs{arm: arm, at: ts}
	}
	return units, rows.Err()
}

// exposureProps reads properties.experiment_id and variation_id, strings or numbers.
func exposureProps(body []byte) (exp, variation string) {
	var b struct {
		Properties struct {
			Exp json.RawMessage `json:"experiment_id"`
			Var json.RawMessage `json:"variation_id"`
		} `json:"properties"`
	}
	if json.Unmarshal(body, &b) != nil {
		return "", ""
	}
	return rawString(b.Properties.Exp), rawString(b.Properties.Var)
}

func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// outcomes returns metric m's contributions between from and to: per customer for
// customer and visitor units, per day (keyed by the day's start) for day units.
func outcomes(ctx context.Context, db *store.DB, m Metric, unit Unit, from, to time.Time, loc *time.Location, currency string) ([]contribution, error) {
	var out []contribution
	key := func(cust, ts int64) int64 {
		if unit == UnitDay {
			return startOfDay(time.UnixMilli(ts), loc).UnixMilli()
		}
		return cust
	}
	if m.Kind == MetricRevenue || m.Kind == MetricOrders || (m.Kind == MetricConversion && (m.Event == "" || m.Event == commerce.OrderCompleted)) {
		orders, err := commerce.Orders(ctx, db, from, to)
		if err != nil {
			return nil, err
		}
		for _, o := range orders {
			v := 1.0
			if m.Kind == MetricRevenue {
				if o.Currency != currency {
					continue
				}
				v = money.Major(o.NetMinor(), o.Currency)
			}
			out = append(out, contribution{key(o.CustomerID, o.Time.UnixMilli()), o.Time.UnixMilli(), v})
		}
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT customer_id, ts FROM activity WHERE name = ? AND ts >= ? AND ts < ?`, m.Event, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("read %s events: %w", m.Event, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, ts int64
		if err := rows.Scan(&c, &ts); err != nil {
			return nil, err
		}
		out = append(out, contribution{key(c, ts), ts, 1})
	}
	return out, rows.Err()
}

// analyseMetric computes m per unit and analyses it, with CUPED from the pre-period for
// customer and visitor units, and (for the primary metric) the day-by-day series.
func (r *Report) analyseMetric(ctx context.Context, db *store.DB, e Experiment, m Metric, units map[int64]unitObs,
	loc *time.Location, currency string, opt ReportOptions, primary bool) (MetricReport, []DayPoint, error) {
	mr := MetricReport{Metric: m, Label: m.Label(e.Unit)}
	if m.Kind == MetricRevenue {
		mr.Currency = currency
	}
	perUnit := e.Unit == UnitCustomer || e.Unit == UnitAnonymous
	during, err := outcomes(ctx, db, m, e.Unit, r.From, r.To, loc, currency)
	if err != nil {
		return mr, nil, err
	}
	pre := map[int64]float64{}
	if perUnit {
		before, err := outcomes(ctx, db, m, e.Unit, r.From.Add(-PrePeriod), r.From, loc, currency)
		if err != nil {
			return mr, nil, err
		}
		for _, c := range before {
			if _, ok := units[c.unit]; ok {
				pre[c.unit] += c.value
			}
		}
		if m.Kind == MetricConversion {
			for u, v := range pre {
				pre[u] = math.Min(v, 1)
			}
		}
	}
	sort.Slice(during, func(i, j int) bool { return during[i].at < during[j].at })

	an := Options{
		Type: m.Type(), Control: e.Variants[0].Key, CUPED: perUnit, Sequential: perUnit && !opt.Fixed,
		Tuning: float64(e.PlannedUnits), MDE: e.MDE, MetricLabel: mr.Label, UnitLabel: e.Unit.Noun(),
	}
	if e.Unit == UnitDay {
		an.MinSample = SwitchbackMinDays
	}
	// at analyses the units exposed before cutoff with the outcomes before cutoff.
	sums := map[int64]float64{}
	next := 0
	at := func(cutoff int64) (Result, error) {
		for ; next < len(during) && during[next].at < cutoff; next++ {
			c := during[next]
			if u, ok := units[c.unit]; ok && c.at >= u.at {
				sums[c.unit] += c.value
			}
		}
		arms := make([]Arm, len(e.Variants))
		for i, v := range e.Variants {
			arms[i] = Arm{Name: v.Key, Weight: v.Weight}
		}
		for id, u := range units {
			if u.at >= cutoff {
				continue
			}
			y := sums[id]
			if m.Kind == MetricConversion {
				y = math.Min(y, 1)
			}
			arms[u.arm].Moments.Add(y, pre[id])
		}
		o := an
		o.Days = math.Max(float64(cutoff-r.From.UnixMilli())/float64(24*time.Hour/time.Millisecond), 1e-9)
		return Analyze(arms, o)
	}
	var daily []DayPoint
	if primary {
		for d := startOfDay(r.From, loc).AddDate(0, 0, 1); d.Before(r.To); d = d.AddDate(0, 0, 1) {
			res, err := at(d.UnixMilli())
			if err != nil {
				return mr, nil, err
			}
			daily = append(daily, DayPoint{Day: d.AddDate(0, 0, -1).Format(time.DateOnly), Variants: res.Variants, Verdict: res.Verdict.Kind})
		}
	}
	res, err := at(r.To.UnixMilli() + 1)
	if err != nil {
		return mr, nil, err
	}
	if primary && (len(daily) == 0 || daily[len(daily)-1].Day != r.To.In(loc).Format(time.DateOnly)) {
		daily = append(daily, DayPoint{Day: r.To.In(loc).Format(time.DateOnly), Variants: res.Variants, Verdict: res.Verdict.Kind})
	}
	mr.Result = res
	return mr, daily, nil
}

// History is the shop's recent traffic and metric, the baseline of a power calculation.
type History struct {
	From, To    time.Time `json:"-"`
	Units       int64     `json:"units"`         // distinct units seen
	UnitsPerDay float64   `json:"units_per_day"` // new units entering a test per day
	Mean        float64   `json:"mean"`
	SD          float64   `json:"sd"`
}

// HistoryWindow is how much history a plan reads.
const HistoryWindow = 28 * 24 * time.Hour

// ShopHistory reads the last four weeks before now: for customer and visitor units, the
// customers active in that time (each a unit; units per day = their number / 28) and
// the metric over the window per customer; for day units, the daily totals.
func ShopHistory(ctx context.Context, db *store.DB, e Experiment, now time.Time) (History, error) {
	h := History{From: now.Add(-HistoryWindow), To: now}
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return h, err
	}
	currency, err := workspace.Currency(ctx, db)
	if err != nil {
		return h, err
	}
	cs, err := outcomes(ctx, db, e.Metric, e.Unit, h.From, h.To, loc, currency)
	if err != nil {
		return h, err
	}
	vals := map[int64]float64{}
	switch e.Unit {
	case UnitCustomer, UnitAnonymous:
		rows, err := db.Query(ctx, `SELECT DISTINCT customer_id FROM activity WHERE ts >= ? AND ts < ?`, h.From.UnixMilli(), h.To.UnixMilli())
		if err != nil {
			return h, fmt.Errorf("read active customers: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return h, err
			}
			vals[id] = 0
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return h, err
		}
		for _, c := range cs {
			vals[c.unit] += c.value
		}
	case UnitDay:
		for d := startOfDay(h.From, loc).AddDate(0, 0, 1); d.Before(startOfDay(h.To, loc)); d = d.AddDate(0, 0, 1) {
			vals[d.UnixMilli()] = 0
		}
		for _, c := range cs {
			if _, ok := vals[c.unit]; ok {
				vals[c.unit] += c.value
			}
		}
	default:
		return h, errors.New("region experiments have no stored history: plan them from region totals")
	}
	var mo Moments
	for _, v := range vals {
		if e.Metric.Kind == MetricConversion {
			v = math.Min(v, 1)
		}
		mo.Add(v, 0)
	}
	h.Units = int64(mo.N)
	h.Mean, h.SD = mo.MeanY, math.Sqrt(mo.VarY())
	h.UnitsPerDay = mo.N / (HistoryWindow.Hours() / 24)
	if e.Unit == UnitDay {
		h.UnitsPerDay = 1
	}
	return h, nil
}

// PlanFromHistory sizes e from the shop's last four weeks: "with your traffic this test
// needs 23 days to detect a 10 % lift".
func PlanFromHistory(ctx context.Context, db *store.DB, e Experiment, now time.Time) (Plan, History, error) {
	h, err := ShopHistory(ctx, db, e, now)
	if err != nil {
		return Plan{}, h, err
	}
	if h.Units < 2 || !(h.Mean > 0) || !(h.SD > 0) {
		return Plan{}, h, fmt.Errorf("not enough history to plan: %d %s in the last 4 weeks, %s mean %.3g", h.Units, e.Unit.Noun(), e.Metric.Label(e.Unit), h.Mean)
	}
	p, err := NewPlan(PlanInput{Mean: h.Mean, SD: h.SD, UnitsPerDay: h.UnitsPerDay, Arms: len(e.Variants), MDE: e.MDE,
		Sequential: e.Unit == UnitCustomer || e.Unit == UnitAnonymous})
	return p, h, err
}
