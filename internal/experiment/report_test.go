package experiment_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// loadedAt is when the tests' events reach the store: after the latest of them (events
// dated more than a day after their arrival are refused as impossible).
var loadedAt = t0.AddDate(0, 1, 0)

func track(anon, name string, at time.Time, props map[string]any) map[string]any {
	return map[string]any{"type": "track", "event": name, "anonymousId": anon, "timestamp": at.Format(time.RFC3339Nano), "properties": props}
}

func order(anon, id string, at time.Time, revenue float64, currency string) map[string]any {
	return track(anon, "Order Completed", at, map[string]any{"order_id": id, "revenue": revenue, "currency": currency})
}

func viewed(anon, exp, variation string, at time.Time) map[string]any {
	return track(anon, experiment.ExposureEvent, at, map[string]any{"experiment_id": exp, "variation_id": variation})
}

func TestExperimentLifecycleAndValidation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, c := range []struct {
			e    experiment.Experiment
			want string
		}{
			{experiment.Experiment{Name: "Bad Name", Variants: []experiment.Variant{{Key: "a", Weight: 1}, {Key: "b", Weight: 1}}, Metric: experiment.Metric{Kind: "revenue"}}, `name "Bad Name"`},
			{experiment.Experiment{Name: "one", Variants: []experiment.Variant{{Key: "a", Weight: 1}}, Metric: experiment.Metric{Kind: "revenue"}}, "at least two variants"},
			{experiment.Experiment{Name: "w", Variants: []experiment.Variant{{Key: "a", Weight: 1}, {Key: "b", Weight: 0}}, Metric: experiment.Metric{Kind: "revenue"}}, `variant "b": weight must be positive`},
			{experiment.Experiment{Name: "m", Variants: []experiment.Variant{{Key: "a", Weight: 1}, {Key: "b", Weight: 1}}, Metric: experiment.Metric{Kind: "count"}}, "count needs an event name"},
			{experiment.Experiment{Name: "d", Unit: experiment.UnitDay, Variants: []experiment.Variant{{Key: "a", Weight: 1}, {Key: "b", Weight: 1}}, Metric: experiment.Metric{Kind: "conversion"}}, "switchback"},
			{experiment.Experiment{Name: "u", Unit: "planet", Variants: []experiment.Variant{{Key: "a", Weight: 1}, {Key: "b", Weight: 1}}, Metric: experiment.Metric{Kind: "orders"}}, `unit "planet"`},
		} {
			if _, err := experiment.Create(ctx, db, audit.ActorCLI, c.e); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("create %s: error %v, want %q", c.e.Name, err, c.want)
			}
		}
		vs, _ := experiment.ParseVariants("control=50,b=50")
		m, _ := experiment.ParseMetric("conversion:Signed Up")
		e, err := experiment.Create(ctx, db, audit.UserActor("ana@shop.example"), experiment.Experiment{Name: "hero", Hypothesis: "a warmer headline sells more", Variants: vs, Metric: m})
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != experiment.StatusDraft || e.Unit != experiment.UnitAnonymous || e.MDE != 0.1 || e.Variants[1].Name != "b" || e.Metric.Label(e.Unit) != "conversion to Signed Up" {
			t.Fatalf("created %+v", e)
		}
		if _, err := experiment.Create(ctx, db, audit.ActorCLI, e); err == nil || !strings.Contains(err.Error(), "exists already") {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := experiment.Stop(ctx, db, audit.ActorCLI, "hero", t0); err == nil || !strings.Contains(err.Error(), "only a running experiment can stop") {
			t.Fatalf("stop a draft: %v", err)
		}
		if _, err := experiment.BuildReport(ctx, db, "hero", experiment.ReportOptions{}); err == nil || !strings.Contains(err.Error(), "has not started") {
			t.Fatalf("report a draft: %v", err)
		}
		if _, err := experiment.Start(ctx, db, audit.TokenActor("ci"), "hero", t0, 0); err != nil {
			t.Fatal(err)
		}
		run, _ := experiment.Running(ctx, db)
		if len(run) != 1 || !run[0].Active(t0.Add(time.Hour)) || run[0].Start == nil || !run[0].Start.Equal(t0) {
			t.Fatalf("running %+v", run)
		}
		if _, err := experiment.Start(ctx, db, audit.ActorCLI, "hero", t0, 0); err == nil || !strings.Contains(err.Error(), "only a draft can start") {
			t.Fatalf("start twice: %v", err)
		}
		s, err := experiment.Stop(ctx, db, audit.ActorCLI, "hero", t0.Add(48*time.Hour))
		if err != nil || s.Status != experiment.StatusStopped || !s.End.Equal(t0.Add(48*time.Hour)) || s.Active(t0.Add(time.Hour)) {
			t.Fatalf("stop: %v %+v", err, s)
		}
		if _, err := experiment.Get(ctx, db, "nope"); err == nil || !strings.Contains(err.Error(), "no such experiment") {
			t.Fatalf("get unknown: %v", err)
		}
		entries, err := audit.List(ctx, db, audit.Filter{Action: "experiment."})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range entries {
			got = append(got, a.Actor+" "+a.Action+" "+a.Target)
		}
		want := fmt.Sprintf("cli experiment.stop experiment:%d|token:ci experiment.start experiment:%d|user:ana@shop.example experiment.create experiment:%d", e.ID, e.ID, e.ID)
		if strings.Join(got, "|") != want {
			t.Fatalf("audit log\n%s\nwant\n%s", strings.Join(got, "|"), want)
		}
	})
}

// TestReportCountsExposedUnits builds a store where the truth per arm is known: visitors
// exposed at known times, orders before and after their exposure, visitors never
// exposed, a visitor who saw both variants, exposures of another experiment and of an
// unknown variation. The report's units and means must be exactly the ones counted here.
func TestReportCountsExposedUnits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		vs, _ := experiment.ParseVariants("control=1,b=1")
		e, err := experiment.Create(ctx, db, audit.ActorCLI, experiment.Experiment{Name: "hero", Variants: vs,
			Metric: experiment.Metric{Kind: experiment.MetricRevenue}, Guardrails: []experiment.Metric{{Kind: experiment.MetricOrders}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := experiment.Start(ctx, db, audit.ActorCLI, "hero", t0, 0); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		var evs []map[string]any
		type truth struct {
			n   int
			sum float64
			pre map[string]float64
		}
		want := [2]*truth{{pre: map[string]float64{}}, {pre: map[string]float64{}}}
		const visitors = 400
		for i := range visitors {
			anon := fmt.Sprintf("v-%03d", i)
			arm := e.Assign(anon)
			seen := t0.Add(time.Duration(i) * 25 * time.Minute) // spread over ~7 days
			evs = append(evs, viewed(anon, "hero", e.Variants[arm].Key, seen))
			want[arm].n++
			if i%7 == 0 { // bought in the pre-period: CUPED's covariate, not the outcome
				evs = append(evs, order(anon, fmt.Sprintf("pre-%d", i), t0.Add(-5*24*time.Hour), 20, "EUR"))
			}
			if i%11 == 0 { // bought after the start but before seeing the test: not counted
				evs = append(evs, order(anon, fmt.Sprintf("early-%d", i), seen.Add(-time.Minute), 99, "EUR"))
			}
			p := 0.15 + 0.1*float64(arm)
			if rng.Float64() < p {
				amount := math.Round(100*(10+40*rng.Float64())) / 100
				evs = append(evs, order(anon, fmt.Sprintf("o-%d", i), seen.Add(2*time.Hour), amount, "EUR"))
				want[arm].sum += amount
			}
			if i%13 == 0 { // another currency is left out of revenue
				evs = append(evs, order(anon, fmt.Sprintf("usd-%d", i), seen.Add(3*time.Hour), 500, "USD"))
			}
		}
		// Never exposed, other experiment, unknown variation, crossover.
		evs = append(evs, order("stranger", "s-1", t0.Add(time.Hour), 1000, "EUR"))
		evs = append(evs, viewed("other", "another-test", "b", t0.Add(time.Hour)))
		evs = append(evs, viewed("odd", "hero", "purple", t0.Add(time.Hour)))
		first := e.Variants[e.Assign("v-000")].Key
		otherKey := e.Variants[1-e.Assign("v-000")].Key
		evs = append(evs, viewed("v-000", "hero", otherKey, t0.Add(time.Hour)))
		identitytest.Load(t, db, "web", loadedAt, evs...)

		r, err := experiment.BuildReport(ctx, db, "hero", experiment.ReportOptions{Now: t0.Add(8 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Units != visitors || r.Crossovers != 1 || r.Unknown != 1 {
			t.Fatalf("units %d crossovers %d unknown %d", r.Units, r.Crossovers, r.Unknown)
		}
		for i, v := range r.Primary.Result.Variants {
			w := want[i]
			if v.Variant != e.Variants[i].Key || v.N != int64(w.n) || math.Abs(float64(v.Mean)-w.sum/float64(w.n)) > 1e-9 {
				t.Errorf("arm %s: n %d mean %v, want n %d mean %v", v.Variant, v.N, float64(v.Mean), w.n, w.sum/float64(w.n))
			}
		}
		if r.Primary.Currency != "EUR" || r.Primary.Label != "revenue per visitor" || !r.Primary.Result.Sequential || !r.Primary.Result.CUPED.Applied {
			t.Errorf("primary %+v", r.Primary)
		}
		if len(r.Guardrails) != 1 || r.Guardrails[0].Label != "orders per visitor" {
			t.Fatalf("guardrails %+v", r.Guardrails)
		}
		// 2 March 09:00 to 10 March 09:00: nine days, the last one partial.
		if n := len(r.Daily); n != 9 || r.Daily[0].Day != "2026-03-02" || r.Daily[n-1].Day != "2026-03-10" {
			t.Fatalf("daily points: %d, from %s to %s", n, r.Daily[0].Day, r.Daily[n-1].Day)
		}
		// The day series grows to the final count.
		last := r.Daily[len(r.Daily)-1].Variants
		if last[0].N+last[1].N != visitors || r.Daily[0].Variants[0].N+r.Daily[0].Variants[1].N >= visitors {
			t.Fatalf("daily units: first %+v last %+v", r.Daily[0].Variants, last)
		}
		if !strings.Contains(strings.Join(r.Notes, "\n"), "1 visitors saw more than one variant") || first == "" {
			t.Errorf("notes %v", r.Notes)
		}
		if r.Verdict == "" || r.Verdict != r.Primary.Result.Verdict.Text && !strings.HasPrefix(r.Verdict, r.Primary.Result.Verdict.Text+"; but ") {
			t.Errorf("verdict %q", r.Verdict)
		}
	})
}

func TestReportSwitchback(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		vs, _ := experiment.ParseVariants("off,on")
		e, err := experiment.Create(ctx, db, audit.ActorCLI, experiment.Experiment{Name: "promo-days", Unit: experiment.UnitDay, Variants: vs, Metric: experiment.Metric{Kind: experiment.MetricOrders}})
		if err != nil {
			t.Fatal(err)
		}
		start := t0.Add(3 * time.Hour) // 12:00: the first, partial day is left out
		if _, err := experiment.Start(ctx, db, audit.ActorCLI, "promo-days", start, 0); err != nil {
			t.Fatal(err)
		}
		var evs []map[string]any
		want := map[int][2]float64{} // arm → (days, orders)
		for d := 0; d < 30; d++ {
			day := time.Date(2026, 3, 2+d, 0, 0, 0, 0, time.UTC)
			arm := e.Assign(day.Format(time.DateOnly))
			n := 3 + d%4 + 2*arm
			for k := range n {
				evs = append(evs, order(fmt.Sprintf("c-%d-%d", d, k), fmt.Sprintf("d%d-%d", d, k), day.Add(time.Duration(10+k)*time.Hour), 12, "EUR"))
			}
			if d >= 1 && d <= 27 { // the whole days inside [2 March 12:00, 30 March 12:00)
				w := want[arm]
				w[0]++
				w[1] += float64(n)
				want[arm] = w
			}
		}
		identitytest.Load(t, db, "till", loadedAt, evs...)
		r, err := experiment.BuildReport(ctx, db, "promo-days", experiment.ReportOptions{Now: start.Add(28 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Units != 27 {
			t.Fatalf("units %d, want the 27 whole days", r.Units)
		}
		for i, v := range r.Primary.Result.Variants {
			w := want[i]
			if v.N != int64(w[0]) || math.Abs(float64(v.Mean)-w[1]/w[0]) > 1e-9 {
				t.Errorf("arm %s: %d days mean %v, want %v days mean %v", v.Variant, v.N, float64(v.Mean), w[0], w[1]/w[0])
			}
		}
		if r.Primary.Result.Sequential || r.Primary.Label != "orders per day" {
			t.Errorf("switchback read %+v", r.Primary)
		}
	})
}

// TestPlanFromHistory: 280 customers active in the four weeks before now, 40 of whom
// bought once for 50 EUR. The plan must use exactly that baseline: 10 new units a day,
// revenue per customer with mean 40·50/280 and the sample SD of those 280 values.
func TestPlanFromHistory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := t0.Add(28 * 24 * time.Hour)
		var evs []map[string]any
		for i := range 280 {
			anon := fmt.Sprintf("h-%d", i)
			at := t0.Add(time.Duration(i) * 2 * time.Hour)
			evs = append(evs, track(anon, "Product Viewed", at, map[string]any{"sku": "loaf"}))
			if i%7 == 0 {
				evs = append(evs, order(anon, fmt.Sprintf("h-o-%d", i), at.Add(time.Minute), 50, "EUR"))
			}
		}
		// Before the window: not history.
		evs = append(evs, order("old", "old-1", t0.Add(-48*time.Hour), 500, "EUR"))
		identitytest.Load(t, db, "web", loadedAt, evs...)
		vs, _ := experiment.ParseVariants("control,b")
		e, err := experiment.Create(ctx, db, audit.ActorCLI, experiment.Experiment{Name: "plan", Variants: vs, Metric: experiment.Metric{Kind: experiment.MetricRevenue}, MDE: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		p, h, err := experiment.PlanFromHistory(ctx, db, e, now)
		if err != nil {
			t.Fatal(err)
		}
		mean := 40 * 50.0 / 280
		sd := math.Sqrt((40*(50-mean)*(50-mean) + 240*mean*mean) / 279)
		if h.Units != 280 || math.Abs(h.UnitsPerDay-10) > 1e-9 || math.Abs(h.Mean-mean) > 1e-9 || math.Abs(h.SD-sd) > 1e-9 {
			t.Fatalf("history %+v, want 280 units, 10/day, mean %v sd %v", h, mean, sd)
		}
		want, _ := experiment.NewPlan(experiment.PlanInput{Mean: mean, SD: sd, UnitsPerDay: 10, Arms: 2, MDE: 0.25, Sequential: true})
		if p != want || p.Days != int(math.Ceil(float64(2*p.PerArm)/10)) || !p.TooWeak {
			t.Fatalf("plan %+v, want %+v", p, want)
		}
		if txt := p.Text("visitors"); !strings.HasPrefix(txt, fmt.Sprintf("too weak to be worth running: with your traffic this test needs %d days", p.Days)) {
			t.Fatalf("plan text %q", txt)
		}
		// A test of conversion, where the spread is smaller relative to the mean, fits.
		e.Metric = experiment.Metric{Kind: experiment.MetricConversion}
		e.MDE = 1 // a doubling: 10 visitors a day find nothing smaller within 90 days
		p, _, err = experiment.PlanFromHistory(ctx, db, e, now)
		if err != nil || p.TooWeak || p.Days < 3 || !strings.HasPrefix(p.Text("visitors"), fmt.Sprintf("with your traffic this test needs %d days", p.Days)) {
			t.Fatalf("conversion plan %+v (%v): %s", p, err, p.Text("visitors"))
		}
	})
}

// TestReportGuardrailWarning: the primary metric does not move, a guardrail does; the
// verdict says so.
func TestReportGuardrailWarning(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	vs, _ := experiment.ParseVariants("control,b")
	e, err := experiment.Create(ctx, db, audit.ActorCLI, experiment.Experiment{Name: "banner", Variants: vs,
		Metric: experiment.Metric{Kind: experiment.MetricConversion, Event: "Signed Up"}, Guardrails: []experiment.Metric{{Kind: experiment.MetricOrders}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := experiment.Start(ctx, db, audit.ActorCLI, "banner", t0, 0); err != nil {
		t.Fatal(err)
	}
	var evs []map[string]any
	for i := range 800 {
		anon := fmt.Sprintf("g-%d", i)
		arm := e.Assign(anon)
		seen := t0.Add(time.Duration(i) * 10 * time.Minute)
		evs = append(evs, viewed(anon, "banner", e.Variants[arm].Key, seen))
		if i%5 == 0 {
			evs = append(evs, track(anon, "Signed Up", seen.Add(time.Minute), nil))
		}
		if (arm == 1 && i%2 == 0) || (arm == 0 && i%10 == 0) {
			evs = append(evs, order(anon, fmt.Sprintf("g-o-%d", i), seen.Add(time.Hour), 20, "EUR"))
		}
	}
	identitytest.Load(t, db, "web", loadedAt, evs...)
	r, err := experiment.BuildReport(ctx, db, "banner", experiment.ReportOptions{Now: t0.Add(7 * 24 * time.Hour), Fixed: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Primary.Result.Verdict.Kind == experiment.VerdictWinner || !strings.Contains(r.Verdict, "; but b moved a guardrail: +") ||
		!strings.Contains(r.Verdict, "orders per visitor (95 % CI +") || r.Primary.Result.Sequential {
		t.Fatalf("verdict %q", r.Verdict)
	}
}
