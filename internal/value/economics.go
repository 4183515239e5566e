package value

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ChannelCost is what a channel cost over the period its customers were acquired.
// NewCustomers 0 means: count the customers the channel map gives that channel.
type ChannelCost struct {
	Spend        int64 // minor units
	NewCustomers int
}

// ChannelEconomics is the unit economics of one acquisition channel. Values are
// mean per acquired customer, in minor units, multiplied by the margin.
type ChannelEconomics struct {
	Channel      string  `json:"channel"`
	Customers    int     `json:"customers"` // in the transactions
	NewCustomers int     `json:"new_customers"`
	Spend        int64   `json:"spend"`
	CAC          float64 `json:"cac"`
	// Realised12 averages the first 12 months' net revenue over the Mature
	// customers (acquired at least 12 months before the as-of date).
	Realised12 float64 `json:"realised_12m"`
	Mature     int     `json:"mature_customers"`
	// Predicted12 averages, over all the channel's customers, realised value in
	// the observed part of the first 12 months plus the model's prediction for the rest.
	Predicted12 float64 `json:"predicted_12m"`
	LTVToCAC    float64 `json:"ltv_cac"` // Predicted12 / CAC
	// PaybackMonths is the first month whose cumulative mean value reaches CAC,
	// -1 when not within PaybackHorizon months.
	PaybackMonths int    `json:"payback_months"`
	Warning       string `json:"warning,omitempty"`
}

// EconomicsOptions control UnitEconomics.
type EconomicsOptions struct {
	Unit           Unit
	Margin         float64 // gross margin applied to revenue; 0 means 1 (revenue)
	PaybackHorizon int     // months; 0 means 36
	Models         *Models // fitted at asOf; nil fits BG/NBD + Gamma-Gamma
}

// UnitEconomics computes CAC, realised and predicted 12-month value, LTV:CAC and
// payback per acquisition channel. Months are model months (30 days, or 4.345
// weeks) counted from each customer's first purchase day, which is included.
func UnitEconomics(txs []Transaction, asOf time.Time, channels map[string]string, costs map[string]ChannelCost, o EconomicsOptions) ([]ChannelEconomics, error) {
	if o.Margin == 0 {
		o.Margin = 1
	}
	if o.PaybackHorizon == 0 {
		o.PaybackHorizon = 36
	}
	horizon := max(o.PaybackHorizon, 12)
	sum, err := Summarize(txs, asOf, o.Unit)
	if err != nil {
		return nil, fmt.Errorf("unit economics: %w", err)
	}
	if len(sum) == 0 {
		return nil, errors.New("unit economics: no customers")
	}
	models := o.Models
	if models == nil {
		m, err := FitModels(sum, o.Unit, false)
		if err != nil {
			return nil, fmt.Errorf("unit economics: %w", err)
		}
		models = &m
	}
	monthDays := o.Unit.UnitsPerMonth() * o.Unit.Days()
	days := customerDays(txs, -1<<40, dayNumber(asOf))

	type acc struct {
		customers, mature int
		realised12        float64
		curve             []float64 // summed value per month since acquisition
	}
	per := map[string]*acc{}
	for _, c := range sum {
		ch := channels[c.ID]
		if ch == "" {
			ch = UnknownChannel
		}
		a := per[ch]
		if a == nil {
			a = &acc{curve: make([]float64, horizon)}
			per[ch] = a
		}
		a.customers++
		realised, curve := valueCurve(c, days[c.ID], models, monthDays, horizon, o.Unit)
		if float64(c.AgeDays)+1 >= 12*monthDays {
			a.mature++
			for k := range 12 {
				a.realised12 += realised[k]
			}
		}
		for k, v := range curve {
			a.curve[k] += v
		}
	}
	var names []string
	for ch := range per {
		names = append(names, ch)
	}
	for ch := range costs {
		if per[ch] == nil {
			names = append(names, ch)
		}
	}
	slices.Sort(names)
	out := make([]ChannelEconomics, 0, len(names))
	for _, ch := range names {
		e := ChannelEconomics{Channel: ch, PaybackMonths: -1} // CAC and LTV:CAC stay 0 when unknown
		a := per[ch]
		if a == nil {
			e.Spend = costs[ch].Spend
			e.Warning = "no customers in the transactions"
			out = append(out, e)
			continue
		}
		e.Customers, e.Mature = a.customers, a.mature
		if a.mature > 0 {
			e.Realised12 = o.Margin * a.realised12 / float64(a.mature)
		}
		cum := 0.0
		for k, v := range a.curve {
			cum += o.Margin * v / float64(a.customers)
			if k == 11 {
				e.Predicted12 = cum
			}
		}
		cost, ok := costs[ch]
		switch {
		case !ok:
			e.Warning = "no spend given"
		default:
			e.Spend = cost.Spend
			e.NewCustomers = cost.NewCustomers
			if e.NewCustomers == 0 {
				e.NewCustomers = a.customers
			}
			e.CAC = float64(cost.Spend) / float64(e.NewCustomers)
			if e.CAC > 0 {
				e.LTVToCAC = e.Predicted12 / e.CAC
			}
			cum = 0
			for k, v := range a.curve {
				cum += o.Margin * v / float64(a.customers)
				if cum >= e.CAC {
					e.PaybackMonths = k + 1
					break
				}
			}
		}
		if e.Warning == "" && a.mature == 0 {
			e.Warning = "no customer with 12 months of history: realised 12-month value unknown"
		}
		out = append(out, e)
	}
	return out, nil
}

// valueCurve is one customer's value per model month since their first purchase, for
// horizon months: realised is the net amount of the days seen; curve adds, for the
// months not yet over at the as-of day, the models' expected purchases times the
// expected value per purchase.
func valueCurve(c CustomerSummary, days []dayAgg, models *Models, monthDays float64, horizon int, unit Unit) (realised, curve []float64) {
	first := dayNumber(c.First)
	ageDays := float64(c.AgeDays) + 1 // the as-of day is observed
	realised = make([]float64, horizon)
	for _, d := range days {
		k := int(float64(d.day-first) / monthDays)
		if k >= 0 && k < horizon {
			realised[k] += float64(d.net)
		}
	}
	value := 0.0
	if models.HasSpend {
		value = models.expectedValue(c.Frequency, c.Monetary)
	}
	curve = make([]float64, horizon)
	prevY := 0.0 // E[Y] at the end of the previous month
	for k := range horizon {
		curve[k] = realised[k]
		endK := float64(k+1) * monthDays
		if endK <= ageDays || value == 0 {
			continue
		}
		t := (endK - ageDays) / unit.Days()
		y := models.BGNBD.ConditionalExpectedPurchases(t, c.Frequency, c.Recency, c.T)
		curve[k] += (y - prevY) * value
		prevY = y
	}
	return realised, curve
}
