package value

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// DefaultLookback is how far before the first order a touchpoint still counts as
// the one that acquired the customer.
const DefaultLookback = 30 * 24 * time.Hour

// Acquisition is how one customer was acquired.
type Acquisition struct {
	CustomerID string    `json:"customer_id"`
	FirstOrder time.Time `json:"first_order"`
	Channel    string    `json:"channel"`
	// FromTouch is true when Channel is a touchpoint's (the earliest within the
	// lookback), false when it is the first order's own channel (a walk-in).
	FromTouch bool `json:"from_touch"`
}

// Acquisitions gives every customer with an order the first-touch channel of
// their first order: the channel of their earliest activity (track, page,
// screen) within lookback before that order (0 means DefaultLookback), else the
// order's own channel, e.g. In-store for a walk-in. Ties go to the lower seq.
// Sorted by customer id.
func Acquisitions(ctx context.Context, db *store.DB, lookback time.Duration) ([]Acquisition, error) {
	if lookback <= 0 {
		lookback = DefaultLookback
	}
	loc := storeLocation(ctx, db)
	rows, err := db.Query(ctx, `WITH f AS (SELECT customer_id, MIN(ts) AS first FROM orders GROUP BY customer_id)
		SELECT o.customer_id, o.ts, o.channel FROM orders o JOIN f ON f.customer_id = o.customer_id AND o.ts = f.first
		ORDER BY o.customer_id, o.seq`)
	if err != nil {
		return nil, fmt.Errorf("acquisitions: first orders: %w", err)
	}
	var out []Acquisition
	index := map[int64]int{}
	for rows.Next() {
		var id, ts int64
		var ch string
		if err := rows.Scan(&id, &ts, &ch); err != nil {
			rows.Close()
			return nil, fmt.Errorf("acquisitions: first orders: %w", err)
		}
		if _, dup := index[id]; dup {
			continue // two orders at the same first instant: the lower seq came first
		}
		if ch == "" {
			ch = UnknownChannel
		}
		index[id] = len(out)
		out = append(out, Acquisition{CustomerID: strconv.FormatInt(id, 10), FirstOrder: time.UnixMilli(ts).In(loc), Channel: ch})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("acquisitions: first orders: %w", err)
	}
	// The earliest touch per customer in [first - lookback, first], then its channel.
	rows, err = db.Query(ctx, `WITH f AS (SELECT customer_id, MIN(ts) AS first FROM orders GROUP BY customer_id),
		e AS (SELECT a.customer_id, MIN(a.ts) AS ts FROM activity a JOIN f ON f.customer_id = a.customer_id
			WHERE a.ts >= f.first - ? AND a.ts <= f.first AND a.channel <> '' GROUP BY a.customer_id)
		SELECT a.customer_id, a.channel FROM activity a JOIN e ON e.customer_id = a.customer_id AND a.ts = e.ts
		WHERE a.channel <> '' ORDER BY a.customer_id, a.seq`, lookback.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("acquisitions: touchpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var ch string
		if err := rows.Scan(&id, &ch); err != nil {
			return nil, fmt.Errorf("acquisitions: touchpoints: %w", err)
		}
		i, ok := index[id]
		if !ok || out[i].FromTouch {
			continue
		}
		out[i].Channel, out[i].FromTouch = ch, true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("acquisitions: touchpoints: %w", err)
	}
	return out, nil
}

// AcquisitionChannels maps each customer id to its acquisition channel (see Acquisitions).
func AcquisitionChannels(ctx context.Context, db *store.DB, lookback time.Duration) (map[string]string, error) {
	acq, err := Acquisitions(ctx, db, lookback)
	if err != nil {
		return nil, err
	}
	return channelMap(acq), nil
}

func channelMap(acq []Acquisition) map[string]string {
	m := make(map[string]string, len(acq))
	for _, a := range acq {
		m[a.CustomerID] = a.Channel
	}
	return m
}

// SpendByChannel sums the spend rows with From <= day <= To (inclusive, YYYY-MM-DD)
// in currency per channel; skipped counts rows in other currencies.
func SpendByChannel(ctx context.Context, db *store.DB, from, to time.Time, currency string) (spend map[string]int64, skipped int, err error) {
	rows, err := db.Query(ctx, `SELECT channel, currency, `+db.SumMinor("amount_minor")+`, COUNT(*) FROM spend WHERE day >= ? AND day <= ? GROUP BY channel, currency`,
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, 0, fmt.Errorf("spend by channel: %w", err)
	}
	defer rows.Close()
	spend = map[string]int64{}
	for rows.Next() {
		var ch, cur string
		var sum int64
		var n int
		if err := rows.Scan(&ch, &cur, &sum, &n); err != nil {
			return nil, 0, fmt.Errorf("spend by channel: %w", err)
		}
		if cur != currency {
			skipped += n
			continue
		}
		spend[ch] = money.SatAdd(spend[ch], sum)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("spend by channel: %w", err)
	}
	return spend, skipped, nil
}

// StoreEconomicsOptions control EconomicsFromStore.
type StoreEconomicsOptions struct {
	AsOf time.Time // zero: the last transaction day
	// From and To bound the acquisition period (inclusive days): CAC is the spend
	// of those days over the customers whose first order fell in them. Zero: the
	// first transaction day and AsOf.
	From, To       time.Time
	Lookback       time.Duration // first-touch lookback; 0 means DefaultLookback
	Unit           Unit
	Margin         float64
	PaybackHorizon int
	Models         *Models // fitted at AsOf; nil fits BG/NBD + Gamma-Gamma
}

// StoreEconomics is the unit economics per acquisition channel of the store.
type StoreEconomics struct {
	AsOf         time.Time          `json:"as_of"`
	From         time.Time          `json:"from"`
	To           time.Time          `json:"to"`
	Currency     string             `json:"currency"`
	Channels     []ChannelEconomics `json:"channels"`
	SkippedSpend int                `json:"skipped_spend_rows,omitempty"` // in another currency
}

// EconomicsFromStore loads transactions, acquisition channels and spend and runs
// UnitEconomics. CAC per channel = the channel's spend in the period / the
// customers it acquired in the period.
func EconomicsFromStore(ctx context.Context, db *store.DB, o StoreEconomicsOptions) (StoreEconomics, error) {
	d, err := LoadStoreData(ctx, db, time.Time{})
	if err != nil {
		return StoreEconomics{}, err
	}
	acq, err := Acquisitions(ctx, db, o.Lookback)
	if err != nil {
		return StoreEconomics{}, err
	}
	return economics(ctx, db, d, acq, o)
}

func economics(ctx context.Context, db *store.DB, d StoreData, acq []Acquisition, o StoreEconomicsOptions) (StoreEconomics, error) {
	if len(d.Transactions) == 0 {
		return StoreEconomics{}, fmt.Errorf("unit economics: no orders in %s in the store", d.Currency)
	}
	asOf := o.AsOf
	if asOf.IsZero() {
		asOf = lastDay(d.Transactions)
	}
	from, to := o.From, o.To
	if from.IsZero() {
		from = firstDay(d.Transactions)
	}
	if to.IsZero() {
		to = asOf
	}
	fromDay, toDay := dayNumber(from), dayNumber(to)
	if toDay < fromDay {
		return StoreEconomics{}, fmt.Errorf("unit economics: period %s..%s is empty", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	spend, skipped, err := SpendByChannel(ctx, db, dayTime(fromDay), dayTime(toDay), d.Currency)
	if err != nil {
		return StoreEconomics{}, err
	}
	newCustomers := map[string]int{}
	for _, a := range acq {
		if day := dayNumber(a.FirstOrder); day >= fromDay && day <= toDay && day <= dayNumber(asOf) {
			newCustomers[a.Channel]++
		}
	}
	costs := map[string]ChannelCost{}
	for ch, s := range spend {
		// NewCustomers 0 would mean "all the channel's customers" to UnitEconomics;
		// with spend and nobody acquired in the period, CAC is unknown instead.
		costs[ch] = ChannelCost{Spend: s, NewCustomers: newCustomers[ch]}
	}
	ch, err := UnitEconomics(d.Transactions, asOf, channelMap(acq), costs, EconomicsOptions{
		Unit: o.Unit, Margin: o.Margin, PaybackHorizon: o.PaybackHorizon, Models: o.Models})
	if err != nil {
		return StoreEconomics{}, err
	}
	for i := range ch {
		c := &ch[i]
		if _, paid := spend[c.Channel]; !paid {
			c.NewCustomers = newCustomers[c.Channel]
			continue
		}
		if newCustomers[c.Channel] == 0 {
			c.NewCustomers, c.CAC, c.LTVToCAC, c.PaybackMonths = 0, 0, 0, -1
			c.Warning = "spend but no customer acquired in the period: CAC unknown"
		}
	}
	return StoreEconomics{AsOf: asOf, From: dayTime(fromDay), To: dayTime(toDay), Currency: d.Currency, Channels: ch, SkippedSpend: skipped}, nil
}

// firstDay is the earliest transaction's day.
func firstDay(txs []Transaction) time.Time {
	var d int64 = 1 << 40
	for _, t := range txs {
		d = min(d, dayNumber(t.Time))
	}
	return dayTime(d)
}

// WriteEconomics prints unit economics per acquisition channel; money in major units.
func WriteEconomics(w io.Writer, e StoreEconomics, format string) error {
	format, err := checkFormat(format)
	if err != nil {
		return fmt.Errorf("economics: %w", err)
	}
	type row struct {
		Channel       string  `json:"channel"`
		Customers     int     `json:"customers"`
		NewCustomers  int     `json:"new_customers"`
		Spend         float64 `json:"spend"`
		CAC           float64 `json:"cac"`
		Realised12    float64 `json:"realised_12m"`
		Mature        int     `json:"mature_customers"`
		Predicted12   float64 `json:"predicted_12m"`
		LTVToCAC      float64 `json:"ltv_cac"`
		PaybackMonths int     `json:"payback_months"`
		Warning       string  `json:"warning,omitempty"`
	}
	rows := make([]row, 0, len(e.Channels))
	for _, c := range e.Channels {
		rows = append(rows, row{c.Channel, c.Customers, c.NewCustomers, major(c.Spend, e.Currency), major(c.CAC, e.Currency), major(c.Realised12, e.Currency), c.Mature,
			major(c.Predicted12, e.Currency), round(c.LTVToCAC, 4), c.PaybackMonths, c.Warning})
	}
	switch format {
	case FormatJSON:
		return writeJSON(w, struct {
			AsOf         string `json:"as_of"`
			From         string `json:"from"`
			To           string `json:"to"`
			Currency     string `json:"currency"`
			Channels     []row  `json:"channels"`
			SkippedSpend int    `json:"skipped_spend_rows,omitempty"`
		}{e.AsOf.Format(time.DateOnly), e.From.Format(time.DateOnly), e.To.Format(time.DateOnly), e.Currency, rows, e.SkippedSpend})
	case FormatCSV:
		out := [][]string{{"channel", "customers", "new_customers", "spend", "cac", "realised_12m", "mature_customers", "predicted_12m", "ltv_cac", "payback_months", "warning"}}
		for _, r := range rows {
			out = append(out, []string{r.Channel, strconv.Itoa(r.Customers), strconv.Itoa(r.NewCustomers), ff(r.Spend), ff(r.CAC), ff(r.Realised12),
				strconv.Itoa(r.Mature), ff(r.Predicted12), ff(r.LTVToCAC), strconv.Itoa(r.PaybackMonths), r.Warning})
		}
		return writeCSV(w, out)
	}
	fmt.Fprintf(w, "Unit economics per acquisition channel, as of %s; CAC over %s..%s; %s, per customer\n\n",
		e.AsOf.Format(time.DateOnly), e.From.Format(time.DateOnly), e.To.Format(time.DateOnly), e.Currency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "channel\tcustomers\tnew customers\tspend%[1]s\tCAC%[1]s\trealised value 12 months%[1]s\tcustomers with 12 months\tpredicted value 12 months%[1]s\tLTV:CAC\tmonths to pay back\twarning\n", inCurrency(e.Currency))
	for i, r := range rows {
		c := e.Channels[i]
		cac, ratio, payback := "-", "-", "-"
		if r.CAC > 0 {
			cac, ratio = moneyText(c.CAC, e.Currency), fmt.Sprintf("%.2f", r.LTVToCAC)
		}
		if r.PaybackMonths > 0 {
			payback = strconv.Itoa(r.PaybackMonths)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Channel, r.Customers, r.NewCustomers, moneyText(c.Spend, e.Currency), cac,
			moneyText(c.Realised12, e.Currency), r.Mature, moneyText(c.Predicted12, e.Currency), ratio, payback, r.Warning)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if e.SkippedSpend > 0 {
		fmt.Fprintf(w, "\n%d spend rows in other currencies than %s were left out\n", e.SkippedSpend, e.Currency)
	}
	return nil
}
