package mix

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

// Targets the store can provide.
const (
	TargetRevenue        = "revenue"          // net of refunds, business currency
	TargetOrders         = "orders"           // orders placed
	TargetNewCustomers   = "new_customers"    // customers placing their first order
	TargetFirstYearValue = "first_year_value" // first-year value of the day's new customers
)

// Targets lists the store's targets.
var Targets = []string{TargetRevenue, TargetOrders, TargetNewCustomers, TargetFirstYearValue}

// NewCustomerBurnIn is how long after the first order on record new customers start to
// be counted: before that, a returning customer's first order on record looks new.
const NewCustomerBurnIn = 90

// Series is a model's input read from the store (or a file), with what it measures.
type Series struct {
	Data     Data
	Target   string
	Currency string // of the money amounts (spend, and the target when it is money)
	Money    bool   // the target is money
	Notes    []string
}

// StoreOptions select what LoadStore reads.
type StoreOptions struct {
	Target   string    // one of Targets; "" is revenue
	From, To time.Time // first and last day, inclusive; zero: all the days both spend and orders cover
	Now      time.Time // today is left out (it is not over); zero: time.Now
}

// LoadStore reads the daily series from the store: spend per day and channel from the
// imported spend rows, the target per day from the orders. Orders and refunds are read by
// value.LoadStoreData, the one reading of them the value models use: amounts in the
// business currency (other currencies skipped and counted), days in the business time
// zone, refunds netted on the day they were made, a full refund taking the order's amount.
// The window is the days both spend and orders cover, without today.
func LoadStore(ctx context.Context, db *store.DB, o StoreOptions) (Series, error) {
	if o.Target == "" {
		o.Target = TargetRevenue
	}
	if !slices.Contains(Targets, o.Target) {
		return Series{}, fmt.Errorf("target %q: want one of %v", o.Target, Targets)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	sd, err := value.LoadStoreData(ctx, db, time.Time{})
	if err != nil {
		return Series{}, err
	}
	s := Series{Target: o.Target, Currency: sd.Currency, Money: o.Target == TargetRevenue || o.Target == TargetFirstYearValue}
	if sd.SkippedOrders > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d orders in other currencies than %s were left out.", sd.SkippedOrders, sd.Currency))
	}
	spend, channels, skipped, err := dailySpend(ctx, db, sd.Currency)
	if err != nil {
		return s, err
	}
	if skipped > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d spend rows in other currencies than %s were left out.", skipped, sd.Currency))
	}
	if len(spend) == 0 {
		return s, errors.New("no spend in the store: import what the channels cost first (omniroi import spend FILE.csv)")
	}
	if len(sd.Transactions) == 0 {
		return s, errors.New("no orders in the store: the model needs the daily target from orders")
	}
	loc := sd.Location
	dayOf := func(t time.Time) time.Time { return civilDay(t.In(loc)) }
	firstOrder := dayOf(sd.Transactions[0].Time)
	lastOrder := firstOrder
	for _, tx := range sd.Transactions {
		d := dayOf(tx.Time)
		if d.Before(firstOrder) {
			firstOrder = d
		}
		if d.After(lastOrder) {
			lastOrder = d
		}
	}
	days := make([]time.Time, 0, len(spend))
	for d := range spend {
		days = append(days, d)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	from := maxTime(days[0], firstOrder)
	to := minTime(days[len(days)-1], lastOrder)
	if today := civilDay(o.Now.In(loc)); !to.Before(today) {
		to = today.AddDate(0, 0, -1)
	}
	if o.Target == TargetNewCustomers || o.Target == TargetFirstYearValue {
		if burn := firstOrder.AddDate(0, 0, NewCustomerBurnIn); from.Before(burn) {
			from = burn
			s.Notes = append(s.Notes, fmt.Sprintf("New customers are counted from %s, %d days after the first order on record: before that a returning customer's first order on record looks new.",
				civil(burn), NewCustomerBurnIn))
		}
	}
	if !o.From.IsZero() {
		from = maxTime(from, civilDay(o.From))
	}
	if !o.To.IsZero() {
		to = minTime(to, civilDay(o.To))
	}
	if to.Before(from) {
		return s, fmt.Errorf("no days with both spend and orders in the window (spend %s to %s, orders %s to %s)",
			civil(days[0]), civil(days[len(days)-1]), civil(firstOrder), civil(lastOrder))
	}
	n := daysBetween(from, to) + 1
	d := Data{Channels: channels, Spend: make([][]float64, len(channels)), Target: make([]float64, n)}
	for i := range n {
		d.Dates = append(d.Dates, from.AddDate(0, 0, i))
	}
	for c, ch := range channels {
		d.Spend[c] = make([]float64, n)
		for i, day := range d.Dates {
			d.Spend[c][i] = money.Major(spend[day][ch], sd.Currency)
		}
	}
	var note string
	if d.Target, note, err = dailyTarget(ctx, sd, o.Target, from, n, lastOrder); err != nil {
		return s, err
	}
	if note != "" {
		s.Notes = append(s.Notes, note)
	}
	s.Data = d
	return s, nil
}

// TargetSeries is a target per day read from the orders alone.
type TargetSeries struct {
	Dates    []time.Time // consecutive local days (at UTC midnight)
	Values   []float64   // the target per day; money in major units of Currency
	Target   string
	Currency string
	Money    bool
	// LastOrder is the local day of the latest order on record.
	LastOrder time.Time
	Location  *time.Location // the business time zone days are counted in
	Notes     []string
}

// LoadTarget reads the target per day from the orders alone, without spend: the same
// reading as LoadStore's (value.LoadStoreData; revenue net of refunds on the day they were
// made, new customers from NewCustomerBurnIn days after the first order on record). The
// days run from o.From (zero: the first order's day) to o.To (zero: the latest order's
// day), inclusive, never including today or later (today is not over).
func LoadTarget(ctx context.Context, db *store.DB, o StoreOptions) (TargetSeries, error) {
	if o.Target == "" {
		o.Target = TargetRevenue
	}
	if !slices.Contains(Targets, o.Target) {
		return TargetSeries{}, fmt.Errorf("target %q: want one of %v", o.Target, Targets)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	sd, err := value.LoadStoreData(ctx, db, time.Time{})
	if err != nil {
		return TargetSeries{}, err
	}
	ts := TargetSeries{Target: o.Target, Currency: sd.Currency, Location: sd.Location,
		Money: o.Target == TargetRevenue || o.Target == TargetFirstYearValue}
	if sd.SkippedOrders > 0 {
		ts.Notes = append(ts.Notes, fmt.Sprintf("%d orders in other currencies than %s were left out.", sd.SkippedOrders, sd.Currency))
	}
	if len(sd.Transactions) == 0 {
		return ts, errors.New("no orders in the store")
	}
	dayOf := func(t time.Time) time.Time { return civilDay(t.In(sd.Location)) }
	first, last := dayOf(sd.Transactions[0].Time), dayOf(sd.Transactions[0].Time)
	for _, tx := range sd.Transactions {
		d := dayOf(tx.Time)
		first, last = minTime(first, d), maxTime(last, d)
	}
	ts.LastOrder = last
	from, to := first, last
	if today := civilDay(o.Now.In(sd.Location)); !to.Before(today) {
		to = today.AddDate(0, 0, -1)
	}
	if o.Target == TargetNewCustomers || o.Target == TargetFirstYearValue {
		if burn := first.AddDate(0, 0, NewCustomerBurnIn); from.Before(burn) {
			from = burn
			ts.Notes = append(ts.Notes, fmt.Sprintf("New customers are counted from %s, %d days after the first order on record: before that a returning customer's first order on record looks new.",
				civil(burn), NewCustomerBurnIn))
		}
	}
	if !o.From.IsZero() {
		from = maxTime(from, civilDay(o.From))
	}
	if !o.To.IsZero() {
		to = minTime(to, civilDay(o.To))
	}
	if to.Before(from) {
		return ts, nil // no days: the caller says what that means
	}
	n := daysBetween(from, to) + 1
	for i := range n {
		ts.Dates = append(ts.Dates, from.AddDate(0, 0, i))
	}
	var note string
	if ts.Values, note, err = dailyTarget(ctx, sd, o.Target, from, n, last); err != nil {
		return ts, err
	}
	if note != "" {
		ts.Notes = append(ts.Notes, note)
	}
	return ts, nil
}

// dailyTarget sums target per local day over the n days from from, out of what
// value.LoadStoreData read; lastOrder is the day of the latest order (first-year values
// are predicted from there). note explains the target when it needs it.
func dailyTarget(ctx context.Context, sd value.StoreData, target string, from time.Time, n int, lastOrder time.Time) (out []float64, note string, err error) {
	out = make([]float64, n)
	dayOf := func(t time.Time) time.Time { return civilDay(t.In(sd.Location)) }
	index := func(t time.Time) int {
		i := daysBetween(from, dayOf(t))
		if i < 0 || i >= n {
			return -1
		}
		return i
	}
	switch target {
	case TargetRevenue:
		for _, tx := range sd.Transactions {
			if i := index(tx.Time); i >= 0 {
				out[i] += money.Major(tx.Amount, sd.Currency)
			}
		}
	case TargetOrders:
		for _, tx := range sd.Transactions {
			if i := index(tx.Time); i >= 0 && tx.Amount >= 0 {
				out[i]++
			}
		}
	case TargetNewCustomers:
		for _, t := range firstOrders(sd.Transactions) {
			if i := index(t); i >= 0 {
				out[i]++
			}
		}
	case TargetFirstYearValue:
		fy, err := value.FirstYearValues(ctx, sd.Transactions, lastOrder, value.Day)
		if err != nil {
			return nil, "", fmt.Errorf("first-year value: %w", err)
		}
		for _, c := range fy {
			// c.First is already the local calendar day (at UTC midnight).
			if i := daysBetween(from, c.First); i >= 0 && i < n {
				out[i] += money.Major(int64(c.Value+0.5), sd.Currency)
			}
		}
		note = "The target is each day's new customers' first-year value: what they spent in their first 12 months, " +
			"with the part not yet seen predicted by the BG/NBD and Gamma-Gamma models (docs/value.md)."
	}
	return out, note, nil
}

// firstOrders returns each customer's first order time.
func firstOrders(txs []value.Transaction) []time.Time {
	first := map[string]time.Time{}
	for _, tx := range txs {
		if tx.Amount < 0 {
			continue
		}
		if t, ok := first[tx.CustomerID]; !ok || tx.Time.Before(t) {
			first[tx.CustomerID] = tx.Time
		}
	}
	out := make([]time.Time, 0, len(first))
	for _, t := range first {
		out = append(out, t)
	}
	return out
}

// dailySpend reads spend per day and channel in currency (minor units); channels are
// ordered by total spend, largest first. skipped counts rows in other currencies.
func dailySpend(ctx context.Context, db *store.DB, currency string) (map[time.Time]map[string]int64, []string, int, error) {
	rows, err := db.Query(ctx, `SELECT day, channel, currency, SUM(amount_minor), COUNT(*) FROM spend GROUP BY day, channel, currency`)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read spend: %w", err)
	}
	defer rows.Close()
	out := map[time.Time]map[string]int64{}
	totals := map[string]int64{}
	skipped := 0
	for rows.Next() {
		var day, ch, cur string
		var amount int64
		var k int
		if err := rows.Scan(&day, &ch, &cur, &amount, &k); err != nil {
			return nil, nil, 0, fmt.Errorf("read spend: %w", err)
		}
		if cur != currency {
			skipped += k
			continue
		}
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("read spend: day %q: %w", day, err)
		}
		if out[t] == nil {
			out[t] = map[string]int64{}
		}
		out[t][ch] += amount
		totals[ch] += amount
	}
	if err := rows.Err(); err != nil {
		return nil, nil, 0, fmt.Errorf("read spend: %w", err)
	}
	var channels []string
	for ch, v := range totals {
		if v > 0 {
			channels = append(channels, ch)
		}
	}
	slices.SortFunc(channels, func(a, b string) int {
		if c := cmp.Compare(totals[b], totals[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return out, channels, skipped, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
