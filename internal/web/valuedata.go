package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/value"
)

// Customer value settings, the same as value's HTTP API and CLI defaults.
const (
	valueHorizon  = 12   // months of predicted value
	valueDiscount = 0.01 // per month
	valuePeriod   = 90 * 24 * time.Hour
)

// valueSnap is the customer-value models of the whole store at its last order day; the
// period filter does not apply to them (a customer's worth is their whole history), only
// to the acquisition economics.
type valueSnap struct {
	AsOf      time.Time
	Currency  string
	Data      value.StoreData
	Acq       map[string]string
	AcqList   []value.Acquisition
	Models    value.Models
	Pred      []value.Prediction // best CLV first
	predIdx   map[string]int
	Bands     []value.BandSummary
	Seg       value.SegmentReport
	rfmIdx    map[string]int
	Cohorts   value.CohortReport
	Elapsed   time.Duration
	NoRepeats bool   // no repeat purchases (or a failed fit): no predictions; RFM and cohorts still show
	FitErr    string // why the models could not be fitted, for the page
}

func (v *valueSnap) prediction(id string) (value.Prediction, bool) {
	i, ok := v.predIdx[id]
	if !ok {
		return value.Prediction{}, false
	}
	return v.Pred[i], true
}

func (v *valueSnap) rfm(id string) (value.RFMScore, bool) {
	i, ok := v.rfmIdx[id]
	if !ok {
		return value.RFMScore{}, false
	}
	return v.Seg.Scores[i], true
}

func (s *server) valueFor(ctx context.Context) (*valueSnap, stamp, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	v, at, stale, err := computed(s.compute, "value", ver, s.buildValue)
	return v, stamp{at, stale}, err
}

func (s *server) buildValue(ctx context.Context) (*valueSnap, error) {
	t0 := time.Now()
	d, err := value.LoadStoreData(ctx, s.db, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("load transactions: %w", err)
	}
	if len(d.Transactions) == 0 {
		return nil, value.ErrNoOrders
	}
	v := &valueSnap{Data: d, Currency: d.Currency}
	for _, t := range d.Transactions {
		if t.Time.After(v.AsOf) {
			v.AsOf = t.Time
		}
	}
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	a := v.AsOf.In(loc)
	v.AsOf = time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	acq, err := value.Acquisitions(ctx, s.db, value.DefaultLookback)
	if err != nil {
		return nil, fmt.Errorf("acquisition channels: %w", err)
	}
	v.AcqList = acq
	v.Acq = make(map[string]string, len(acq))
	for _, x := range acq {
		v.Acq[x.CustomerID] = x.Channel
	}
	sum, err := value.Summarize(d.Transactions, v.AsOf, value.Week)
	if err != nil {
		return nil, fmt.Errorf("summarize: %w", err)
	}
	// Pareto/NBD gives the churn band a P(alive) that falls for one-time buyers too
	// (BG/NBD keeps them at 1), as value's API does.
	v.Models, err = value.FitModelsContext(ctx, sum, value.Week, true)
	switch {
	case errors.Is(err, value.ErrNoRepeat):
		v.NoRepeats = true
	case err != nil:
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fit models: %w", err)
		}
		// Too little data to fit (a new shop) must not take the segments down with it.
		v.NoRepeats, v.FitErr = true, err.Error()
	default:
		v.Pred = v.Models.Score(sum, value.ScoreOptions{HorizonMonths: valueHorizon, Discount: valueDiscount, Bands: value.DefaultChurnBands})
		v.Bands = value.SummarizeBands(v.Pred)
		slices.SortStableFunc(v.Pred, func(a, b value.Prediction) int { return cmp.Compare(b.CLV, a.CLV) })
	}
	v.predIdx = make(map[string]int, len(v.Pred))
	for i, p := range v.Pred {
		v.predIdx[p.ID] = i
	}
	if v.Seg, err = value.Segments(d.Transactions, v.AsOf, v.AsOf.Add(-valuePeriod), nil, value.DefaultSmallSegment); err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	v.rfmIdx = make(map[string]int, len(v.Seg.Scores))
	for i, r := range v.Seg.Scores {
		v.rfmIdx[r.ID] = i
	}
	v.Cohorts = value.Cohorts(d.Transactions, v.AsOf, nil)
	v.Elapsed = time.Since(t0)
	return v, nil
}

// econFor is unit economics per acquisition channel for customers acquired in the period.
func (s *server) econFor(ctx context.Context, rg Range, v *valueSnap) ([]value.ChannelEconomics, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("econ|%d|%d", rg.FromMS(), rg.ToMS())
	e, _, _, err := computed(s.compute, key, ver, func(ctx context.Context) ([]value.ChannelEconomics, error) {
		if v.NoRepeats {
			return nil, value.ErrNoRepeat
		}
		// Acquisition period: the page's, cut at the models' as-of day (inclusive days).
		from, to := rg.From, rg.To.AddDate(0, 0, -1)
		if from.IsZero() {
			from = v.Data.Transactions[0].Time
			for _, t := range v.Data.Transactions {
				if t.Time.Before(from) {
					from = t.Time
				}
			}
		}
		day := func(t time.Time) string { return t.Format(time.DateOnly) }
		if day(to) > day(v.AsOf) {
			to = v.AsOf
		}
		if day(from) > day(to) {
			return []value.ChannelEconomics{}, nil
		}
		spend, _, err := value.SpendByChannel(ctx, s.db, from, to, v.Currency)
		if err != nil {
			return nil, fmt.Errorf("spend by channel: %w", err)
		}
		acquired := map[string]int{}
		for _, a := range v.AcqList {
			if d := day(a.FirstOrder.In(rg.Loc)); d >= day(from) && d <= day(to) {
				acquired[a.Channel]++
			}
		}
		costs := map[string]value.ChannelCost{}
		for ch, amt := range spend {
			costs[ch] = value.ChannelCost{Spend: amt, NewCustomers: acquired[ch]}
		}
		out, err := value.UnitEconomics(v.Data.Transactions, v.AsOf, v.Acq, costs, value.EconomicsOptions{Unit: value.Week, Models: &v.Models})
		if err != nil {
			return nil, fmt.Errorf("unit economics: %w", err)
		}
		for i := range out {
			c := &out[i]
			c.NewCustomers = acquired[c.Channel]
			if _, paid := spend[c.Channel]; paid && acquired[c.Channel] == 0 {
				c.CAC, c.LTVToCAC, c.PaybackMonths = 0, 0, -1
				c.Warning = "spend but no customer acquired in the period: CAC unknown"
			}
		}
		return out, nil
	})
	return e, err
}
