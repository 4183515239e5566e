package commerce

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Exchange rates. Orders keep the currency they were paid in; reports that add orders of
// several currencies convert each into the business currency with FX.Convert, the one
// conversion every report uses. Rates come from a daily rates file (`omniroi import fx`,
// e.g. the ECB's reference rates: 1 EUR = rate of each currency).

// FXMaxGapKey bounds how old a rate may be: an order of a Sunday uses Friday's rate, an
// order a month after the last rate of the file has none.
var FXMaxGapKey = workspace.Register(workspace.Key{Name: "fx.max_gap_days", Group: "business", Default: "7",
	Summary: "how many days before an order an exchange rate may date from (rates are published on working days)",
	Check: func(v string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 366 {
			return "", fmt.Errorf("%q: want a number of days from 0 to 366", v)
		}
		return strconv.Itoa(n), nil
	}})

// Rate is one published rate: on Day, 1 Base = Rate Quote.
type Rate struct {
	Base  string
	Quote string
	Day   string // YYYY-MM-DD
	Rate  string // decimal text, > 0
}

// ParseRate checks and normalises a rate's fields; the error names what is wrong.
func ParseRate(base, quote, day, rate string) (Rate, *big.Rat, error) {
	b, err := money.NormalizeCurrency(base)
	if err != nil {
		return Rate{}, nil, fmt.Errorf("base currency: %w", err)
	}
	q, err := money.NormalizeCurrency(quote)
	if err != nil {
		return Rate{}, nil, fmt.Errorf("quote currency: %w", err)
	}
	if b == q {
		return Rate{}, nil, fmt.Errorf("base and quote are both %s", b)
	}
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(day))
	if err != nil {
		return Rate{}, nil, fmt.Errorf("%q is not a date (YYYY-MM-DD)", day)
	}
	rate = strings.TrimSpace(rate)
	r, ok := new(big.Rat).SetString(rate)
	if !ok || strings.ContainsAny(rate, "/eE") {
		return Rate{}, nil, fmt.Errorf("%q is not a decimal number", rate)
	}
	if r.Sign() <= 0 {
		return Rate{}, nil, fmt.Errorf("rate %s is not above zero", rate)
	}
	return Rate{Base: b, Quote: q, Day: d.Format(time.DateOnly), Rate: canonicalDecimal(rate)}, r, nil
}

// canonicalDecimal writes a positive decimal without a sign, leading zeros or trailing
// fractional zeros ("149.30" and "149.3" are one rate).
func canonicalDecimal(s string) string {
	s = strings.TrimPrefix(s, "+")
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if t := strings.TrimLeft(s, "0"); t == "" || t[0] == '.' {
		s = "0" + t
	} else {
		s = t
	}
	return s
}

// UpsertRates stores rates inside tx: a rate already stored for the same pair and day is
// replaced. It returns how many rows were new or changed and how many were identical.
func UpsertRates(ctx context.Context, tx *store.Tx, rates []Rate, origin string) (changed, same int, err error) {
	for _, r := range rates {
		var old string
		err := tx.QueryRow(ctx, `SELECT rate FROM fx_rates WHERE base = ? AND quote = ? AND day = ?`, r.Base, r.Quote, r.Day).Scan(&old)
		switch {
		case err == nil && old == r.Rate:
			same++
			continue
		case err == nil:
			_, err = tx.Exec(ctx, `UPDATE fx_rates SET rate = ?, origin = ? WHERE base = ? AND quote = ? AND day = ?`, r.Rate, origin, r.Base, r.Quote, r.Day)
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.Exec(ctx, `INSERT INTO fx_rates (base, quote, day, rate, origin) VALUES (?, ?, ?, ?, ?)`, r.Base, r.Quote, r.Day, r.Rate, origin)
		}
		if err != nil {
			return changed, same, fmt.Errorf("store rate %s/%s %s: %w", r.Base, r.Quote, r.Day, err)
		}
		changed++
	}
	return changed, same, nil
}

// FX holds the stored rates in memory, by pair and day, for converting many amounts.
type FX struct {
	pairs  map[string][]dayRate // "BASE/QUOTE" → rates by day, oldest first
	bases  []string             // currencies that are the base of some pair, most pairs first
	MaxGap int                  // days a rate may be older than the amount's day
}

type dayRate struct {
	day  int // days since 1970-01-01
	rate *big.Rat
}

func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func dayText(n int) string { return time.Unix(int64(n)*86400, 0).UTC().Format(time.DateOnly) }

// LoadFX reads every stored rate and the fx.max_gap_days setting.
func LoadFX(ctx context.Context, db *store.DB) (*FX, error) {
	gap, err := workspace.Int(ctx, db, FXMaxGapKey.Name)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT base, quote, day, rate FROM fx_rates ORDER BY base, quote, day`)
	if err != nil {
		return nil, fmt.Errorf("read exchange rates: %w", err)
	}
	defer rows.Close()
	var rates []Rate
	for rows.Next() {
		var r Rate
		if err := rows.Scan(&r.Base, &r.Quote, &r.Day, &r.Rate); err != nil {
			return nil, fmt.Errorf("read exchange rates: %w", err)
		}
		rates = append(rates, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read exchange rates: %w", err)
	}
	fx, err := NewFX(rates, int(gap))
	if err != nil {
		return nil, err
	}
	return fx, nil
}

// NewFX builds an FX from rates (any order; a later duplicate of a pair and day wins).
func NewFX(rates []Rate, maxGap int) (*FX, error) {
	fx := &FX{pairs: map[string][]dayRate{}, MaxGap: maxGap}
	count := map[string]int{}
	for _, r := range rates {
		d, err := time.Parse(time.DateOnly, r.Day)
		if err != nil {
			return nil, fmt.Errorf("stored rate %s/%s: bad day %q", r.Base, r.Quote, r.Day)
		}
		v, ok := new(big.Rat).SetString(r.Rate)
		if !ok || v.Sign() <= 0 {
			return nil, fmt.Errorf("stored rate %s/%s %s: bad rate %q", r.Base, r.Quote, r.Day, r.Rate)
		}
		k := r.Base + "/" + r.Quote
		fx.pairs[k] = append(fx.pairs[k], dayRate{day: dayNumber(d), rate: v})
		count[r.Base]++
	}
	for k, list := range fx.pairs {
		sort.SliceStable(list, func(i, j int) bool { return list[i].day < list[j].day })
		// keep the last of equal days
		out := list[:0]
		for i, dr := range list {
			if i+1 < len(list) && list[i+1].day == dr.day {
				continue
			}
			out = append(out, dr)
		}
		fx.pairs[k] = out
	}
	for b := range count {
		fx.bases = append(fx.bases, b)
	}
	sort.Slice(fx.bases, func(i, j int) bool {
		if count[fx.bases[i]] != count[fx.bases[j]] {
			return count[fx.bases[i]] > count[fx.bases[j]]
		}
		return fx.bases[i] < fx.bases[j]
	})
	return fx, nil
}

// Empty reports whether no rate is stored.
func (fx *FX) Empty() bool { return fx == nil || len(fx.pairs) == 0 }

// Conversion is an amount converted into another currency, and how.
type Conversion struct {
	Amount    money.Amount // in the target currency
	Converted bool         // false: the amount was already in the target currency
	Rate      string       // units of the target currency per unit of the source, as used (rounded to 10 significant digits for display)
	RateDay   string       // the day of the rate used (of the older leg for a cross rate)
	Via       string       // the currency a cross rate went through ("" for a direct or inverse rate)
}

// NoRateError says that an amount could not be converted, and why.
type NoRateError struct {
	From, To string
	Day      string
	Reason   string
}

func (e *NoRateError) Error() string {
	return fmt.Sprintf("no %s→%s exchange rate for %s: %s", e.From, e.To, e.Day, e.Reason)
}

// ErrNoRate matches every NoRateError with errors.Is.
var ErrNoRate = errors.New("no exchange rate")

func (e *NoRateError) Is(target error) bool { return target == ErrNoRate }

// Convert converts a into currency to on the calendar day of t (in t's location: pass
// t.In(business time zone)). It uses the latest rate on or up to MaxGap days before that
// day: directly (to per from), inverted (from per to), or across a base currency of the
// stored rates (EUR for the ECB's). The result is rounded half away from zero to the
// target currency's minor unit. Without a usable rate it returns a *NoRateError.
func (fx *FX) Convert(a money.Amount, t time.Time, to string) (Conversion, error) {
	from := strings.ToUpper(a.Currency)
	to = strings.ToUpper(to)
	day := dayNumber(t)
	if from == to {
		return Conversion{Amount: money.Amount{Minor: a.Minor, Currency: to}}, nil
	}
	rate, rday, via, err := fx.rate(from, to, day)
	if err != nil {
		return Conversion{}, err
	}
	// minor_to = minor_from × rate × 10^(exp_to − exp_from)
	v := new(big.Rat).Mul(new(big.Rat).SetInt64(a.Minor), rate)
	if d := money.Exponent(to) - money.Exponent(from); d != 0 {
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(absInt(d))), nil))
		if d > 0 {
			v.Mul(v, p)
		} else {
			v.Quo(v, p)
		}
	}
	minor, ok := roundHalfAway(v)
	if !ok {
		return Conversion{}, fmt.Errorf("%s converted to %s is out of range", a, to)
	}
	return Conversion{Amount: money.Amount{Minor: minor, Currency: to}, Converted: true,
		Rate: rate.FloatString(10), RateDay: dayText(rday), Via: via}, nil
}

// rate finds to-per-from on day: direct, inverse, then across each base currency.
func (fx *FX) rate(from, to string, day int) (*big.Rat, int, string, error) {
	noRate := func(reason string) error {
		return &NoRateError{From: from, To: to, Day: dayText(day), Reason: reason}
	}
	if fx.Empty() {
		return nil, 0, "", noRate("no exchange rates are stored (import a daily rates file: omniroi import fx FILE)")
	}
	if r, d, ok := fx.lookup(from, to, day); ok {
		return r, d, "", nil
	}
	if r, d, ok := fx.lookup(to, from, day); ok {
		return new(big.Rat).Inv(r), d, "", nil
	}
	for _, b := range fx.bases {
		if b == from || b == to {
			continue
		}
		rf, df, ok1 := fx.lookupEither(b, from, day) // from per base
		rt, dt, ok2 := fx.lookupEither(b, to, day)   // to per base
		if ok1 && ok2 {
			return new(big.Rat).Quo(rt, rf), min(df, dt), b, nil
		}
	}
	return nil, 0, "", noRate(fx.why(from, to, day))
}

// lookupEither is base→c directly or from an inverse c→base rate.
func (fx *FX) lookupEither(base, c string, day int) (*big.Rat, int, bool) {
	if r, d, ok := fx.lookup(base, c, day); ok {
		return r, d, true
	}
	if r, d, ok := fx.lookup(c, base, day); ok {
		return new(big.Rat).Inv(r), d, true
	}
	return nil, 0, false
}

// lookup finds the latest rate of base/quote on or before day, within MaxGap days.
func (fx *FX) lookup(base, quote string, day int) (*big.Rat, int, bool) {
	list := fx.pairs[base+"/"+quote]
	i := sort.Search(len(list), func(i int) bool { return list[i].day > day }) - 1
	if i < 0 || day-list[i].day > fx.MaxGap {
		return nil, 0, false
	}
	return list[i].rate, list[i].day, true
}

// why explains a missing rate in plain words: which currency has no rates at all, or
// how far the nearest rate is from the day.
func (fx *FX) why(from, to string, day int) string {
	known := map[string]bool{}
	first, last := map[string]int{}, map[string]int{}
	for k, list := range fx.pairs {
		b, q, _ := strings.Cut(k, "/")
		for _, c := range []string{b, q} {
			known[c] = true
			if f, ok := first[c]; !ok || list[0].day < f {
				first[c] = list[0].day
			}
			if l, ok := last[c]; !ok || list[len(list)-1].day > l {
				last[c] = list[len(list)-1].day
			}
		}
	}
	for _, c := range []string{from, to} {
		if !known[c] {
			return fmt.Sprintf("the stored rates do not include %s", c)
		}
	}
	for _, c := range []string{from, to} {
		if day < first[c] {
			return fmt.Sprintf("the rates for %s start on %s", c, dayText(first[c]))
		}
		if day-last[c] > fx.MaxGap {
			return fmt.Sprintf("the latest rate for %s is of %s, more than %d days earlier (setting fx.max_gap_days)", c, dayText(last[c]), fx.MaxGap)
		}
	}
	return fmt.Sprintf("no rate of either currency within %d days before it (setting fx.max_gap_days)", fx.MaxGap)
}

func absInt(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// roundHalfAway rounds v to an integer, halves away from zero.
func roundHalfAway(v *big.Rat) (int64, bool) {
	num, den := v.Num(), v.Denom()
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	r.Abs(r).Mul(r, big.NewInt(2))
	if r.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// PairSummary describes the stored rates of one currency pair.
type PairSummary struct {
	Base   string `json:"base"`
	Quote  string `json:"quote"`
	Days   int    `json:"days"`
	First  string `json:"first_day"`
	Last   string `json:"last_day"`
	Latest string `json:"latest_rate"`
}

// RateSummary lists what rates are stored, pair by pair.
func RateSummary(ctx context.Context, db *store.DB) ([]PairSummary, error) {
	rows, err := db.Query(ctx, `SELECT base, quote, COUNT(*), MIN(day), MAX(day) FROM fx_rates GROUP BY base, quote ORDER BY base, quote`)
	if err != nil {
		return nil, fmt.Errorf("summarise exchange rates: %w", err)
	}
	var out []PairSummary
	for rows.Next() {
		var p PairSummary
		if err := rows.Scan(&p.Base, &p.Quote, &p.Days, &p.First, &p.Last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("summarise exchange rates: %w", err)
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		p := &out[i]
		if err := db.QueryRow(ctx, `SELECT rate FROM fx_rates WHERE base = ? AND quote = ? AND day = ?`, p.Base, p.Quote, p.Last).Scan(&p.Latest); err != nil {
			return nil, fmt.Errorf("summarise exchange rates: %w", err)
		}
	}
	return out, nil
}
