package demo

import (
	"context"
	"flag"
	"math"
	"testing"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/mix"
)

// The measurements behind docs/budget.md's "Limits" and docs/decisions.md's "Budget
// model" on demo worlds other than the default one. Slow (about 5 minutes); run with
//
//	go test ./internal/demo -run TestExperimentBudgetWorlds -v -args -experiment
var runMeasurements = flag.Bool("experiment", false, "run the budget measurements on other demo worlds")

// holdoutDays and holdoutRegions are the Paid Search region holdout the measurements run:
// the channel off for the last holdoutDays days for the people of half the regions.
const (
	holdoutDays    = 105
	holdoutRegions = 10 // regions 0–4 are the treated group
)

// regionOf is person id's region: a hash of the id, as a postcode area would split a
// town's customers.
func regionOf(id uint32) uint64 {
	return mix64(uint64(id)*0x9e3779b97f4a7c15^0x7265676e) % holdoutRegions
}

// holdoutWorld simulates w with a region holdout of channel ch over its last days days:
// the treated regions' people live in a copy of w whose campaigns of ch are off on those
// days, the others in w. It returns the treated and control groups' daily revenue
// (major units) and the treated share of revenue before the test.
func holdoutWorld(w *world, ch string, days int) (treated, control []float64, share float64) {
	n := len(w.days)
	from := n - days
	off := w.scaled(0, 1)
	mask := channelMask(ch)
	for d := from; d < n; d++ {
		for _, l := range paidLevers {
			if mask&l != 0 {
				off.level[d][levIndex(l)] = 0
			}
		}
	}
	tr, ct := newTally(n), newTally(n)
	for id := 0; id < w.cfg.Customers; id++ {
		p := w.newPerson(uint32(id))
		if regionOf(uint32(id)) < holdoutRegions/2 {
			off.simulate(&p, LevAll, nil, tr)
		} else {
			w.simulate(&p, LevAll, nil, ct)
		}
	}
	treated, control = make([]float64, n), make([]float64, n)
	var a, b float64
	for d := range n {
		treated[d], control[d] = float64(tr.revenue[d])/100, float64(ct.revenue[d])/100
		if d < from {
			a += treated[d]
			b += control[d]
		}
	}
	return treated, control, a / (a + b)
}

// budgetWorld is a demo world the measurements try.
type budgetWorld struct {
	name   string
	params func(*Params)
}

func TestExperimentBudgetWorlds(t *testing.T) {
	if !*runMeasurements {
		t.Skip("run with -args -experiment")
	}
	misallocated := func(p *Params) {
		p.BudgetScale = map[string]float64{"Paid Search": 0.4, "Paid Social": 1.3}
	}
	slowSearch := func(p *Params) {
		// The earlier demo's search ads: a cake-ad click lifts buying 2.5× for two days
		// and the brand ad converts 2 % more browsing sessions, so most of Paid Search's
		// effect is the customers it brings buying again months later.
		p.Lift["google_cakes_click"] = LiftSpec{2.5, 2}
		p.Rates["brand_ad_convert"] = 0.02
	}
	worlds := []budgetWorld{
		{"A: Paid Search 0.4x, Paid Social 1.3x", func(p *Params) { misallocated(p); slowSearch(p) }},
		{"B: A + search converts within days", misallocated},
		{"B': B with Paid Search at 0.6x (the default demo)", func(p *Params) {}},
	}
	for _, bw := range worlds {
		for seed := int64(1); seed <= 3; seed++ {
			p := DefaultParams()
			bw.params(&p)
			cfg := Config{Seed: seed, Customers: 10000, End: testEnd, Params: &p}
			sum, _ := generate(t, cfg, false)
			gt, err := Truth(context.Background(), cfg, sum.Spend())
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range BudgetChannels {
				cr := gt.Budget.Channels[ch]
				t.Logf("%s | seed %d | %s truth: spend €%.0f, ROAS %.2f, marginal ROAS %.2f", bw.name, seed, ch, float64(cr.SpendMinor)/100, cr.TrueROAS, cr.MarginalROAS)
			}
			data := mixData(sum)
			report := func(label string, d mix.Data, cals []mix.Calibration) {
				m, err := mix.Fit(context.Background(), d, mix.Options{Calibrations: cals})
				if err != nil {
					t.Fatal(err)
				}
				for _, ce := range m.Channels {
					if cr, ok := gt.Budget.Channels[ce.Channel]; ok {
						in := "inside"
						if cr.TrueROAS < ce.ROASLow || cr.TrueROAS > ce.ROASHigh {
							in = "OUTSIDE"
						}
						t.Logf("%s | seed %d | %s | %s: ROAS %.2f [%.2f, %.2f], true %.2f (%s)", bw.name, seed, label, ce.Channel, ce.ROAS, ce.ROASLow, ce.ROASHigh, cr.TrueROAS, in)
					}
				}
				zero := 0.0
				for _, ra := range []*float64{nil, &zero} {
					pl, err := m.Plan(mix.PlanOptions{Locked: []string{"Email", "SMS"}, RiskAversion: ra})
					if err != nil {
						t.Fatal(err)
					}
					// The plan's moves applied to the generator's budgets: with the
					// holdout the window's Paid Search spend is lower than the
					// budget the truth's curves are drawn around.
					rec := map[string]float64{}
					var total float64
					for _, c := range pl.Channels {
						if cr, ok := gt.Budget.Channels[c.Channel]; ok {
							rec[c.Channel] = float64(cr.SpendMinor) + (c.Recommended-c.Current)*100
							total += float64(cr.SpendMinor)
						}
					}
					ba, best := gt.Budget.Best(total, nil, nil)
					gain := gt.Budget.Value(rec) - gt.Budget.Value(nil)
					kind := "cautious plan"
					if ra != nil {
						kind = "posterior-mean plan"
					}
					t.Logf("%s | seed %d | %s | %s: Paid Search €%.0f, Paid Social €%.0f (best €%.0f / €%.0f); true gain €%.0f of the best €%.0f (%.0f %%); model's chance of gain %.0f %%",
						bw.name, seed, label, kind, rec["Paid Search"]/100, rec["Paid Social"]/100, ba["Paid Search"]/100, ba["Paid Social"]/100, gain/100, best/100, 100*gain/best, 100*pl.ProbabilityOfGain)
					if ra == nil && gain < -0.1*math.Abs(best) {
						t.Errorf("%s seed %d %s: the cautious plan loses €%.0f in truth", bw.name, seed, label, -gain/100)
					}
				}
			}
			report("no test", data, nil)

			// The same world with a Paid Search region holdout, measured by the experiment
			// engine's region analysis (time-based regression) and fed to the fit as a
			// calibration, as a finished stored test would be. The fit sees the world with
			// the holdout: its revenue, and Paid Search's spend only in the control regions
			// during the test.
			tr, ct, share := holdoutWorld(sum.w, "Paid Search", holdoutDays)
			n := len(tr)
			from := n - holdoutDays
			hd := data
			hd.Target = make([]float64, n)
			hd.Spend = make([][]float64, len(data.Spend))
			var ps []float64
			for i, c := range data.Channels {
				hd.Spend[i] = append([]float64(nil), data.Spend[i]...)
				if c == "Paid Search" {
					ps = hd.Spend[i]
				}
			}
			ts, cs := make([]float64, n), make([]float64, n)
			for d := range n {
				hd.Target[d] = tr[d] + ct[d]
				if d < from {
					ts[d], cs[d] = ps[d]*share, ps[d]*(1-share)
				} else {
					ps[d] *= 1 - share
					cs[d] = ps[d]
				}
			}
			r, err := experiment.AnalyzeTBR(experiment.TBRInput{Dates: hd.Dates, Treated: tr, Control: ct, TreatedSpend: ts, ControlSpend: cs,
				TestStart: from, TestEnd: n, Channel: "Paid Search", Unit: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s | seed %d | holdout (%d days, %.0f %% of sales off): ROAS %.2f [%.2f, %.2f] at %.0f %%, spend moved €%.0f; placebo false alarms %d of %d",
				bw.name, seed, holdoutDays, 100*share, float64(r.ROAS), float64(r.ROASLow), float64(r.ROASHigh), 100*r.Level, -float64(r.SpendChange), r.Placebo.FalseAlarms, r.Placebo.Windows)
			// Read as mix.StoredCalibrations reads a stored test: as measured, even below zero.
			roas, lo, hi := float64(r.ROAS), float64(r.ROASLow), float64(r.ROASHigh)
			if hi <= 0 || math.IsNaN(roas) || math.IsNaN(hi) {
				t.Logf("%s | seed %d | the holdout found no positive return: no calibration", bw.name, seed)
				continue
			}
			report("holdout", hd, []mix.Calibration{{Channel: "Paid Search", ROAS: roas, Low: lo, High: hi, Level: r.Level, Experiment: "paid-search-holdout"}})
		}
	}
}
