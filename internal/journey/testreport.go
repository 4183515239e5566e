package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// The journey report reads its holdout and its message tests with internal/experiment's
// statistics and verdicts, beside the report's own fields (which scripts depend on).

// HoldoutTest is the journey against its holdout as an experiment: arms "holdout"
// (control) and "journey", units the runs the report compares.
type HoldoutTest struct {
	Conversion experiment.MetricReport `json:"conversion"`
	Revenue    experiment.MetricReport `json:"revenue"`
	Verdict    string                  `json:"verdict"` // on conversion, with the revenue's when it differs
}

// StepTest is one message test: runs that reached the step, by variant.
type StepTest struct {
	Name    string                    `json:"name"` // the experiment's name
	Step    string                    `json:"step"`
	Mode    string                    `json:"mode"`   // test or optimise
	Metric  string                    `json:"metric"` // the primary metric
	Runs    int64                     `json:"runs"`
	Primary experiment.MetricReport   `json:"primary"`
	Others  []experiment.MetricReport `json:"others"` // the other metrics, for guarding
	Daily   []experiment.DayPoint     `json:"daily"`  // the primary metric per variant at each day's end
	Bandit  *experiment.BanditReport  `json:"bandit,omitempty"`
	Verdict string                    `json:"verdict"`
	Notes   []string                  `json:"notes,omitempty"`
}

// testDef is a test as the latest version that has it defines it.
type testDef struct {
	Test
	step string
}

// journeyTests reads the journey's planned holdout (latest version) and its tests over
// all versions (a test's latest definition wins), in step order of the latest plan.
func journeyTests(ctx context.Context, db *store.DB, journey string) (holdout float64, tests []testDef, err error) {
	rows, err := db.Query(ctx, `SELECT version, plan FROM journeys WHERE name = ? ORDER BY version`, journey)
	if err != nil {
		return 0, nil, fmt.Errorf("journey report tests: %w", err)
	}
	defer rows.Close()
	byName := map[string]int{}
	for rows.Next() {
		var v int
		var pj string
		if err := rows.Scan(&v, &pj); err != nil {
			return 0, nil, err
		}
		var pl Plan
		if err := json.Unmarshal([]byte(pj), &pl); err != nil {
			return 0, nil, fmt.Errorf("journey %s v%d plan: %w", journey, v, err)
		}
		holdout = pl.Holdout
		for _, n := range pl.Nodes {
			if n.Test == nil {
				continue
			}
			d := testDef{Test: *n.Test, step: n.ID}
			if i, ok := byName[n.Test.Name]; ok {
				tests[i] = d
			} else {
				byName[n.Test.Name] = len(tests)
				tests = append(tests, d)
			}
		}
	}
	return holdout, tests, rows.Err()
}

// holdoutTest compares the report's groups with internal/experiment.
func (r *Report) holdoutTest(holdout float64) *HoldoutTest {
	if holdout <= 0 || r.Holdout.Runs+r.Treated.Runs == 0 {
		return nil
	}
	arms := func(h, t experiment.Moments) []experiment.Arm {
		return []experiment.Arm{{Name: "holdout", Weight: holdout, Moments: h}, {Name: "journey", Weight: 1 - holdout, Moments: t}}
	}
	opt := experiment.Options{Control: "holdout", Sequential: true, UnitLabel: "runs"}
	ht := &HoldoutTest{}
	opt.Type, opt.MetricLabel = experiment.Proportion, "conversion"
	c, err := experiment.Analyze(arms(r.Holdout.conv, r.Treated.conv), opt)
	if err != nil {
		return nil
	}
	opt.Type, opt.MetricLabel = experiment.Mean, "revenue per run"
	rv, err := experiment.Analyze(arms(r.Holdout.rev, r.Treated.rev), opt)
	if err != nil {
		return nil
	}
	ht.Conversion = experiment.MetricReport{Metric: experiment.Metric{Kind: experiment.MetricConversion}, Label: "conversion", Result: c}
	ht.Revenue = experiment.MetricReport{Metric: experiment.Metric{Kind: experiment.MetricRevenue}, Label: "revenue per run", Currency: r.Currency, Result: rv}
	ht.Verdict = c.Verdict.Text
	if rv.Verdict.Kind != c.Verdict.Kind && rv.Verdict.Kind != experiment.VerdictTooEarly {
		ht.Verdict += "; revenue: " + rv.Verdict.Text
	}
	return ht
}

// testUnitObs is one run at a test step.
type testUnitObs struct {
	arm     int
	at      int64
	metrics [4]float64 // conversion, revenue, open, click
}

var testMetrics = []string{TestConversion, TestRevenue, TestOpen, TestClick}

// measureTest reads one test: each run that reached its step outside the holdout, with
// its variant, whether it ordered within opt.Window of the send (and for how much), and
// whether the message was opened or clicked. Runs started in [from, to).
func measureTest(ctx context.Context, db *store.DB, journey string, t testDef, opt ReportOptions, from, to int64, now time.Time) (StepTest, error) {
	st := StepTest{Name: t.Name, Step: t.step, Mode: t.Mode, Metric: t.Metric, Daily: []experiment.DayPoint{}, Others: []experiment.MetricReport{}}
	rows, err := db.Query(ctx, `SELECT s.variant, s.created_at, s.opened_at, s.clicked_at, COUNT(o.order_id), COALESCE(SUM(o.revenue_minor), 0)
		FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id
		LEFT JOIN orders o ON o.customer_id = r.customer_id AND o.ts >= s.created_at AND o.ts < s.created_at + ? AND o.currency = ? AND o.seq <> r.entry_seq
		WHERE s.experiment = ? AND s.journey = ? AND s.variant <> '' AND r.started_at >= ? AND r.started_at < ?
		GROUP BY s.id, s.variant, s.created_at, s.opened_at, s.clicked_at`,
		opt.Window.Milliseconds(), opt.Currency, t.Name, journey, from, to)
	if err != nil {
		return st, fmt.Errorf("journey report test %s: %w", t.Name, err)
	}
	defer rows.Close()
	idx := map[string]int{}
	for i, v := range t.Variants {
		idx[v.Key] = i
	}
	var units []testUnitObs
	unknown := 0
	for rows.Next() {
		var v string
		var at, opened, clicked, n, rev int64
		if err := rows.Scan(&v, &at, &opened, &clicked, &n, &rev); err != nil {
			return st, err
		}
		i, ok := idx[v]
		if !ok {
			unknown++
			continue
		}
		u := testUnitObs{arm: i, at: at}
		if n > 0 {
			u.metrics[0] = 1
		}
		u.metrics[1] = money.Major(rev, opt.Currency)
		if opened > 0 {
			u.metrics[2] = 1
		}
		if clicked > 0 {
			u.metrics[3] = 1
		}
		units = append(units, u)
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	if unknown > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d runs got a variant that is no longer in the test and are left out", unknown))
	}
	sort.Slice(units, func(i, j int) bool { return units[i].at < units[j].at })
	st.Runs = int64(len(units))
	analyse := func(m int, upto int64) (experiment.Result, error) {
		arms := make([]experiment.Arm, len(t.Variants))
		for i, v := range t.Variants {
			arms[i] = experiment.Arm{Name: v.Key, Weight: v.Weight}
		}
		first := int64(0)
		for _, u := range units {
			if u.at >= upto {
				break
			}
			if first == 0 {
				first = u.at
			}
			arms[u.arm].Moments.Add(u.metrics[m], 0)
		}
		o := experiment.Options{Type: experiment.Mean, Control: t.Variants[0].Key, Sequential: true, UnitLabel: "runs", MetricLabel: metricLabel(testMetrics[m])}
		if testMetrics[m] != TestRevenue {
			o.Type = experiment.Proportion
		}
		if first > 0 {
			o.Days = math.Max(float64(upto-first), 0) / float64(24*time.Hour/time.Millisecond)
		}
		if t.Mode == ModeOptimise {
			// The bandit sets the shares: no planned split to check against.
			o.SRMMinUnits = math.MaxInt32
		}
		return experiment.Analyze(arms, o)
	}
	for m, name := range testMetrics {
		if name == TestOpen && !emailTest(t.Test) {
			continue
		}
		res, err := analyse(m, math.MaxInt64)
		if err != nil {
			return st, err
		}
		mr := experiment.MetricReport{Metric: experiment.Metric{Kind: name}, Label: metricLabel(name), Result: res}
		if name == TestRevenue {
			mr.Currency = opt.Currency
		}
		if name == t.Metric {
			st.Primary = mr
			// The primary metric per variant at the end of each day since the first send.
			if len(units) > 0 {
				loc := time.UTC
				day := startOfDayUTC(time.UnixMilli(units[0].at), loc)
				for ; day.UnixMilli() <= units[len(units)-1].at; day = day.AddDate(0, 0, 1) {
					r, err := analyse(m, day.AddDate(0, 0, 1).UnixMilli())
					if err != nil {
						return st, err
					}
					st.Daily = append(st.Daily, experiment.DayPoint{Day: day.Format(time.DateOnly), Variants: r.Variants, Verdict: r.Verdict.Kind})
				}
			}
		} else {
			st.Others = append(st.Others, mr)
		}
	}
	st.Verdict = st.Primary.Result.Verdict.Text
	if t.Mode == ModeOptimise {
		b := experiment.Bandit{Floor: t.Floor}
		m := 3
		if t.Metric == TestOpen {
			m = 2
		}
		for i, v := range t.Variants {
			arm := experiment.BanditArm{Key: v.Key}
			for _, u := range units {
				if u.arm == i {
					arm.Trials++
					arm.Successes += int64(u.metrics[m])
				}
			}
			b.Arms = append(b.Arms, arm)
		}
		h := fnv.New64a()
		h.Write([]byte(t.Name))
		br, err := b.Report(rand.New(rand.NewPCG(h.Sum64(), uint64(st.Runs))))
		if err != nil {
			return st, err
		}
		st.Bandit = &br
		var best experiment.BanditArmReport
		for _, a := range br.Arms {
			if a.Key == br.Best {
				best = a
			}
		}
		st.Verdict = fmt.Sprintf("optimising on %s: %s is best so far (%s chance), regret %.0f %s (%.1f %%) against sending it to everyone",
			metricLabel(t.Metric), br.Best, experiment.Chance(best.ProbBest), br.Regret, pluralMetric(t.Metric), 100*br.RegretPc)
		st.Notes = append(st.Notes, "a bandit moves sends towards the leader, so its comparison of the variants is indicative only; run mode: test for an unbiased estimate")
	}
	return st, nil
}

func emailTest(t Test) bool {
	for _, v := range t.Variants {
		if v.Send.Channel != "email" {
			return false
		}
	}
	return true
}

func metricLabel(m string) string {
	switch m {
	case TestRevenue:
		return "revenue per run"
	case TestOpen:
		return "open rate"
	case TestClick:
		return "click rate"
	}
	return "conversion"
}

func pluralMetric(m string) string {
	switch m {
	case TestOpen:
		return "opens"
	case TestClick:
		return "clicks"
	}
	return "conversions"
}

func startOfDayUTC(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func init() {
	experiment.JourneyReporter = experimentReport
}

// testExperiments are the plan's tests as experiments (SyncJourneyTests stores them).
func (p *Plan) testExperiments() []experiment.Experiment {
	var out []experiment.Experiment
	for _, n := range p.Nodes {
		t := n.Test
		if t == nil {
			continue
		}
		e := t.experiment()
		e.Unit = experiment.UnitRun
		e.Hypothesis = fmt.Sprintf("journey %s, step %s: %s on %s", p.Name, n.ID, t.Mode, metricLabel(t.Metric))
		e.Design = experiment.Design{Journey: p.Name, Step: n.ID, Mode: t.Mode}
		switch t.Metric {
		case TestRevenue:
			e.Metric = experiment.Metric{Kind: experiment.MetricRevenue}
		case TestOpen:
			e.Metric = experiment.Metric{Kind: experiment.MetricConversion, Event: "Email Opened"}
		case TestClick:
			e.Metric = experiment.Metric{Kind: experiment.MetricConversion, Event: "Email Link Clicked"}
		default:
			e.Metric = experiment.Metric{Kind: experiment.MetricConversion}
		}
		out = append(out, e)
	}
	return out
}

// experimentReport is a journey test's report in the experiments' form: all runs of the
// journey that reached the test's step, orders within 7 days of the send.
func experimentReport(ctx context.Context, db *store.DB, e experiment.Experiment, now time.Time) (experiment.Report, error) {
	rep, err := Measure(ctx, db, e.Design.Journey, ReportOptions{})
	if err != nil {
		return experiment.Report{}, err
	}
	for _, st := range rep.Tests {
		if st.Name != e.Name {
			continue
		}
		r := experiment.Report{Experiment: e, To: now.UTC(), Units: st.Runs, Primary: st.Primary, Guardrails: st.Others, Daily: st.Daily,
			Verdict: st.Verdict, Notes: st.Notes}
		if e.Start != nil {
			r.From = *e.Start
			r.Days = r.To.Sub(r.From).Hours() / 24
		}
		if e.End != nil && e.End.Before(r.To) {
			r.To = *e.End
		}
		if st.Bandit != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("regret: %.0f %s", st.Bandit.Regret, pluralMetric(st.Metric)))
		}
		r.Notes = append(r.Notes, fmt.Sprintf("inside journey %s at step %s; orders count within %s of the send", e.Design.Journey, e.Design.Step, rep.Window))
		return r, nil
	}
	return experiment.Report{}, fmt.Errorf("journey %s has no test %q", e.Design.Journey, e.Name)
}
