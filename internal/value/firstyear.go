package value

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FirstYear is one customer's first-year value: the net amount of their first 12 model
// months (as in unit economics' predicted 12-month value), realised where the months are
// over and predicted by BG/NBD and Gamma-Gamma where they are not.
type FirstYear struct {
	CustomerID string
	First      time.Time // the first purchase day (UTC midnight of the local day)
	Value      float64   // minor units
}

// FirstYearValues fits BG/NBD and Gamma-Gamma on the transactions up to asOf and
// returns every customer's first-year value, sorted by customer id.
func FirstYearValues(ctx context.Context, txs []Transaction, asOf time.Time, unit Unit) ([]FirstYear, error) {
	sum, err := Summarize(txs, asOf, unit)
	if err != nil {
		return nil, err
	}
	if len(sum) == 0 {
		return nil, errors.New("no customers")
	}
	models, err := FitModelsContext(ctx, sum, unit, false)
	if err != nil {
		return nil, fmt.Errorf("fit value models: %w", err)
	}
	monthDays := unit.UnitsPerMonth() * unit.Days()
	days := customerDays(txs, -1<<40, dayNumber(asOf))
	out := make([]FirstYear, 0, len(sum))
	for _, c := range sum {
		_, curve := valueCurve(c, days[c.ID], &models, monthDays, 12, unit)
		v := 0.0
		for _, x := range curve {
			v += x
		}
		out = append(out, FirstYear{CustomerID: c.ID, First: c.First, Value: v})
	}
	return out, nil
}
