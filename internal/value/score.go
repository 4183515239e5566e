package value

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/omniroi/omniroi/internal/money"
)

// Models are the fitted models for one set of customer summaries.
type Models struct {
	Unit     Unit
	BGNBD    BGNBD
	Pareto   *ParetoNBD // nil when not fitted
	Gamma    GammaGamma
	HasSpend bool // false when no customer had a positive repeat purchase value
	// MeanSpend is the mean m of the Gamma-Gamma customers, used for customers
	// without repeat purchases when q <= 1 (the population mean is then infinite).
	MeanSpend float64
}

// FitModels fits BG/NBD, Gamma-Gamma and (when withPareto) Pareto/NBD.
func FitModels(sum []CustomerSummary, unit Unit, withPareto bool) (Models, error) {
	return FitModelsContext(context.Background(), sum, unit, withPareto)
}

// FitModelsContext is FitModels that stops when ctx is done.
func FitModelsContext(ctx context.Context, sum []CustomerSummary, unit Unit, withPareto bool) (Models, error) {
	m := Models{Unit: unit}
	obs := GroupHistories(sum)
	var err error
	if m.BGNBD, err = FitBGNBDContext(ctx, obs); err != nil {
		return m, err
	}
	if withPareto {
		p, err := FitParetoNBDContext(ctx, obs)
		if err != nil {
			return m, err
		}
		m.Pareto = &p
	}
	if spend := SpendHistories(sum); len(spend) > 0 {
		if m.Gamma, err = FitGammaGammaContext(ctx, spend); err != nil {
			return m, err
		}
		m.HasSpend = true
		for _, o := range spend {
			m.MeanSpend += o.M / float64(len(spend))
		}
	}
	return m, nil
}

// ChurnBands are the P(alive) thresholds of the churn bands: P >= Active is
// "active", >= Cooling "cooling", >= AtRisk "at risk", below it "lost".
type ChurnBands struct {
	Active, Cooling, AtRisk float64
}

// DefaultChurnBands are documented in docs/value.md.
var DefaultChurnBands = ChurnBands{Active: 0.7, Cooling: 0.4, AtRisk: 0.15}

// Band names.
const (
	BandActive  = "active"
	BandCooling = "cooling"
	BandAtRisk  = "at risk"
	BandLost    = "lost"
)

// BandNames lists the bands from best to worst.
var BandNames = []string{BandActive, BandCooling, BandAtRisk, BandLost}

// Validate checks 1 >= Active >= Cooling >= AtRisk >= 0.
func (b ChurnBands) Validate() error {
	if !(b.Active <= 1 && b.Active >= b.Cooling && b.Cooling >= b.AtRisk && b.AtRisk >= 0) {
		return fmt.Errorf("churn bands: want 1 >= active >= cooling >= at risk >= 0, got %+v", b)
	}
	return nil
}

// Band names the band of a P(alive).
func (b ChurnBands) Band(pAlive float64) string {
	switch {
	case pAlive >= b.Active:
		return BandActive
	case pAlive >= b.Cooling:
		return BandCooling
	case pAlive >= b.AtRisk:
		return BandAtRisk
	}
	return BandLost
}

// Prediction is one customer's scores. Money is in minor units.
type Prediction struct {
	ID                string  `json:"id"`
	Frequency         int     `json:"frequency"`
	Recency           float64 `json:"recency"`
	T                 float64 `json:"T"`
	Monetary          float64 `json:"monetary"`
	PAliveBGNBD       float64 `json:"p_alive_bgnbd"`
	PAlivePareto      float64 `json:"p_alive_pareto"`     // -1 when Pareto/NBD is not fitted
	ExpectedPurchases float64 `json:"expected_purchases"` // BG/NBD, over the horizon
	ExpectedAvgValue  float64 `json:"expected_avg_value"`
	CLV               float64 `json:"clv"`
	ChurnBand         string  `json:"churn_band"`
	Revenue           int64   `json:"realised_revenue"`
}

// ScoreOptions control Score.
type ScoreOptions struct {
	HorizonMonths int
	Discount      float64 // per month
	Bands         ChurnBands
}

// Score predicts for every customer. Under BG/NBD, E[Y(t) | x, t_x, T] is
// P(alive | x, t_x, T) times an expectation that depends on (x, T) only, so the
// 2F1-heavy part (one per month of horizon) is computed once per distinct (x, T),
// and the rest per customer, in parallel chunks.
// The churn band uses Pareto/NBD's P(alive) when it is fitted, because BG/NBD
// says P(alive) = 1 for every customer without a repeat purchase however long ago.
func (m Models) Score(sum []CustomerSummary, o ScoreOptions) []Prediction {
	type key struct {
		x int
		t float64
	}
	type curve struct{ ey, disc float64 } // if alive: E[Y(horizon)], discounted monthly sum
	months := max(o.HorizonMonths, 0)
	idx := map[key]int32{}
	var keys []key
	ki := make([]int32, len(sum))
	for i, c := range sum {
		k := key{c.Frequency, c.T}
		j, ok := idx[k]
		if !ok {
			j = int32(len(keys))
			idx[k] = j
			keys = append(keys, k)
		}
		ki[i] = j
	}
	curves := make([]curve, len(keys))
	f := m.Unit.UnitsPerMonth()
	parallelFor(len(keys), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			k := keys[j]
			var cv curve
			prev, disc := 0.0, 1.0
			for i := 1; i <= months; i++ {
				cur := m.BGNBD.expectedIfAlive(float64(i)*f, k.x, k.t)
				disc /= 1 + o.Discount
				cv.disc += (cur - prev) * disc
				prev = cur
			}
			cv.ey = prev
			curves[j] = cv
		}
	})
	out := make([]Prediction, len(sum))
	parallelFor(len(sum), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c := &sum[i]
			cv := curves[ki[i]]
			pa := m.BGNBD.PAlive(c.Frequency, c.Recency, c.T)
			p := Prediction{
				ID: c.ID, Frequency: c.Frequency, Recency: c.Recency, T: c.T, Monetary: c.Monetary,
				PAliveBGNBD: pa, PAlivePareto: -1, ExpectedPurchases: pa * cv.ey, Revenue: c.Revenue,
			}
			band := pa
			if m.Pareto != nil {
				p.PAlivePareto = m.Pareto.PAlive(c.Frequency, c.Recency, c.T)
				band = p.PAlivePareto
			}
			if m.HasSpend {
				p.ExpectedAvgValue = m.expectedValue(c.Frequency, c.Monetary)
				p.CLV = p.ExpectedAvgValue * pa * cv.disc
			}
			p.ChurnBand = o.Bands.Band(band)
			out[i] = p
		}
	})
	return out
}

func (m Models) expectedValue(x int, mon float64) float64 {
	v := m.Gamma.ConditionalExpectedValue(x, mon)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return m.MeanSpend
	}
	return v
}

// parallelFor runs body over [0, n) in GOMAXPROCS chunks (inline when small).
func parallelFor(n int, body func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 2048 || workers == 1 {
		body(0, n)
		return
	}
	// more chunks than workers balances uneven per-item cost
	chunks := workers * 8
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for c := range chunks {
		next <- c
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				body(n*c/chunks, n*(c+1)/chunks)
			}
		}()
	}
	wg.Wait()
}

// BandSummary is one churn band's size with realised revenue beside predicted value.
type BandSummary struct {
	Band      string  `json:"band"`
	Customers int     `json:"customers"`
	Realised  int64   `json:"realised_revenue"`
	Predicted float64 `json:"predicted_clv"`
}

// SummarizeBands totals predictions per churn band, best band first.
func SummarizeBands(p []Prediction) []BandSummary {
	out := make([]BandSummary, len(BandNames))
	pos := map[string]int{}
	for i, n := range BandNames {
		out[i].Band = n
		pos[n] = i
	}
	for _, x := range p {
		b := &out[pos[x.ChurnBand]]
		b.Customers++
		b.Realised = money.SatAdd(b.Realised, x.Revenue)
		b.Predicted += x.CLV
	}
	return out
}
