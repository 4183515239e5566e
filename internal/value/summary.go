package value

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
)

// Unit is the time unit of recency, age and forecast horizons.
type Unit int

const (
	Day Unit = iota
	Week
)

// Days is the length of the unit in days.
func (u Unit) Days() float64 {
	if u == Week {
		return 7
	}
	return 1
}

func (u Unit) String() string {
	if u == Week {
		return "week"
	}
	return "day"
}

// ParseUnit accepts "day"/"d" and "week"/"w".
func ParseUnit(s string) (Unit, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "day", "days", "d":
		return Day, nil
	case "week", "weeks", "w", "":
		return Week, nil
	}
	return 0, fmt.Errorf("unknown time unit %q (want day or week)", s)
}

// CustomerSummary is one customer's buy-till-you-die summary at a calibration end,
// with the CDNOW conventions (see docs/value.md):
//   - a purchase is a distinct purchase day: a day with at least one transaction
//     with Amount >= 0; the day's value is its net amount floored at 0;
//   - Frequency x = purchase days - 1 (repeat purchases);
//   - Recency t_x = (last - first purchase day) in units; T = (end - first purchase day) in units;
//   - Monetary m = mean value of the repeat purchase days (first purchase excluded), 0 when x = 0.
type CustomerSummary struct {
	ID        string
	Frequency int
	Recency   float64
	T         float64
	Monetary  float64 // minor units
	// RecencyDays and AgeDays are Recency and T in whole days.
	RecencyDays, AgeDays int
	First, Last          time.Time // first and last purchase day (UTC midnight)
	// Revenue is the realised net amount (sales minus refunds) up to the calibration end.
	Revenue int64
	// ZeroValueRepeats counts repeat purchase days whose value is 0.
	ZeroValueRepeats int
}

type dayAgg struct {
	day      int64
	net      int64
	purchase bool // at least one transaction with Amount >= 0
}

// customerDays groups transactions per customer and day; days sorted ascending.
func customerDays(txs []Transaction, fromDay, toDay int64) map[string][]dayAgg {
	m := map[string][]dayAgg{}
	for _, tx := range txs {
		d := dayNumber(tx.Time)
		if d < fromDay || d > toDay {
			continue
		}
		m[tx.CustomerID] = append(m[tx.CustomerID], dayAgg{day: d, net: tx.Amount, purchase: tx.Amount >= 0})
	}
	for id, ds := range m {
		slices.SortFunc(ds, func(a, b dayAgg) int { return cmpInt64(a.day, b.day) })
		out := ds[:0]
		for _, d := range ds {
			if n := len(out); n > 0 && out[n-1].day == d.day {
				out[n-1].net = money.SatAdd(out[n-1].net, d.net)
				out[n-1].purchase = out[n-1].purchase || d.purchase
				continue
			}
			out = append(out, d)
		}
		m[id] = out
	}
	return m
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Summarize builds per-customer summaries from the transactions up to and
// including the calendar day calibrationEnd. Customers without a purchase day
// by then (none, or only refunds) are left out. The result is sorted by ID
// (numerically when both IDs are integers).
func Summarize(txs []Transaction, calibrationEnd time.Time, unit Unit) ([]CustomerSummary, error) {
	if calibrationEnd.IsZero() {
		return nil, errors.New("summarize: calibration end is not set")
	}
	end := dayNumber(calibrationEnd)
	byCust := customerDays(txs, -1<<40, end)
	out := make([]CustomerSummary, 0, len(byCust))
	for id, days := range byCust {
		s, ok := summarizeDays(id, days, end, unit)
		if ok {
			out = append(out, s)
		}
	}
	SortByID(out)
	return out, nil
}

func summarizeDays(id string, days []dayAgg, end int64, unit Unit) (CustomerSummary, bool) {
	s := CustomerSummary{ID: id}
	first, last := int64(-1), int64(-1)
	var repeatSum int64
	n := 0
	for _, d := range days {
		s.Revenue = money.SatAdd(s.Revenue, d.net)
		if !d.purchase {
			continue
		}
		if first < 0 {
			first = d.day
		} else {
			v := max(d.net, 0)
			repeatSum = money.SatAdd(repeatSum, v)
			if v == 0 {
				s.ZeroValueRepeats++
			}
		}
		last = d.day
		n++
	}
	if n == 0 {
		return s, false
	}
	s.Frequency = n - 1
	s.RecencyDays = int(last - first)
	s.AgeDays = int(end - first)
	s.Recency = float64(s.RecencyDays) / unit.Days()
	s.T = float64(s.AgeDays) / unit.Days()
	if s.Frequency > 0 {
		s.Monetary = float64(repeatSum) / float64(s.Frequency)
	}
	s.First, s.Last = dayTime(first), dayTime(last)
	return s, true
}

// SortByID sorts summaries by ID, numerically when both IDs are integers.
func SortByID(s []CustomerSummary) {
	slices.SortFunc(s, func(a, b CustomerSummary) int { return compareIDs(a.ID, b.ID) })
}

func compareIDs(a, b string) int {
	ai, errA := strconv.ParseInt(a, 10, 64)
	bi, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmpInt64(ai, bi)
	}
	return strings.Compare(a, b)
}
