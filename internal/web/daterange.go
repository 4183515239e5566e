package web

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

// Range is the period every page shows: [From, To) in the business's time zone, whole
// days. One Range is parsed per request from ?range= (a preset) or ?from=&to= (dates,
// both inclusive) and carried across navigation in the links.
type Range struct {
	Preset string    // "7d", "30d", "90d", "ytd", "all" or "" for custom dates
	From   time.Time // first day, 00:00 local; zero for "all"
	To     time.Time // day after the last day, 00:00 local
	Loc    *time.Location
	// DataEnd is set when a rolling preset ("last 30 days") was moved back to end on the
	// last day with data: the data stops before today (an import, a demo), and a period
	// running past it would compare half-empty days with full ones.
	DataEnd bool
}

type preset struct{ Key, Label string }

var presets = []preset{
	{"7d", "Last 7 days"},
	{"30d", "Last 30 days"},
	{"90d", "Last 90 days"},
	{"ytd", "This year"},
	{"all", "All time"},
}

const dateLayout = "2006-01-02"

// ParseRange reads the period from query values; now and loc fix "today". Invalid input
// is an error the page shows next to the filter, falling back to the default.
func ParseRange(q url.Values, now time.Time, loc *time.Location) (Range, error) {
	if loc == nil {
		loc = time.UTC
	}
	now = now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	tomorrow := today.AddDate(0, 0, 1)
	r := Range{Loc: loc, To: tomorrow}
	from, to := q.Get("from"), q.Get("to")
	p := q.Get("range")
	if p == "" && (from != "" || to != "") {
		p = "custom"
	}
	if p == "" {
		p = defaultRangeName
	}
	switch p {
	case "7d", "30d", "90d":
		days := map[string]int{"7d": 7, "30d": 30, "90d": 90}[p]
		r.Preset, r.From = p, tomorrow.AddDate(0, 0, -days)
	case "ytd":
		r.Preset, r.From = p, time.Date(now.Year(), 1, 1, 0, 0, 0, 0, loc)
	case "all":
		r.Preset = p
	case "custom":
		var err error
		if from != "" {
			if r.From, err = time.ParseInLocation(dateLayout, from, loc); err != nil {
				return defaultRange(tomorrow, loc), fmt.Errorf("start date %q is not a date like 2026-01-31", from)
			}
		}
		if to != "" {
			t, err := time.ParseInLocation(dateLayout, to, loc)
			if err != nil {
				return defaultRange(tomorrow, loc), fmt.Errorf("end date %q is not a date like 2026-01-31", to)
			}
			r.To = t.AddDate(0, 0, 1)
		}
		if !r.From.IsZero() && !r.From.Before(r.To) {
			return defaultRange(tomorrow, loc), fmt.Errorf("the start date %s is after the end date %s", from, to)
		}
		// The data's real span: no event before 1990 is accepted, none from the future
		// past a day; a period outside it would only make the charts loop over emptiness.
		if floor := spanFloor(loc); from != "" && r.From.Before(floor) || !r.To.After(floor) {
			return defaultRange(tomorrow, loc), fmt.Errorf("dates before %s hold no data (omniroi accepts no event older than that)", floor.Format(dateLayout))
		}
		if r.To.After(tomorrow.AddDate(1, 0, 0)) {
			return defaultRange(tomorrow, loc), fmt.Errorf("the end date %s is more than a year ahead", to)
		}
		if r.To.Sub(r.From) > 100*366*24*time.Hour && !r.From.IsZero() {
			return defaultRange(tomorrow, loc), fmt.Errorf("the period is longer than 100 years")
		}
	default:
		return defaultRange(tomorrow, loc), fmt.Errorf("unknown period %q", p)
	}
	return r, nil
}

func defaultRange(tomorrow time.Time, loc *time.Location) Range {
	return Range{Preset: defaultRangeName, From: tomorrow.AddDate(0, 0, -30), To: tomorrow, Loc: loc}
}

// spanFloor is the first day data can have, in loc: event.MinTime's day.
func spanFloor(loc *time.Location) time.Time {
	return time.Date(event.MinTime.Year(), event.MinTime.Month(), event.MinTime.Day(), 0, 0, 0, 0, loc)
}

// FromMS and ToMS are the bounds as unix milliseconds for SQL. "All time" starts where
// data can start (1990, event.MinTime), so that an event stored with an impossible date
// before the API refused them cannot stretch a chart over centuries.
func (r Range) FromMS() int64 {
	if r.From.IsZero() {
		return event.MinTime.UnixMilli()
	}
	return r.From.UnixMilli()
}
func (r Range) ToMS() int64 { return r.To.UnixMilli() }

// Days is the number of days in the period (0 for "all").
func (r Range) Days() int {
	if r.From.IsZero() {
		return 0
	}
	return int(r.To.Sub(r.From).Hours()/24 + 0.5)
}

// Previous is the period of the same length just before r; ok is false for "all".
func (r Range) Previous() (Range, bool) {
	if r.From.IsZero() {
		return Range{}, false
	}
	d := r.Days()
	return Range{From: r.From.AddDate(0, 0, -d), To: r.From, Loc: r.Loc}, true
}

// Query is the period as query parameters, for links that keep it.
func (r Range) Query() url.Values {
	v := url.Values{}
	if r.Preset != "" && r.Preset != "custom" {
		if r.Preset != defaultRangeName {
			v.Set("range", r.Preset)
		}
		return v
	}
	if !r.From.IsZero() {
		v.Set("from", r.From.Format(dateLayout))
	}
	v.Set("to", r.To.AddDate(0, 0, -1).Format(dateLayout))
	return v
}

// FromDate and ToDate fill the date inputs (ToDate inclusive).
func (r Range) FromDate() string {
	if r.From.IsZero() {
		return ""
	}
	return r.From.Format(dateLayout)
}
func (r Range) ToDate() string { return r.To.AddDate(0, 0, -1).Format(dateLayout) }

// EndAtData moves a rolling preset (7, 30 or 90 days) back so that it ends on the day
// of last, the latest data, when the period's last two days (today, in progress, and
// yesterday, whose import may not have run) hold none: the data has stopped, not slowed.
// "All time" ends there too. Custom dates and "this year" are left as chosen.
func (r Range) EndAtData(last time.Time) Range {
	if last.IsZero() || r.Loc == nil {
		return r
	}
	switch r.Preset {
	case "7d", "30d", "90d", "all":
	default:
		return r
	}
	l := last.In(r.Loc)
	end := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, r.Loc).AddDate(0, 0, 1)
	if !end.Before(r.To.AddDate(0, 0, -1)) {
		return r
	}
	if r.Preset == "all" {
		// All the data, not all the calendar: a chart of "all time" ends where the data does.
		r.To, r.DataEnd = end, true
		return r
	}
	days := r.Days()
	r.To, r.From, r.DataEnd = end, end.AddDate(0, 0, -days), true
	return r
}

// LastDay is the period's last day in words ("30 Nov 2026").
func (r Range) LastDay() string { return r.To.AddDate(0, 0, -1).Format("2 Jan 2006") }

// Label describes the period in words.
func (r Range) Label() string {
	if r.DataEnd && r.From.IsZero() {
		return "All time, until " + r.LastDay() + ", the last day with data"
	}
	if r.DataEnd {
		return fmt.Sprintf("%s – %s, the last %d days with data", r.From.Format("2 Jan 2006"), r.To.AddDate(0, 0, -1).Format("2 Jan 2006"), r.Days())
	}
	for _, p := range presets {
		if p.Key == r.Preset {
			return p.Label
		}
	}
	if r.From.IsZero() {
		return "Until " + r.ToDate()
	}
	return r.From.Format("2 Jan 2006") + " – " + r.To.AddDate(0, 0, -1).Format("2 Jan 2006")
}

// FromDay and ToDay are the bounds as YYYY-MM-DD for day-keyed tables (spend); ToDay is
// exclusive.
func (r Range) FromDay() string {
	if r.From.IsZero() {
		return event.MinTime.Format(dateLayout)
	}
	return r.From.Format(dateLayout)
}
func (r Range) ToDay() string { return r.To.Format(dateLayout) }

// parseRange is ParseRange at the server's clock, with a rolling preset ending at the
// latest data (Range.EndAtData).
func (s *server) parseRange(ctx context.Context, q url.Values, loc *time.Location) (Range, error) {
	rg, err := ParseRange(q, s.opt.Now(), loc)
	if last, lerr := s.latestData(ctx); lerr == nil {
		rg = rg.EndAtData(last)
	}
	return rg, err
}

// latestData is the time of the newest order, refund or spend day (zero when there is none),
// read off the tables' indexes and cached like the pages' other sums. Activity is left
// out: the journey engine's own sends are activity stamped "now" and say nothing of
// where the shop's data ends.
func (s *server) latestData(ctx context.Context) (time.Time, error) {
	return cached(s.cache, "latest-data", s.opt.Now(), func() (time.Time, error) {
		var last int64
		for _, tbl := range []string{"orders", "refunds"} {
			if ok, err := s.hasTable(ctx, tbl); err != nil || !ok {
				continue
			}
			var v sql.NullInt64
			if err := s.db.QueryRow(ctx, `SELECT MAX(ts) FROM `+tbl).Scan(&v); err != nil {
				return time.Time{}, fmt.Errorf("latest %s: %w", tbl, err)
			}
			last = max(last, v.Int64)
		}
		t := time.Time{}
		if last > 0 {
			t = time.UnixMilli(last)
		}
		if ok, err := s.hasTable(ctx, "spend"); err == nil && ok {
			var d sql.NullString
			if err := s.db.QueryRow(ctx, `SELECT MAX(day) FROM spend`).Scan(&d); err != nil {
				return time.Time{}, fmt.Errorf("latest spend: %w", err)
			}
			// A spend day is a whole day of the business's calendar: its noon stands for it.
			if sd, err := time.ParseInLocation(dateLayout, d.String, s.location(ctx)); err == nil && sd.Add(12*time.Hour).After(t) {
				t = sd.Add(12 * time.Hour)
			}
		}
		return t, nil
	})
}
