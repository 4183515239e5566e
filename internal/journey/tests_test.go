package journey

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

const subjectTest = `name: welcome-test
purpose: transactional
entry: {event: Signed Up}
holdout: 10%
steps:
  - id: hello
    email:
      subject: "Welcome"
      text: "Hi {{.Profile.FirstName}}"
    test:
      name: welcome-subject
      variants:
        - key: control
        - key: warm
          subject: "Fresh bread for you, {{.Profile.FirstName}}"
`

// TestStepTestAssignsAndReports: 1,200 sign-ups through a journey whose email tests two
// subject lines. Holdout runs carry no variant; the others split about evenly, get the
// subject of their variant, and keep it if the run is replayed (a hash of the run key).
// Customers who got "warm" buy twice as often; the journey report reads the test with
// internal/experiment's statistics (winner, interval holding the true lift) and the
// holdout too, beside its old fields.
func TestStepTestAssignsAndReports(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.apply(subjectTest)
		const n = 1200
		for i := 1; i <= n; i++ {
			uid := f.customer(int64(i), nil)
			f.trackNoDrain(fmt.Sprintf("s%d", i), uid, "Signed Up", nil)
		}
		f.drain()

		rows, err := db.Query(f.ctx, `SELECT s.experiment, s.variant, r.holdout, r.customer_id, s.status, s.idem_key FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id`)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		variantOf := map[int64]string{}
		subjects := map[string]string{}
		for rows.Next() {
			var exp, v, status, idem string
			var h int
			var cid int64
			if err := rows.Scan(&exp, &v, &h, &cid, &status, &idem); err != nil {
				t.Fatal(err)
			}
			switch {
			case h == 1 && (exp != "" || v != "" || status != "suppressed"):
				t.Errorf("holdout run of customer %d: experiment %q variant %q status %s", cid, exp, v, status)
			case h == 0 && exp != "welcome-subject":
				t.Errorf("run of customer %d: experiment %q", cid, exp)
			}
			count[v]++
			variantOf[cid] = v
			if m := f.sink.msgs[idem]; m != nil {
				subjects[v] = m.Subject
			}
		}
		rows.Close()
		if c, w := count["control"], count["warm"]; math.Abs(float64(c-w)) > 3*math.Sqrt(float64(c+w)) || count[""] < 80 || count[""] > 160 {
			t.Errorf("assignment: %v", count)
		}
		if subjects["control"] != "Welcome" || !strings.HasPrefix(subjects["warm"], "Fresh bread for you, Cust") {
			t.Errorf("subjects by variant: %q", subjects)
		}
		// The variant is the hash of the run key, as experiment.Assign computes it.
		pl, _ := Compile([]byte(subjectTest))
		e := pl.Nodes[0].Test.experiment()
		for cid, v := range variantOf {
			if v != "" && e.Variants[e.Assign(fmt.Sprintf("%d/", cid))].Key != v {
				t.Fatalf("customer %d got %s, the hash says %s", cid, v, e.Variants[e.Assign(fmt.Sprintf("%d/", cid))].Key)
			}
		}

		// Orders within the week after the email: warm 30 %, control and holdout 15 %.
		rng := rand.New(rand.NewPCG(2, 2))
		f.advance(2 * time.Hour)
		// In customer order: a map's order would hand the seeded draws to other customers
		// on every run, and the test's data (and verdict) with them.
		cids := slices.Sorted(maps.Keys(variantOf))
		for _, cid := range cids {
			v := variantOf[cid]
			p := 0.15
			if v == "warm" {
				p = 0.30
			}
			if rng.Float64() < p {
				f.trackNoDrain(fmt.Sprintf("o%d", cid), fmt.Sprintf("u%d", cid), "Order Completed", map[string]any{"order_id": fmt.Sprintf("o-%d", cid), "revenue_minor": 2500})
			}
		}
		f.drain()
		rep, err := Measure(f.ctx, db, "welcome-test", ReportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Tests) != 1 {
			t.Fatalf("tests: %+v", rep.Tests)
		}
		st := rep.Tests[0]
		t.Logf("test: %s", st.Verdict)
		t.Logf("holdout: %s", rep.Experiment.Verdict)
		if st.Name != "welcome-subject" || st.Step != "hello" || st.Primary.Label != "conversion" || st.Runs != int64(count["control"]+count["warm"]) {
			t.Errorf("test %+v", st)
		}
		res := st.Primary.Result
		if res.Verdict.Kind != experiment.VerdictWinner || !strings.HasPrefix(res.Verdict.Text, "warm wins") {
			t.Errorf("verdict %q: %+v %+v", res.Verdict.Text, res.Variants[0], res.Variants[1])
		}
		if w := res.Variants[1]; !(float64(w.LiftLow) <= 1 && 1 <= float64(w.LiftHigh)) || !res.Sequential {
			t.Errorf("true lift +100 %%: %v to %v", float64(w.LiftLow), float64(w.LiftHigh))
		}
		if len(st.Daily) == 0 || len(st.Others) != 3 {
			t.Errorf("daily %d, others %d", len(st.Daily), len(st.Others))
		}
		if rep.Experiment == nil || rep.Experiment.Conversion.Result.Control != "holdout" || rep.Experiment.Conversion.Result.Variants[1].N != rep.Treated.Runs {
			t.Fatalf("holdout experiment %+v", rep.Experiment)
		}
		// The test is an experiment too: listed, reported, stopped by the journey only.
		ex, err := experiment.Get(f.ctx, db, "welcome-subject")
		if err != nil || ex.Status != experiment.StatusRunning || ex.Unit != experiment.UnitRun || ex.Design.Journey != "welcome-test" || ex.Design.Step != "hello" {
			t.Fatalf("experiment: %v %+v", err, ex)
		}
		er, err := experiment.BuildReport(f.ctx, db, "welcome-subject", experiment.ReportOptions{Journeys: ExperimentReport})
		if err != nil || er.Verdict != st.Verdict || er.Units != st.Runs || len(er.Daily) == 0 {
			t.Errorf("experiment report: %v %q", err, er.Verdict)
		}
		if _, err := experiment.BuildReport(f.ctx, db, "welcome-subject", experiment.ReportOptions{}); err == nil || !strings.Contains(err.Error(), "omniroi journey report welcome-test") {
			t.Errorf("report without the journey reporter: %v", err)
		}
		if _, err := experiment.Stop(f.ctx, db, "cli", "welcome-subject", f.clock()); err == nil || !strings.Contains(err.Error(), "inside journey welcome-test") {
			t.Errorf("stop a journey test: %v", err)
		}
		f.apply(strings.Replace(subjectTest[:strings.Index(subjectTest, "    test:")], "Welcome", "Welcome!", 1))
		if ex, _ := experiment.Get(f.ctx, db, "welcome-subject"); ex.Status != experiment.StatusStopped || ex.End == nil {
			t.Errorf("test taken out of the journey: %+v", ex)
		}
		raw, _ := json.Marshal(rep)
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(raw, &fields)
		for _, k := range []string{"journey", "treated", "holdout", "conversion_lift_pp", "conversion_lift_pp_ci95", "revenue_per_run_diff_minor", "incremental_revenue_minor", "roi", "significant", "too_few_runs", "experiment", "tests"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("report JSON lacks %q", k)
			}
		}
	})
}

// TestStepOptimise: a bandit over three subject lines whose click rates are 4 %, 6 % and
// 12 %. Each day 400 people sign up; clicks come in; shares are recomputed daily with a
// floor of 5 %. After two weeks most sends go to the best line, every line keeps its
// floor, and the report names the best line and the regret.
func TestStepOptimise(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.apply(`name: opt
purpose: transactional
entry: {event: Signed Up}
holdout: 0%
steps:
  - email: {subject: "A", text: "a"}
    test:
      name: opt-subject
      mode: optimise
      floor: 5%
      update: 1d
      variants:
        - key: a
        - key: b
          subject: "B"
        - key: c
          subject: "C"
`)
	rate := map[string]float64{"a": 0.04, "b": 0.06, "c": 0.12}
	rng := rand.New(rand.NewPCG(5, 5))
	id := 0
	var lastDay map[string]int
	perDay := testenv.Size(400, 150) // sign-ups a day; -short: fewer, same shares
	for day := range 14 {
		lastDay = map[string]int{}
		for range perDay {
			id++
			uid := f.customer(int64(id), nil)
			f.trackNoDrain(fmt.Sprintf("s%d", id), uid, "Signed Up", nil)
		}
		f.drain()
		rows, err := db.Query(f.ctx, `SELECT id, variant FROM journey_sends WHERE created_at >= ? AND status = 'sent'`, f.clock().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		var clicked []int64
		for rows.Next() {
			var sid int64
			var v string
			if err := rows.Scan(&sid, &v); err != nil {
				t.Fatal(err)
			}
			lastDay[v]++
			if rng.Float64() < rate[v] {
				clicked = append(clicked, sid)
			}
		}
		rows.Close()
		for _, sid := range clicked {
			if err := db.Write(f.ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(f.ctx, `UPDATE journey_sends SET clicked_at = ? WHERE id = ?`, f.clock().Add(time.Hour).UnixMilli(), sid)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		_ = day
		f.advance(24 * time.Hour)
	}
	t.Logf("last day's sends by line: %v", lastDay)
	if lastDay["c"] < perDay*3/4 || lastDay["a"] == 0 || lastDay["b"] == 0 {
		t.Errorf("last day's sends %v: want most on c, none starved", lastDay)
	}
	rep, err := Measure(f.ctx, db, "opt", ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Tests[0]
	t.Logf("optimise: %s", st.Verdict)
	if st.Bandit == nil || st.Bandit.Best != "c" || st.Bandit.Regret <= 0 || st.Mode != ModeOptimise || st.Primary.Label != "click rate" {
		t.Errorf("bandit report %+v", st.Bandit)
	}
}

// TestStepTestDocument: what a test may and may not say.
func TestStepTestDocument(t *testing.T) {
	t.Parallel()
	pl, err := Compile([]byte(`name: j
entry: {event: Signed Up}
steps:
  - id: Mail One
    email: {subject: "a", text: "b", send_time: best}
    test:
      variants:
        - key: control
          weight: 2
        - key: sms
          sms: {text: "hi"}
        - key: now
          send_time: now
`))
	if err != nil {
		t.Fatal(err)
	}
	tt := pl.Nodes[0].Test
	if tt.Name != "j-mail-one" || tt.Metric != TestConversion || tt.Variants[0].Weight != 2 || tt.Variants[1].Send.Channel != "sms" ||
		tt.Variants[2].Send.SendTime != "" || tt.Variants[0].Send.SendTime != "best" || tt.Variants[2].Send.Subject != "a" {
		t.Errorf("compiled test %+v", tt)
	}
	for _, c := range []struct{ doc, want string }{
		{`  - wait: 1h
    test: {variants: [{key: a}, {key: b}]}`, "a test goes on a message step"},
		{`  - email: {subject: a, text: b}
    test: {variants: [{key: a}]}`, "at least two variants"},
		{`  - email: {subject: a, text: b}
    test: {mode: optimise, metric: conversion, variants: [{key: a}, {key: b}]}`, "orders arrive too late"},
		{`  - email: {subject: a, text: b}
    test: {variants: [{key: a}, {key: b, title: x}]}`, "a email step has no title to change"},
		{`  - sms: {text: a}
    test: {metric: open, variants: [{key: a}, {key: b, text: x}]}`, "only email has opens"},
		{`  - email: {subject: a, text: b}
    test: {name: x, variants: [{key: a}, {key: a}]}
  - email: {subject: a, text: b}
    test: {name: x, variants: [{key: a}, {key: b, subject: "{{"}]}`, `both test "x"`},
		{`  - email: {subject: a, text: b}
    test: {mode: optimise, floor: 40%, variants: [{key: a}, {key: b}, {key: c}]}`, "more than all the sends"},
	} {
		_, err := Compile([]byte("name: j\nentry: {event: Signed Up}\nsteps:\n" + c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerror %v, want %q", c.doc, err, c.want)
		}
	}
}
