package demo

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/testenv"
)

// mixData turns a generated world into the budget model's daily series: revenue net of
// refunds per day (a refund on its day, as the store counts it) and spend per channel.
func mixData(sum *Summary) mix.Data {
	days, rev, _ := sum.Daily()
	d := mix.Data{}
	idx := map[string]int{}
	for i, t := range days {
		y, m, dd := t.Date()
		d.Dates = append(d.Dates, time.Date(y, m, dd, 0, 0, 0, 0, time.UTC))
		d.Target = append(d.Target, float64(rev[i])/100)
		idx[t.Format(time.DateOnly)] = i
	}
	ch := map[string]int{}
	for _, r := range sum.Spend() {
		c, ok := ch[r.Channel]
		if !ok {
			c = len(d.Channels)
			ch[r.Channel] = c
			d.Channels = append(d.Channels, r.Channel)
			d.Spend = append(d.Spend, make([]float64, len(days)))
		}
		d.Spend[c][idx[r.Date]] += float64(r.AmountMinor) / 100
	}
	return d
}

// TestBudgetTruth checks the budget ground truth against the rest of the ground truth
// and itself: the curve at the generated budget is the channel's removal effect, more
// budget never earns less, and the best split spends the same total.
func TestBudgetTruth(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 2, Customers: testenv.Size(2000, 1000), End: testEnd} // -short: half the people
	sum, _ := generate(t, cfg, false)
	rows := sum.Spend()
	gt, err := Truth(context.Background(), cfg, rows)
	if err != nil {
		t.Fatal(err)
	}
	if gt.Budget == nil || len(gt.Budget.Channels) != len(BudgetChannels) {
		t.Fatalf("budget truth %+v", gt.Budget)
	}
	spend := map[string]int64{}
	for _, r := range rows {
		spend[r.Channel] += r.AmountMinor
	}
	var total float64
	for _, ch := range BudgetChannels {
		cr := gt.Budget.Channels[ch]
		e := gt.Channels[ch]
		one := pointAt(cr.Curve, 1)
		if one.IncrementalRevenueMinor != e.IncrementalRevenueMinor || one.SpendMinor != spend[ch] || cr.SpendMinor != spend[ch] {
			t.Errorf("%s: curve at 1× (%d revenue, %d spend) vs removal effect %d and spend rows %d", ch, one.IncrementalRevenueMinor, one.SpendMinor, e.IncrementalRevenueMinor, spend[ch])
		}
		for i := 1; i < len(cr.Curve); i++ {
			a, b := cr.Curve[i-1], cr.Curve[i]
			if b.SpendMinor <= a.SpendMinor || float64(b.IncrementalRevenueMinor) < float64(a.IncrementalRevenueMinor)-0.02*float64(one.IncrementalRevenueMinor) {
				t.Errorf("%s: %+v then %+v", ch, a, b)
			}
		}
		if cr.MarginalROAS <= 0 || cr.TrueROAS <= 0 {
			t.Errorf("%s: ROAS %v, marginal %v", ch, cr.TrueROAS, cr.MarginalROAS)
		}
		total += float64(cr.SpendMinor)
	}
	got := 0.0
	for _, v := range gt.Budget.BestAllocation {
		got += float64(v)
	}
	if math.Abs(got-total) > 2 || gt.Budget.BestGainMinor < 0 {
		t.Errorf("best split %v spends %v of %v, gains %d", gt.Budget.BestAllocation, got, total, gt.Budget.BestGainMinor)
	}
	if len(gt.Flights["facebook_prospecting"]) != len(sum.w.days) {
		t.Errorf("flights: %d days", len(gt.Flights["facebook_prospecting"]))
	}
	paused := 0
	for _, v := range gt.Flights["facebook_prospecting"] {
		if v == 0 {
			paused++
		}
	}
	if paused < 30 || paused > 250 {
		t.Errorf("prospecting paused on %d days: not flighted like bursts", paused)
	}
}

// trueGain is a plan's true gain in major units: the budget channels' curves at the
// recommended spend against the generated spend. Money moved to Email or SMS (which have
// no response curves in the truth: paying more does not send more) earns nothing.
func trueGain(bt *BudgetTruth, pl *mix.Plan) float64 {
	rec := map[string]float64{}
	for _, c := range pl.Channels {
		if _, ok := bt.Channels[c.Channel]; ok {
			rec[c.Channel] = c.Recommended * 100
		}
	}
	return (bt.Value(rec) - bt.Value(nil)) / 100
}

// TestBudgetModelOnDemo fits the budget model on demo worlds at three seeds (five with
// -args -experiment) and grades it with the generator's own answers: each budget
// channel's true ROAS inside the model's 80 % interval, Paid Social (whose true return is
// below 1) estimated below 1, the plans (same budget, and profit at a 60 % margin) not
// losing money in truth, and the default plan — the one `omniroi budget plan` and the
// Budget page show — reaching at least 75 % of the best same-budget gain, its true gain
// inside the 80 % interval it is shown with. Shares are logged for docs/benchmarks.md.
func TestBudgetModelOnDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates three worlds of 10,000 people")
	}
	seeds := int64(3)
	if *runMeasurements {
		seeds = 5
	}
	for seed := int64(1); seed <= seeds; seed++ {
		cfg := Config{Seed: seed, Customers: 10000, End: testEnd}
		sum, _ := generate(t, cfg, false)
		gt, err := Truth(context.Background(), cfg, sum.Spend())
		if err != nil {
			t.Fatal(err)
		}
		m, err := mix.Fit(context.Background(), mixData(sum), mix.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range BudgetChannels {
			cr := gt.Budget.Channels[ch]
			t.Logf("seed %d %s truth: spend €%.0f, ROAS %.2f, marginal ROAS %.2f", seed, ch, float64(cr.SpendMinor)/100, cr.TrueROAS, cr.MarginalROAS)
		}
		for _, ce := range m.Channels {
			t.Logf("seed %d %s: marginal ROAS %.2f [%.2f, %.2f], P(ROAS < 1) %.2f", seed, ce.Channel, ce.MarginalROAS, ce.MarginalLow, ce.MarginalHigh, ce.ProbBelowOne)
			truth := gt.Channels[ce.Channel].TrueROAS
			t.Logf("seed %d %s: ROAS %.2f [%.2f, %.2f], true %.2f", seed, ce.Channel, ce.ROAS, ce.ROASLow, ce.ROASHigh, *truth)
			if _, budget := gt.Budget.Channels[ce.Channel]; !budget {
				continue
			}
			if *truth < ce.ROASLow || *truth > ce.ROASHigh {
				// An 80 % interval misses one time in five: seeds 4–5 (with
				// -experiment) log a miss, seeds 1–3 fail on one.
				report := t.Errorf
				if seed > 3 {
					report = t.Logf
				}
				report("seed %d %s: true ROAS %.2f outside [%.2f, %.2f]", seed, ce.Channel, *truth, ce.ROASLow, ce.ROASHigh)
			}
			if ce.Channel == "Paid Social" && (ce.ROAS >= 1 || *truth >= 1) {
				t.Errorf("seed %d: Paid Social estimated at %.2f per euro, true %.2f; it should lose money and be shown so", seed, ce.ROAS, *truth)
			}
		}
		// share grades a plan with the truth: its true gain on the budget channels
		// against the best split of their current total. Money a plan moves to Email or
		// SMS (which have no response curves in the truth) counts as earning nothing.
		share := func(label string, pl *mix.Plan) float64 {
			rec := map[string]float64{}
			var total float64
			for _, c := range pl.Channels {
				if _, ok := gt.Budget.Channels[c.Channel]; ok {
					rec[c.Channel] = c.Recommended * 100
					total += c.Current * 100
				} else if math.Abs(c.Recommended-c.Current) > 0.5 {
					t.Logf("seed %d %s: %s from €%.0f to €%.0f", seed, label, c.Channel, c.Current, c.Recommended)
				}
			}
			_, best := gt.Budget.Best(total, nil, nil)
			gain := 100 * trueGain(gt.Budget, pl)
			t.Logf("seed %d %s: Paid Search €%.0f, Paid Social €%.0f; true gain €%.0f of the best €%.0f (%.0f %%); model expected €%.0f [%.0f, %.0f], %.0f %% chance of gaining",
				seed, label, rec["Paid Search"]/100, rec["Paid Social"]/100, gain/100, best/100, 100*gain/best, pl.ExpectedGain, pl.ExpectedGainLow, pl.ExpectedGainHigh, 100*pl.ProbabilityOfGain)
			return gain / best
		}
		// The default plan: what `omniroi budget plan` and the Budget page show.
		def, err := m.Plan(mix.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := share("default plan", def); got < 0.75 {
			t.Errorf("seed %d: the default plan reaches %.0f %% of the best same-budget gain, want ≥ 75 %%", seed, 100*got)
		}
		// The interval the plan is shown with must hold its true gain: the plan takes
		// channels beyond any spend the data have seen, where the curve is a guess.
		if g := trueGain(gt.Budget, def); g < def.ExpectedGainLow || g > def.ExpectedGainHigh {
			report := t.Errorf
			if seed > 3 {
				report = t.Logf
			}
			report("seed %d: the default plan's true gain €%.0f lies outside its %.0f %% interval [%.0f, %.0f] (expected €%.0f)",
				seed, g, 100*def.Level, def.ExpectedGainLow, def.ExpectedGainHigh, def.ExpectedGain)
		}
		// The plan on the posterior mean (no caution), for the record: the model's own
		// probability that it gains says whether its gain in truth is evidence or luck.
		zero := 0.0
		mean, err := m.Plan(mix.PlanOptions{Locked: []string{"Email", "SMS"}, RiskAversion: &zero})
		if err != nil {
			t.Fatal(err)
		}
		share("posterior-mean plan, Email and SMS locked", mean)
		for _, margin := range []float64{0, 0.6} {
			pl, err := m.Plan(mix.PlanOptions{Locked: []string{"Email", "SMS"}, Margin: margin})
			if err != nil {
				t.Fatal(err)
			}
			rec, lo, hi := map[string]float64{}, map[string]float64{}, map[string]float64{}
			var total, saved float64
			for _, c := range pl.Channels {
				if _, ok := gt.Budget.Channels[c.Channel]; ok {
					rec[c.Channel] = c.Recommended * 100
					lo[c.Channel], hi[c.Channel] = c.Min*100, c.Max*100
					total += c.Current * 100
					saved += (c.Current - c.Recommended) * 100
				}
			}
			gain := gt.Budget.Value(rec) - gt.Budget.Value(nil)
			var best float64
			var ba map[string]float64
			if margin > 0 {
				gain = margin*gain + saved
				ba, best = gt.Budget.BestProfit(margin, total, lo, hi)
			} else {
				ba, best = gt.Budget.Best(total, lo, hi)
			}
			for _, ch := range BudgetChannels {
				t.Logf("seed %d margin %.1f %s: now €%.0f, plan €%.0f, best €%.0f", seed, margin, ch, float64(gt.Budget.Channels[ch].SpendMinor)/100, rec[ch]/100, ba[ch]/100)
			}
			t.Logf("seed %d margin %.1f: plan's true gain €%.0f, best possible €%.0f (%.0f %%); model expected €%.0f [%.0f, %.0f]",
				seed, margin, gain/100, best/100, 100*gain/best, pl.ExpectedGain, pl.ExpectedGainLow, pl.ExpectedGainHigh)
			if gain < -0.1*math.Abs(best) {
				t.Errorf("seed %d margin %.1f: the plan loses €%.0f in truth", seed, margin, -gain/100)
			}
		}
	}
}
