package goals

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// Statuses of a goal.
const (
	StatusOnTrack = "on track" // at least an even chance of reaching the target
	StatusAtRisk  = "at risk"  // less than an even chance
	StatusReached = "reached"  // the target is reached (the date may not have come yet)
	StatusMissed  = "missed"   // the date has passed without reaching it
	StatusUnknown = "unknown"  // no forecast possible (too little history, another currency)
)

// IntervalLevel is the coverage of the interval given for a goal's final value.
const IntervalLevel = 0.8

// HistoryDays is the longest history the forecast is fitted to: older days say little
// about the coming weeks and cost time.
const HistoryDays = 730

// Status is a goal with where it stands.
type Status struct {
	Goal
	Target   float64 `json:"target"`             // major units (money) or a count
	FromDay  string  `json:"from"`               // YYYY-MM-DD
	ByDay    string  `json:"by"`                 // YYYY-MM-DD
	AsOf     string  `json:"as_of,omitempty"`    // the last day counted (the data's last complete day)
	Actual   float64 `json:"actual"`             // from From through AsOf (or By)
	Expected float64 `json:"expected,omitempty"` // actual plus the forecast's mean, at By
	Low      float64 `json:"expected_low,omitempty"`
	High     float64 `json:"expected_high,omitempty"`
	// Probability of reaching the target by the date: the share of simulated futures in
	// which it is reached (1 or 0 once reached or missed; null when unknown).
	Probability *float64 `json:"probability"`
	Status      string   `json:"status"`
	Text        string   `json:"text"`
	Warnings    []string `json:"warnings,omitempty"`
}

// Track reads each metric's daily series once (mix.LoadTarget, the budget model's
// reading of orders) and works out where every goal stands. now decides which day is
// today (zero: time.Now).
func Track(ctx context.Context, db *store.DB, gs []Goal, now time.Time) ([]Status, error) {
	if now.IsZero() {
		now = time.Now()
	}
	series := map[string]mix.TargetSeries{}
	errs := map[string]error{}
	out := make([]Status, 0, len(gs))
	for _, g := range gs {
		ts, ok := series[g.Metric]
		if _, failed := errs[g.Metric]; !ok && !failed {
			var err error
			ts, err = mix.LoadTarget(ctx, db, mix.StoreOptions{Target: g.Metric, Now: now})
			if err != nil && !strings.HasPrefix(err.Error(), "no orders") {
				return nil, fmt.Errorf("goal %s: %w", g.Name, err)
			}
			if err != nil {
				errs[g.Metric] = err
			}
			series[g.Metric] = ts
		}
		out = append(out, TrackSeries(g, ts, civil(now, ts)))
	}
	return out, nil
}

// civil is now's calendar day in the series' time zone, at UTC midnight.
func civil(now time.Time, ts mix.TargetSeries) time.Time {
	if ts.Location != nil {
		now = now.In(ts.Location)
	}
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}

// TrackSeries works out where g stands given its metric's daily series: its last day is
// the last day counted, the days after it up to the goal's date are forecast. today is
// the shop's calendar day (at UTC midnight), for saying when the data are behind.
func TrackSeries(g Goal, ts mix.TargetSeries, today time.Time) Status {
	st := Status{Goal: g, Target: g.TargetValue(), FromDay: day(g.From), ByDay: day(g.By)}
	if g.Money() && ts.Currency != "" && ts.Currency != g.Currency {
		st.Status = StatusUnknown
		st.Text = fmt.Sprintf("%s: the goal is in %s, the shop's orders are counted in %s.", st.describeTarget(), g.Currency, ts.Currency)
		return st
	}
	st.Warnings = append(st.Warnings, ts.Notes...)
	if len(ts.Dates) == 0 {
		st.Status = StatusUnknown
		st.Text = st.describeTarget() + ": no orders yet to count or to forecast from."
		return st
	}
	last := ts.Dates[len(ts.Dates)-1]
	st.AsOf = day(last)
	for i, d := range ts.Dates {
		if !d.Before(g.From) && !d.After(g.By) {
			st.Actual += ts.Values[i]
		}
	}
	target := st.Target
	switch {
	case st.Actual >= target:
		st.Status, st.Probability = StatusReached, ptr(1)
		st.Text = fmt.Sprintf("%s of %s by %s: reached.", st.num(st.Actual), st.amount(target), dayWords(g.By))
		return st
	case !last.Before(g.By):
		st.Status, st.Probability = StatusMissed, ptr(0)
		st.Text = fmt.Sprintf("%s of %s by %s: missed by %s.", st.num(st.Actual), st.amount(target), dayWords(g.By), st.num(target-st.Actual))
		return st
	}
	// The future: from the day after the last one counted up to the date.
	hist := ts.Values
	if len(hist) > HistoryDays {
		hist = hist[len(hist)-HistoryDays:]
	}
	m, err := Fit(hist)
	if err != nil {
		st.Status = StatusUnknown
		st.Text = fmt.Sprintf("%s of %s by %s so far; no forecast yet.", st.num(st.Actual), st.amount(target), dayWords(g.By))
		if errors.Is(err, ErrTooShort) {
			st.Warnings = append(st.Warnings, fmt.Sprintf("The forecast needs at least %d days of orders (%d weeks, for the weekday pattern); there are %d: %d more needed.",
				MinDays, MinDays/Season, len(hist), MinDays-len(hist)))
		} else {
			st.Warnings = append(st.Warnings, err.Error())
		}
		return st
	}
	horizon := int(math.Round(g.By.Sub(last).Hours() / 24))
	skip := 0
	if g.From.After(last) {
		skip = int(math.Round(g.From.Sub(last).Hours()/24)) - 1
	}
	f := m.SimulateFrom(skip, horizon, DefaultPaths, IntervalLevel)
	p := f.ProbabilityAtLeast(target - st.Actual)
	st.Probability = &p
	st.Expected = st.Actual + f.SumMean()
	st.Low = st.Actual + f.SumQuantile((1-IntervalLevel)/2)
	st.High = st.Actual + f.SumQuantile(1-(1-IntervalLevel)/2)
	st.Status = StatusAtRisk
	if p >= 0.5 {
		st.Status = StatusOnTrack
	}
	st.Text = fmt.Sprintf("%s of %s by %s: %s likely (%s); expected %s, %d %% interval %s to %s.",
		st.num(st.Actual), st.amount(target), dayWords(g.By), percent(p), st.Status,
		st.num(st.Expected), int(IntervalLevel*100), st.num(st.Low), st.num(st.High))
	if lag := daysBetween(last, today); lag > 2 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("The orders end on %s, %d days ago: the days since are forecast, not counted. Import the latest orders for an up-to-date answer.",
			day(last), lag))
	}
	return st
}

func daysBetween(a, b time.Time) int { return int(math.Round(b.Sub(a).Hours() / 24)) }

func ptr(v float64) *float64 { return &v }

// Chance writes the goal's probability for a table: "72 %", "under 1 %", "0 %" once
// missed, "–" when unknown.
func (st Status) Chance() string {
	switch {
	case st.Probability == nil:
		return "–"
	case st.Status == StatusMissed:
		return "0 %"
	}
	return percent(*st.Probability)
}

// percent writes a probability as a whole percentage, never 0 % or 100 % for what is
// merely unlikely or likely (a simulation cannot rule out what it did not draw).
func percent(p float64) string {
	v := math.Round(p * 100)
	switch {
	case v <= 0 && p < 1:
		return "under 1 %"
	case v >= 100 && p < 1:
		return "over 99 %"
	}
	return fmt.Sprintf("%d %%", int(v))
}

func dayWords(t time.Time) string { return t.Format("2 Jan 2006") }

func (st Status) describeTarget() string {
	return fmt.Sprintf("%s by %s", st.amount(st.Target), dayWords(st.By))
}

// amount writes a value of the goal's metric: money with its symbol in whole units
// ("€12,400"), or a count with its noun ("412 orders").
func (st Status) amount(v float64) string {
	if st.Money() {
		return FormatMoney(v, st.Currency)
	}
	n := int64(math.Round(v))
	return fmt.Sprintf("%s %s", money.Count(n), noun(st.Metric))
}

// num writes a value of the metric without its noun: "€12,400" or "412".
func (st Status) num(v float64) string {
	if st.Money() {
		return FormatMoney(v, st.Currency)
	}
	return money.Count(int64(math.Round(v)))
}

func noun(metric string) string {
	if metric == MetricNewCustomers {
		return "new customers"
	}
	return metric
}

// FormatMoney writes an amount in whole units of currency with its symbol (or code).
func FormatMoney(v float64, currency string) string {
	n := int64(math.Round(v))
	if n < 0 {
		return money.WithCurrency(money.GroupDigits(strconv.FormatUint(uint64(-n), 10)), true, currency)
	}
	return money.WithCurrency(money.Count(n), false, currency)
}
