package mix

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Period is the length of one row of the series the model is fitted on.
type Period int

const (
	Day  Period = 1
	Week Period = 7
)

func (p Period) String() string {
	if p == Week {
		return "week"
	}
	return "day"
}

// Days is the period's length in days.
func (p Period) Days() int { return int(p) }

// Data is what the model is fitted on: one row per day (or per week), in order, without
// gaps. Spend and the target are plain numbers in the business's units (money in major
// units: euros, not cents).
type Data struct {
	Dates    []time.Time // the first day of each period (a civil date at UTC midnight)
	Target   []float64
	Channels []string
	Spend    [][]float64 // [channel][period], ≥ 0
	Controls []string
	// ControlValues [control][period]: price changes, a promotion flag, ... Added to the
	// baseline as they are (with a weak prior), so a 0/1 flag's coefficient is its effect.
	ControlValues [][]float64
}

// Len is the number of periods.
func (d *Data) Len() int { return len(d.Dates) }

// validate checks the shape and the values of d and returns its period.
func (d *Data) validate() (Period, error) {
	n := len(d.Dates)
	if n == 0 {
		return 0, errors.New("no data: the series is empty")
	}
	if len(d.Target) != n {
		return 0, fmt.Errorf("target has %d values for %d dates", len(d.Target), n)
	}
	if len(d.Channels) == 0 {
		return 0, errors.New("no spend channels: the model needs at least one channel with spend")
	}
	if len(d.Spend) != len(d.Channels) {
		return 0, fmt.Errorf("%d spend series for %d channels", len(d.Spend), len(d.Channels))
	}
	if len(d.ControlValues) != len(d.Controls) {
		return 0, fmt.Errorf("%d control series for %d controls", len(d.ControlValues), len(d.Controls))
	}
	seen := map[string]bool{}
	for _, c := range append(slices.Clone(d.Channels), d.Controls...) {
		k := strings.ToLower(c)
		if c == "" {
			return 0, errors.New("a channel or control has an empty name")
		}
		if seen[k] {
			return 0, fmt.Errorf("%q is named twice", c)
		}
		seen[k] = true
	}
	period := Day
	if n > 1 {
		switch gap := daysBetween(d.Dates[0], d.Dates[1]); gap {
		case 1:
		case 7:
			period = Week
		default:
			return 0, fmt.Errorf("dates %s and %s are %d days apart: rows must be consecutive days or weeks",
				civil(d.Dates[0]), civil(d.Dates[1]), gap)
		}
	}
	for t := 1; t < n; t++ {
		if g := daysBetween(d.Dates[t-1], d.Dates[t]); g != period.Days() {
			return 0, fmt.Errorf("dates %s and %s are %d days apart: the series must have one row per %s, without gaps or repeats",
				civil(d.Dates[t-1]), civil(d.Dates[t]), g, period)
		}
	}
	for t, v := range d.Target {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("target on %s is not a number", civil(d.Dates[t]))
		}
	}
	for c, s := range d.Spend {
		if len(s) != n {
			return 0, fmt.Errorf("channel %q has %d spend values for %d dates", d.Channels[c], len(s), n)
		}
		for t, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return 0, fmt.Errorf("spend of %q on %s is %v: spend must be a number ≥ 0", d.Channels[c], civil(d.Dates[t]), v)
			}
		}
	}
	for k, s := range d.ControlValues {
		if len(s) != n {
			return 0, fmt.Errorf("control %q has %d values for %d dates", d.Controls[k], len(s), n)
		}
		for t, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("control %q on %s is not a number", d.Controls[k], civil(d.Dates[t]))
			}
		}
	}
	return period, nil
}

// Weekly sums a daily series into weeks starting on the first date; a last partial week
// is dropped (its sum would look like a bad week). Controls are averaged.
func (d *Data) Weekly() Data {
	n := d.Len() / 7
	w := Data{Channels: d.Channels, Controls: d.Controls}
	w.Spend = make([][]float64, len(d.Channels))
	w.ControlValues = make([][]float64, len(d.Controls))
	for i := range n {
		lo := i * 7
		w.Dates = append(w.Dates, d.Dates[lo])
		w.Target = append(w.Target, sum(d.Target[lo:lo+7]))
		for c := range d.Spend {
			w.Spend[c] = append(w.Spend[c], sum(d.Spend[c][lo:lo+7]))
		}
		for k := range d.ControlValues {
			w.ControlValues[k] = append(w.ControlValues[k], sum(d.ControlValues[k][lo:lo+7])/7)
		}
	}
	return w
}

// Window returns the rows with from <= date < to (zero bounds: open).
func (d *Data) Window(from, to time.Time) Data {
	lo, hi := 0, d.Len()
	for lo < hi && !from.IsZero() && d.Dates[lo].Before(from) {
		lo++
	}
	for hi > lo && !to.IsZero() && !d.Dates[hi-1].Before(to) {
		hi--
	}
	w := Data{Dates: d.Dates[lo:hi], Target: d.Target[lo:hi], Channels: d.Channels, Controls: d.Controls}
	for _, s := range d.Spend {
		w.Spend = append(w.Spend, s[lo:hi])
	}
	for _, s := range d.ControlValues {
		w.ControlValues = append(w.ControlValues, s[lo:hi])
	}
	return w
}

func sum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return sum(x) / float64(len(x))
}

func daysBetween(a, b time.Time) int {
	return int(math.Round(civilDay(b).Sub(civilDay(a)).Hours() / 24))
}

// civilDay is t's calendar date at UTC midnight.
func civilDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func civil(t time.Time) string { return t.Format(time.DateOnly) }
