package mix

import (
	"fmt"
	"math"
	"time"
)

// baseColumn is one column of the baseline: what the target would be without any paid
// media. Values are on the scale of the target divided by its mean.
type baseColumn struct {
	name  string
	kind  string  // intercept, trend, weekday, season, holiday, control
	prior float64 // prior standard deviation of the coefficient; 0: flat
	at    func(t int, date time.Time) float64
}

// baseline lays out the baseline columns for a series of n periods from dates[0]:
//
//   - an intercept and a straight trend (in years). A trend that may bend (hinges every
//     quarter) fitted the validation data worse: it took the effect of a channel that
//     started or changed its budget for months (docs/decisions.md, "Budget model");
//   - weekday dummies (daily data);
//   - yearly seasonality as Fourier terms of order 4 (shapes down to a quarter of a year:
//     a summer dip, a December peak), when the window covers most of a year; with less, a
//     season cannot be told from the trend;
//   - the built-in holidays that occur in the window;
//   - the controls.
//
// dates cover every row the columns are needed for (a holdout too); the first n rows are
// the ones fitted, and what the baseline contains is decided on them.
func baseline(dates []time.Time, n int, period Period, controls []string, controlValues [][]float64) []baseColumn {
	days := float64(n * period.Days())
	years := func(t int) float64 { return float64(t*period.Days()) / 365.25 }
	cols := []baseColumn{
		{name: "intercept", kind: "intercept", at: func(int, time.Time) float64 { return 1 }},
		{name: "trend", kind: "trend", prior: 1, at: func(t int, _ time.Time) float64 { return years(t) - years(n-1)/2 }},
	}
	if period == Day {
		for wd := time.Monday; wd <= time.Saturday; wd++ {
			cols = append(cols, baseColumn{name: wd.String(), kind: "weekday", prior: 0.5,
				at: func(_ int, d time.Time) float64 {
					if d.Weekday() == wd {
						return 1
					}
					return 0
				}})
		}
	}
	order := 0
	if days >= 270 {
		order = 4
	}
	for k := 1; k <= order; k++ {
		w := 2 * math.Pi * float64(k) / 365.25
		mid := float64(period.Days()-1) / 2 // a week's terms at its middle day
		cols = append(cols,
			baseColumn{name: fmt.Sprintf("season sin %d", k), kind: "season", prior: 0.15,
				at: func(_ int, d time.Time) float64 { return math.Sin(w * (dayOfYear(d) + mid)) }},
			baseColumn{name: fmt.Sprintf("season cos %d", k), kind: "season", prior: 0.15,
				at: func(_ int, d time.Time) float64 { return math.Cos(w * (dayOfYear(d) + mid)) }})
	}
	hn, hc := holidayIndicators(dates, period)
	for i := range hn {
		col := hc[i]
		if sum(col[:n]) == 0 {
			continue // only in the rows not fitted
		}
		cols = append(cols, baseColumn{name: hn[i], kind: "holiday", prior: 0.5,
			at: func(t int, _ time.Time) float64 { return col[t] }})
	}
	for k, name := range controls {
		v := controlValues[k]
		sd := stddev(v[:n])
		if sd == 0 {
			continue // a constant control is the intercept
		}
		cols = append(cols, baseColumn{name: name, kind: "control", prior: 1 / sd,
			at: func(t int, _ time.Time) float64 {
				if t < len(v) {
					return v[t]
				}
				return 0
			}})
	}
	return cols
}

func dayOfYear(d time.Time) float64 { return float64(d.YearDay() - 1) }

func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := mean(x)
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}
