package attribution

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Conversions in other currencies than the business's are converted with the stored
// exchange rates (commerce.FX: the conversion spend and `omniroi fx convert` use), at the
// rate of the order's day in the business time zone. A conversion whose day has no usable
// rate counts without revenue, and a note says how many, how much and why.

// fxOnce loads the exchange rates and the business time zone the first time a build
// meets another currency (a shop in one currency never reads them).
type fxOnce struct {
	done bool
	fx   *commerce.FX
	loc  *time.Location
	err  error
}

func (o *fxOnce) load(ctx context.Context, db *store.DB) (*commerce.FX, *time.Location, error) {
	if !o.done {
		o.done = true
		if o.fx, o.err = commerce.LoadFX(ctx, db); o.err == nil {
			o.loc, o.err = workspace.Location(ctx, db)
		}
	}
	return o.fx, o.loc, o.err
}

// foreign converts one span's conversions in other currencies and keeps what its notes say.
type foreign struct {
	ctx      context.Context
	db       *store.DB
	currency string
	fx       *fxOnce
	byCur    map[string]*foreignTotals
}

type foreignTotals struct {
	converted, convertedMinor, convertedTo int64 // conversions, their value in the currency and in the business currency
	left, leftMinor                        int64 // conversions left without revenue, their value
	why                                    string
}

func newForeign(ctx context.Context, db *store.DB, currency string, fx *fxOnce) *foreign {
	return &foreign{ctx: ctx, db: db, currency: currency, fx: fx, byCur: map[string]*foreignTotals{}}
}

// convert returns a conversion's value and refunds in the business currency, converted at
// the rate of its day (ts, unix ms); ok false when there is no rate (both 0).
func (f *foreign) convert(cur string, value, refunded, ts int64) (int64, int64, bool) {
	t := f.byCur[cur]
	if t == nil {
		t = &foreignTotals{}
		f.byCur[cur] = t
	}
	fx, loc, err := f.fx.load(f.ctx, f.db)
	if err == nil {
		at := time.UnixMilli(ts).In(loc)
		var v, r commerce.Conversion
		if v, err = fx.Convert(money.Amount{Minor: value, Currency: cur}, at, f.currency); err == nil {
			r, err = fx.Convert(money.Amount{Minor: refunded, Currency: cur}, at, f.currency)
		}
		if err == nil {
			t.converted++
			t.convertedMinor = money.SatAdd(t.convertedMinor, value)
			t.convertedTo = money.SatAdd(t.convertedTo, v.Amount.Minor)
			return v.Amount.Minor, r.Amount.Minor, true
		}
	}
	t.left++
	t.leftMinor = money.SatAdd(t.leftMinor, value)
	if t.why == "" {
		var nr *commerce.NoRateError
		if errors.As(err, &nr) {
			t.why = nr.Reason + " (" + nr.Day + ")"
		} else {
			t.why = err.Error()
		}
	}
	return 0, 0, false
}

// notes say, per currency, what was converted and what counts without revenue.
func (f *foreign) notes() []string {
	curs := make([]string, 0, len(f.byCur))
	for c := range f.byCur {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	var out []string
	for _, c := range curs {
		t := f.byCur[c]
		if t.converted > 0 {
			out = append(out, fmt.Sprintf("%d conversions in %s (%s) are converted to %s with the exchange rate of their day (%s)",
				t.converted, c, money.Format(t.convertedMinor, c), f.currency, money.Format(t.convertedTo, f.currency)))
		}
		if t.left > 0 {
			out = append(out, fmt.Sprintf("%d conversions in %s (%s) count without revenue: no exchange rate to %s for their day; first: %s",
				t.left, c, money.Format(t.leftMinor, c), f.currency, t.why))
		}
	}
	return out
}
