package experiment

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestAdTestsFromStore runs both ad-channel designs on a store: 12 postcode areas, 196
// days of orders carrying a shipping postcode, and the spend table. Paid Social (true
// return 2) is switched off in half the areas for days 112–139; Paid Search (true return
// 1.5) is switched on and off by the week for the whole shop from day 140. Each stored
// test's report must hold its channel's true effect and return within its intervals, and
// the finished tests must come back as calibrations for the budget model.
func TestAdTestsFromStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := DefaultGeoWorld()
		w.Days = 196
		w.ROAS = 0
		w.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
		rng := rand.New(rand.NewPCG(8, 1))
		p := w.Simulate(rng, func(r, d int) bool { return true })
		social, search := p.Would, make([][]float64, w.Regions)
		for r := range search {
			search[r] = make([]float64, w.Days)
			for d := range search[r] {
				search[r][d] = 1.5 * social[r][(d+3)%w.Days] * (0.8 + 0.4*rng.Float64())
			}
		}
		const regStart, regEnd, sbStart = 112, 140, 140
		at := func(d int) time.Time { return w.Start.AddDate(0, 0, d) }

		// The switchback's schedule comes from its name and start.
		vs, _ := ParseVariants("on,off")
		sb, err := Create(ctx, db, audit.ActorCLI, Experiment{Name: "search-weeks", Unit: UnitDay, Channel: "Paid Search", Variants: vs,
			Metric: Metric{Kind: MetricRevenue}, End: ptr(at(w.Days))})
		if err != nil {
			t.Fatal(err)
		}
		if sb.Design.Period() != 7 || sb.Design.WashoutDays() != 1 {
			t.Fatalf("switchback defaults: period %d washout %d", sb.Design.Period(), sb.Design.WashoutDays())
		}
		sched := SwitchbackSchedule(sb.Name, w.Days-sbStart, 7)
		treated := map[int]bool{}
		var trNames, ctNames []string
		for r := range w.Regions {
			name := fmt.Sprintf("%02d", 10+r)
			if r%2 == 0 {
				treated[r] = true
				trNames = append(trNames, name)
			} else {
				ctNames = append(ctNames, name)
			}
		}
		var lostSocial, gainSearch, spentSearchOn float64
		var evs []map[string]any
		spendRows := map[string][2]float64{}
		for d := range w.Days {
			var daySocial, daySearch float64
			for r := range w.Regions {
				rev := p.Revenue[r][d]
				socialOn := !(treated[r] && d >= regStart && d < regEnd)
				searchOn := d < sbStart || sched[d-sbStart]
				if socialOn {
					rev += 2 * social[r][d]
					daySocial += social[r][d]
				} else {
					lostSocial += 2 * social[r][d]
				}
				if searchOn {
					rev += 1.5 * search[r][d]
					daySearch += search[r][d]
					if d >= sbStart {
						gainSearch += 1.5 * search[r][d]
						spentSearchOn += search[r][d]
					}
				}
				// Two orders per area and day, at noon and in the evening.
				for k, share := range []float64{0.4, 0.6} {
					props := map[string]any{"order_id": fmt.Sprintf("o-%d-%d-%d", d, r, k), "revenue": math.Round(rev*share*100) / 100, "currency": "EUR",
						"shipping_address": map[string]any{"postal_code": fmt.Sprintf("%02d%03d", 10+r, rng.IntN(1000)), "city": "Somewhere"}}
					evs = append(evs, map[string]any{"type": "track", "event": "Order Completed", "anonymousId": fmt.Sprintf("c-%d-%d", r, rng.IntN(400)),
						"timestamp": at(d).Add(time.Duration(12+7*k) * time.Hour).Format(time.RFC3339), "properties": props})
				}
			}
			spendRows[at(d).Format(time.DateOnly)] = [2]float64{daySocial, daySearch}
		}
		identitytest.Load(t, db, "shop", at(w.Days), evs...)
		err = db.Write(ctx, func(tx *store.Tx) error {
			for day, s := range spendRows {
				for i, ch := range []string{"Paid Social", "Paid Search"} {
					if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?,?,?,?,?,?)`,
						day, ch, "", "test", int64(math.Round(s[i]*100)), "EUR"); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Region test: a proposal from history when no regions are given…
		vs, _ = ParseVariants("control,off")
		prop, err := Create(ctx, db, audit.ActorCLI, Experiment{Name: "social-proposed", Unit: UnitRegion, Channel: "Paid Social", Variants: vs, Metric: Metric{Kind: MetricRevenue}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(prop.Design.Regions["control"]) + len(prop.Design.Regions["off"]); n != w.Regions || len(prop.Design.Regions["off"]) != w.Regions/2 {
			t.Errorf("proposed regions %v", prop.Design.Regions)
		}
		// …and the test that ran, with its regions.
		reg, err := Create(ctx, db, audit.ActorCLI, Experiment{Name: "social-off", Unit: UnitRegion, Channel: "Paid Social", Variants: vs,
			Metric: Metric{Kind: MetricRevenue}, Design: Design{Regions: map[string][]string{"control": ctNames, "off": trNames}}, End: ptr(at(regEnd))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Start(ctx, db, audit.ActorCLI, reg.Name, at(regStart), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := Start(ctx, db, audit.ActorCLI, sb.Name, at(sbStart), 0); err != nil {
			t.Fatal(err)
		}
		if cal, err := Calibrations(ctx, db, at(regEnd-1)); err != nil || len(cal) != 0 {
			t.Fatalf("calibrations before any test ended: %v %+v", err, cal)
		}
		now := at(w.Days)
		r, err := BuildReport(ctx, db, reg.Name, ReportOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		g := r.Geo
		if g == nil {
			t.Fatalf("region report has no analysis: %s", r.Verdict)
		}
		t.Logf("region test: %s", r.Verdict)
		if g.TestDays != regEnd-regStart || g.PreDays != regStart || g.Design != DesignRegions {
			t.Errorf("days: test %d pre %d design %s", g.TestDays, g.PreDays, g.Design)
		}
		if !(float64(g.IncrementalLow) <= -lostSocial && -lostSocial <= float64(g.IncrementalHigh)) {
			t.Errorf("true effect %.0f outside [%.0f, %.0f]", -lostSocial, float64(g.IncrementalLow), float64(g.IncrementalHigh))
		}
		if !(float64(g.ROASLow) <= 2 && 2 <= float64(g.ROASHigh)) {
			t.Errorf("true ROAS 2 outside [%.2f, %.2f]", float64(g.ROASLow), float64(g.ROASHigh))
		}
		if len(g.Daily) != g.TestDays || g.Placebo.Windows == 0 {
			t.Errorf("daily %d, placebo %+v", len(g.Daily), g.Placebo)
		}

		r, err = BuildReport(ctx, db, sb.Name, ReportOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		g = r.Geo
		if g == nil {
			t.Fatalf("switchback report has no analysis: %s", r.Verdict)
		}
		t.Logf("switchback: %s", r.Verdict)
		if n := len(r.Schedule); n < 4 || r.Schedule[0].From != at(sbStart).Format(time.DateOnly) || r.Schedule[0].On != sched[0] ||
			r.Schedule[n-1].To != at(w.Days-1).Format(time.DateOnly) {
			t.Errorf("schedule %+v", r.Schedule)
		}
		if !(float64(g.IncrementalLow) <= gainSearch && gainSearch <= float64(g.IncrementalHigh)) {
			t.Errorf("true effect %.0f outside [%.0f, %.0f]", gainSearch, float64(g.IncrementalLow), float64(g.IncrementalHigh))
		}
		if !(float64(g.ROASLow) <= 1.5 && 1.5 <= float64(g.ROASHigh)) {
			t.Errorf("true ROAS 1.5 outside [%.2f, %.2f]", float64(g.ROASLow), float64(g.ROASHigh))
		}

		if _, err := Stop(ctx, db, audit.ActorCLI, sb.Name, now); err != nil {
			t.Fatal(err)
		}
		cal, err := Calibrations(ctx, db, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(cal) != 2 || cal[0].Channel != "Paid Search" || cal[1].Channel != "Paid Social" || cal[1].Experiment != "social-off" || cal[0].Level != 0.95 {
			t.Fatalf("calibrations %+v", cal)
		}
		for _, c := range cal {
			if !(c.Low <= c.ROAS && c.ROAS <= c.High) || c.StartDate == "" {
				t.Errorf("calibration %+v", c)
			}
		}
		// Show plans a stored test from the history before its start.
		d := Describe(ctx, db, reg, now)
		if d.GeoPlan == nil || len(d.GeoPlan.Designs) != 1 || !strings.Contains(d.PlanText, "Paid Social") {
			t.Errorf("describe: %+v %s", d.GeoPlan, d.PlanError)
		}
	})
}

func ptr[T any](v T) *T { return &v }
