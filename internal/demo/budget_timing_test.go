package demo

import (
	"context"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/omniroi/omniroi/internal/mix"
)

// dailyRevenue simulates every person of w with all levers on and returns the revenue
// per day in major units and the new customers (first orders of people new in the
// window) per day.
func dailyRevenue(w *world) (revenue, newCustomers []float64) {
	t := newTally(len(w.days))
	for id := range w.cfg.Customers {
		p := w.newPerson(uint32(id))
		w.simulate(&p, LevAll, nil, t)
	}
	revenue = make([]float64, len(w.days))
	newCustomers = make([]float64, len(w.days))
	for d := range revenue {
		revenue[d] = float64(t.revenue[d]) / 100
		newCustomers[d] = float64(t.newCust[d])
	}
	return revenue, newCustomers
}

// fortnightResponse regresses a daily effect series on the spend of the same day and
// the 13 before it (with an intercept and a straight trend) and returns the sum of the
// spend coefficients: the revenue per euro that arrives within two weeks of the spend.
func fortnightResponse(effect, spend []float64) float64 {
	const lags = 14
	rows := len(effect) - lags
	a := mat.NewDense(rows, 2+lags, nil)
	y := mat.NewVecDense(rows, nil)
	for r := range rows {
		t := r + lags
		a.Set(r, 0, 1)
		a.Set(r, 1, float64(t))
		for k := range lags {
			a.Set(r, 2+k, spend[t-k])
		}
		y.SetVec(r, effect[t])
	}
	var b mat.VecDense
	if err := b.SolveVec(a, y); err != nil {
		return 0
	}
	s := 0.0
	for k := range lags {
		s += b.AtVec(2 + k)
	}
	return s
}

// TestBudgetEffectBuildsUp measures when the budget channels' true effect arrives, with
// the generator's own counterfactual (every day simulated with and without the channel):
// each euro's revenue in the first third of the days against the last third, and what a
// regression finds within two weeks of the spend. When Paid Search's effect was mostly
// the customers it brought buying again for months, it grew through the window and a
// marketing-mix model of daily revenue saw it as the baseline's trend (docs/budget.md,
// "Limits"); the demo's search clicks now convert within days, and the test checks that
// the effect no longer builds up that way. It also logs a fit on the daily count of new
// customers, the target that sees an acquisition on its day, beside the true new
// customers per €1,000.
func TestBudgetEffectBuildsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates nine worlds of 10,000 people")
	}
	for seed := int64(1); seed <= 3; seed++ {
		cfg := Config{Seed: seed, Customers: 10000, End: testEnd}
		sum, _ := generate(t, cfg, false)
		d := mixData(sum)
		all, allNew := dailyRevenue(sum.w)
		n := len(all)
		nd := d
		nd.Target = allNew
		nm, err := mix.Fit(context.Background(), nd, mix.Options{})
		if err != nil {
			t.Fatal(err)
		}
		third := n / 3
		for ci, ch := range d.Channels {
			if ch != "Paid Search" && ch != "Paid Social" {
				continue
			}
			x := d.Spend[ci]
			off, offNew := dailyRevenue(sum.w.scaled(channelMask(ch), 0))
			eff := make([]float64, n)
			var e1, s1, e3, s3, et, st float64
			for i := range n {
				eff[i] = all[i] - off[i]
				et += eff[i]
				st += x[i]
				if i < third {
					e1 += eff[i]
					s1 += x[i]
				}
				if i >= n-third {
					e3 += eff[i]
					s3 += x[i]
				}
			}
			early, late := e1/s1, e3/s3
			newTrue := 0.0
			for i := range n {
				newTrue += allNew[i] - offNew[i]
			}
			for _, ce := range nm.Channels {
				if ce.Channel == ch {
					t.Logf("seed %d %s: new customers per €1,000: true %.1f, fitted on new customers a day %.1f [%.1f, %.1f]",
						seed, ch, 1000*newTrue/st, 1000*ce.ROAS, 1000*ce.ROASLow, 1000*ce.ROASHigh)
				}
			}
			short := fortnightResponse(eff, x)
			t.Logf("seed %d %s: true ROAS %.2f; per euro %.2f in the first third of the days, %.2f in the last (×%.1f); within two weeks of the spend %.2f per euro",
				seed, ch, et/st, early, late, late/early, short)
			// The demo's search clicks convert within days, so most of Paid Search's
			// effect shows up in the same weeks as its spend: a mix model of daily revenue
			// can see it. In a world where it came mostly from repeat orders months
			// later (×1.6–2.4 from the first third to the last), the model could not
			// tell it from zero (docs/budget.md, Limits).
			if ch == "Paid Search" && early < 0.7*late {
				t.Errorf("seed %d Paid Search: %.2f per euro late against %.2f early: its effect builds up through the window again (docs/budget.md, Limits, needs re-measuring)", seed, late, early)
			}
		}
	}
}
