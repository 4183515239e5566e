package mix

import "time"

// Holidays the baseline knows by itself. Each is a window of days per year and gets a
// coefficient of its own (with a weak prior, so one that does not matter stays near 0).
// A business with other peaks (a local fair, its own sale) adds them as a 0/1 control.
var holidays = []struct {
	Name string
	Days func(y int) []time.Time
}{
	{"Christmas run-up", func(y int) []time.Time { return span(date(y, 12, 15), 9) }},
	{"Christmas Eve", func(y int) []time.Time { return span(date(y, 12, 24), 1) }},
	{"Christmas", func(y int) []time.Time { return span(date(y, 12, 25), 2) }},
	{"New Year", func(y int) []time.Time { return append(span(date(y, 12, 31), 1), date(y, 1, 1)) }},
	{"Easter run-up", func(y int) []time.Time { return span(easter(y).AddDate(0, 0, -3), 3) }},
	{"Easter", func(y int) []time.Time { return span(easter(y), 2) }},
	{"Mother's Day run-up", func(y int) []time.Time { return span(mothersDay(y).AddDate(0, 0, -5), 5) }},
	{"Mother's Day", func(y int) []time.Time { return span(mothersDay(y), 1) }},
	{"Valentine's Day", func(y int) []time.Time { return span(date(y, 2, 14), 1) }},
	{"Black Friday weekend", func(y int) []time.Time { return span(blackFriday(y), 4) }},
}

func date(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func span(first time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = first.AddDate(0, 0, i)
	}
	return out
}

// easter is Easter Sunday (Gregorian computus, anonymous algorithm).
func easter(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	return date(y, (h+l-7*m+114)/31, (h+l-7*m+114)%31+1)
}

// mothersDay is the second Sunday of May (most of Europe's mainland, the Americas).
func mothersDay(y int) time.Time {
	t := date(y, 5, 1)
	for t.Weekday() != time.Sunday {
		t = t.AddDate(0, 0, 1)
	}
	return t.AddDate(0, 0, 7)
}

// blackFriday is the day after the fourth Thursday of November.
func blackFriday(y int) time.Time {
	t := date(y, 11, 1)
	for t.Weekday() != time.Thursday {
		t = t.AddDate(0, 0, 1)
	}
	return t.AddDate(0, 0, 22)
}

// holidayIndicators returns, per built-in holiday, the share of each period's days that
// fall in it (0/1 for days); holidays that never occur in the window are left out.
func holidayIndicators(dates []time.Time, period Period) (names []string, cols [][]float64) {
	if len(dates) == 0 {
		return nil, nil
	}
	first := civilDay(dates[0])
	last := civilDay(dates[len(dates)-1]).AddDate(0, 0, period.Days()-1)
	for _, h := range holidays {
		col := make([]float64, len(dates))
		any := false
		for y := first.Year(); y <= last.Year(); y++ {
			for _, d := range h.Days(y) {
				if d.Before(first) || d.After(last) {
					continue
				}
				i := daysBetween(first, d) / period.Days()
				if i < len(col) {
					col[i] += 1 / float64(period.Days())
					any = true
				}
			}
		}
		if any {
			names = append(names, h.Name)
			cols = append(cols, col)
		}
	}
	return names, cols
}
