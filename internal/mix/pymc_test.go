package mix

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/testenv"
)

// pymcExample reads PyMC-Marketing's mmm_example.csv and computes, from the generating
// process its README quotes, each channel's true contribution per week and its true
// response to a multiplier of its whole spend.
func pymcExample(t *testing.T) (Data, func(c int, m float64) float64) {
	t.Helper()
	dir := testenv.SharedDataset(t, "pymc-marketing-mmm-example")
	f, err := os.Open(filepath.Join(dir, "mmm_example.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	d := Data{Channels: []string{"x1", "x2"}, Spend: make([][]float64, 2), Controls: []string{"event_1", "event_2"}, ControlValues: make([][]float64, 2)}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, r := range rows[1:] {
		day, err := time.Parse(time.DateOnly, r[0])
		if err != nil {
			t.Fatal(err)
		}
		d.Dates = append(d.Dates, day)
		d.Target = append(d.Target, num(r[1]))
		d.Spend[0] = append(d.Spend[0], num(r[2]))
		d.Spend[1] = append(d.Spend[1], num(r[3]))
		d.ControlValues[0] = append(d.ControlValues[0], num(r[4]))
		d.ControlValues[1] = append(d.ControlValues[1], num(r[5]))
	}
	// The README's process: adstock with l_max 8, normalised; logistic saturation;
	// β = 3000 and 2000 in the units of y.
	par := []struct{ alpha, lam, beta float64 }{{0.4, 4, 3000}, {0.2, 3, 2000}}
	resp := func(c int, m float64) float64 {
		x := d.Spend[c]
		var wsum float64
		for l := range 8 {
			wsum += math.Pow(par[c].alpha, float64(l))
		}
		tot := 0.0
		for i := range x {
			a := 0.0
			for l := 0; l < 8 && l <= i; l++ {
				a += math.Pow(par[c].alpha, float64(l)) / wsum * m * x[i-l]
			}
			tot += par[c].beta * (1 - math.Exp(-par[c].lam*a)) / (1 + math.Exp(-par[c].lam*a))
		}
		return tot
	}
	return d, resp
}

// TestPyMCExample checks recovery on PyMC-Marketing's simulated example, whose answer is
// known: each channel's contribution (and so its ROAS) within 10 % of the truth and
// inside its 80 % interval, and the planner's same-budget split earning at least 75 % of
// what the best split (found with the true response curves) earns. 10 % is about half
// the model's own interval on x1, the channel whose spend never stops (its level
// is told apart from the intercept only by the curve's shape toward zero spend).
func TestPyMCExample(t *testing.T) {
	t.Parallel()
	d, resp := pymcExample(t)
	m, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Period != Week {
		t.Fatalf("weekly input fitted as %v", m.Period)
	}
	for c, ce := range m.Channels {
		truth := resp(c, 1)
		t.Logf("%s: contribution %.0f [%.0f, %.0f], truth %.0f; ROAS %.0f, true %.0f", ce.Channel, ce.Contribution, ce.ContributionLow, ce.ContributionHigh, truth, ce.ROAS, truth/ce.Spend)
		if math.Abs(ce.Contribution/truth-1) > 0.10 {
			t.Errorf("%s: contribution %.0f, truth %.0f: off by more than 10 %%", ce.Channel, ce.Contribution, truth)
		}
		if truth < ce.ContributionLow || truth > ce.ContributionHigh {
			t.Errorf("%s: truth %.0f outside the interval [%.0f, %.0f]", ce.Channel, truth, ce.ContributionLow, ce.ContributionHigh)
		}
	}
	if m.R2 < 0.9 {
		t.Errorf("R² %.3f", m.R2)
	}
	pl, err := m.Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur := []float64{pl.Channels[0].Current, pl.Channels[1].Current}
	lo := []float64{pl.Channels[0].Min, pl.Channels[1].Min}
	hi := []float64{pl.Channels[0].Max, pl.Channels[1].Max}
	best := Allocate(cur, lo, hi, cur[0]+cur[1], 0, resp)
	value := func(s []float64) float64 { return resp(0, s[0]/cur[0]) + resp(1, s[1]/cur[1]) }
	rec := []float64{pl.Channels[0].Recommended, pl.Channels[1].Recommended}
	gain, bestGain := value(rec)-value(cur), value(best)-value(cur)
	t.Logf("plan %.1f/%.1f → %.1f/%.1f: true gain %.0f of the best %.0f (best split %.1f/%.1f)", cur[0], cur[1], rec[0], rec[1], gain, bestGain, best[0], best[1])
	if gain < 0.75*bestGain {
		t.Errorf("the plan's true gain %.0f is less than 75 %% of the best possible %.0f", gain, bestGain)
	}
}
