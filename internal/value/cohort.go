package value

import (
	"slices"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
)

// CohortMonth is one month since acquisition of a cohort (month 0 is the month
// of the first purchase).
type CohortMonth struct {
	Month     int     `json:"month"`
	Active    int     `json:"active"`    // customers with a purchase day in that month
	Retention float64 `json:"retention"` // Active / cohort size
	Revenue   int64   `json:"revenue"`   // net, minor units
	Partial   bool    `json:"partial,omitempty"`
}

// Cohort is the customers whose first purchase fell in one calendar month
// (and, in the split, who came through one channel).
type Cohort struct {
	Channel    string        `json:"channel,omitempty"`
	Start      string        `json:"start"` // YYYY-MM
	Customers  int           `json:"customers"`
	Repeaters  int           `json:"repeaters"`   // customers with 2+ purchase days by the as-of date
	RepeatRate float64       `json:"repeat_rate"` // Repeaters / Customers
	Months     []CohortMonth `json:"months"`
	// Censored marks the cohort of the data's first month: customers who bought before the
	// data starts have their first purchase *in the data* there too, so it mixes new
	// customers with old regulars and its retention runs high.
	Censored bool `json:"censored,omitempty"`
}

// CohortReport holds all cohorts and, when channels were given, the split by channel.
type CohortReport struct {
	AsOf      time.Time `json:"as_of"`
	Cohorts   []Cohort  `json:"cohorts"`
	ByChannel []Cohort  `json:"by_channel,omitempty"`
}

// UnknownChannel is the channel of customers missing from the channel map.
const UnknownChannel = "unknown"

func monthIndex(day int64) int {
	y, m, _ := dayTime(day).Date()
	return y*12 + int(m) - 1
}

// Cohorts groups customers by the month of their first purchase day up to asOf
// and reports monthly retention and revenue since then. channels (customer →
// acquisition channel) may be nil; otherwise the same table is split by channel.
// The as-of month is marked Partial unless asOf is its last day.
//
// The table is dense (a cell per cohort and month), so its range is bounded to the span
// data can really have: transactions before 1990 are left out and the as-of day is at
// most a year from now, whatever a stored event says (LoadStoreData leaves such
// transactions out already; this holds for any caller).
func Cohorts(txs []Transaction, asOf time.Time, channels map[string]string) CohortReport {
	floor := dayNumber(event.MinTime)
	end := min(dayNumber(asOf), dayNumber(time.Now().AddDate(1, 0, 0)))
	endMonth := monthIndex(end)
	partial := monthIndex(end+1) == endMonth // the as-of day is not the month's last
	type key struct {
		ch    string
		start int
	}
	all := map[key]*Cohort{}
	split := map[key]*Cohort{}
	get := func(m map[key]*Cohort, k key) *Cohort {
		c, ok := m[k]
		if !ok {
			n := endMonth - k.start + 1
			c = &Cohort{Channel: k.ch, Start: time.Date(k.start/12, time.Month(k.start%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"), Months: make([]CohortMonth, n)}
			for i := range c.Months {
				c.Months[i].Month = i
			}
			c.Months[n-1].Partial = partial
			m[k] = c
		}
		return c
	}
	for id, days := range customerDays(txs, floor, end) {
		first := -1
		purchases := 0
		for _, d := range days {
			if d.purchase {
				if first < 0 {
					first = monthIndex(d.day)
				}
				purchases++
			}
		}
		if first < 0 {
			continue
		}
		targets := []*Cohort{get(all, key{"", first})}
		if channels != nil {
			ch := channels[id]
			if ch == "" {
				ch = UnknownChannel
			}
			targets = append(targets, get(split, key{ch, first}))
		}
		for _, c := range targets {
			c.Customers++
			if purchases >= 2 {
				c.Repeaters++
			}
			lastActive := -1
			for _, d := range days {
				k := monthIndex(d.day) - first
				if k < 0 {
					continue // refund before the first purchase: ignore
				}
				c.Months[k].Revenue = money.SatAdd(c.Months[k].Revenue, d.net)
				if d.purchase && k != lastActive {
					c.Months[k].Active++
					lastActive = k
				}
			}
		}
	}
	firstMonth := -1
	for _, t := range txs {
		if d := dayNumber(t.Time); d >= floor && d <= end && t.Amount >= 0 && (firstMonth < 0 || monthIndex(d) < firstMonth) {
			firstMonth = monthIndex(d)
		}
	}
	finish := func(m map[key]*Cohort) []Cohort {
		out := make([]Cohort, 0, len(m))
		for k, c := range m {
			c.Censored = k.start == firstMonth
			c.RepeatRate = float64(c.Repeaters) / float64(c.Customers)
			for i := range c.Months {
				c.Months[i].Retention = float64(c.Months[i].Active) / float64(c.Customers)
			}
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b Cohort) int {
			if c := strings.Compare(a.Channel, b.Channel); c != 0 {
				return c
			}
			return strings.Compare(a.Start, b.Start)
		})
		return out
	}
	rep := CohortReport{AsOf: asOf, Cohorts: finish(all)}
	if channels != nil {
		rep.ByChannel = finish(split)
	}
	return rep
}
