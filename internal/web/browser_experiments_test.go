package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserExperiments drives the Experiments pages in real headless Chromium as a
// marketer: the list shows a running test with its verdict; the form creates a draft,
// whose page shows the plan; Start and Stop change it; and the running test's report
// draws the metric per variant over time. No console errors, exceptions or CSP
// violations.
func TestBrowserExperiments(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	seed(t, db)
	ctx := context.Background()
	const marketer, pw = "mara@example.com", "a long marketer password"
	if _, err := auth.CreateUserRole(ctx, db, marketer, pw, auth.RoleMarketer); err != nil {
		t.Fatal(err)
	}
	// A test that ran for ten days: 600 visitors, B converting better.
	vs, _ := experiment.ParseVariants("control=50,b=50")
	hero, err := experiment.Create(ctx, db, audit.ActorCLI, experiment.Experiment{Name: "hero", Hypothesis: "a warmer headline sells more", Variants: vs,
		Metric: experiment.Metric{Kind: experiment.MetricRevenue}})
	if err != nil {
		t.Fatal(err)
	}
	start := testNow.Add(-10 * 24 * time.Hour)
	if _, err := experiment.Start(ctx, db, audit.ActorCLI, "hero", start, 0); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 9))
	var evs []map[string]any
	for i := range 600 {
		anon := fmt.Sprintf("hv-%d", i)
		arm := hero.Assign(anon)
		at := start.Add(time.Duration(i) * 23 * time.Minute)
		evs = append(evs, map[string]any{"type": "track", "event": experiment.ExposureEvent, "anonymousId": anon, "timestamp": at.Format(time.RFC3339),
			"properties": map[string]any{"experiment_id": "hero", "variation_id": hero.Variants[arm].Key}})
		if rng.Float64() < 0.1+0.1*float64(arm) {
			evs = append(evs, map[string]any{"type": "track", "event": "Order Completed", "anonymousId": anon, "timestamp": at.Add(time.Hour).Format(time.RFC3339),
				"properties": map[string]any{"order_id": fmt.Sprintf("h-%d", i), "revenue": 20 + 20*rng.Float64(), "currency": "EUR"}})
		}
	}
	identitytest.Load(t, db, "web", testNow, evs...)
	ts := newTestServer(t, db, Options{noWarm: true})
	dir := artifactsDir(t)

	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, cctx, dir, 1280, 900)
	bctx, shot, text := br.Ctx, br.Shot, br.Text

	err = chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), marketer),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
		chromedp.Click(chromedp.CSS(`nav a[href^="/experiments"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-experiment`)),
	)
	if err != nil {
		t.Fatalf("experiments page: %v", err)
	}
	if list := text(`#experiments-table`); !strings.Contains(list, "hero") || !strings.Contains(list, "running") {
		t.Errorf("list: %q", list)
	}
	shot("experiments")

	// Create a draft with the form.
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#exp-name`), "subject-line"),
		chromedp.SendKeys(chromedp.CSS(`#exp-hypothesis`), "a shorter subject gets more opens"),
		chromedp.SetValue(chromedp.CSS(`#exp-unit`), "customer"),
		chromedp.Click(chromedp.CSS(`#new-experiment button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#exp-start`)),
	)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if st := text(`#exp-status`); st != "draft" {
		t.Errorf("new experiment's status %q", st)
	}
	if plan := text(`#exp-plan`); plan == "" {
		t.Error("the draft shows no plan")
	}
	shot("experiment-draft")
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#exp-start`)),
		chromedp.WaitVisible(chromedp.CSS(`#exp-stop`)),
	)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if st, v := text(`#exp-status`), text(`#exp-verdict`); st != "running" || !strings.Contains(v, "not enough data yet") {
		t.Errorf("after start: status %q, verdict %q", st, v)
	}
	// The confirmation box is required: without it the form does not submit.
	valid, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector('#exp-stop').form.checkValidity()`))
	if err != nil {
		t.Fatalf("stop form: %v", err)
	}
	if valid {
		t.Error("the stop form submits without its confirmation")
	}
	// Ticked and submitted by script: the submit navigates away, and chromedp's Click may
	// still be reading the node after the page has gone ("Could not find node").
	err = chromedp.Do(bctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=confirm]').checked = true, document.querySelector('#exp-stop').click(), 1`),
		chromedp.WaitNotPresent(chromedp.CSS(`#exp-stop`)),
	)
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	if e, _ := experiment.Get(ctx, db, "subject-line"); e.Status != experiment.StatusStopped || e.Unit != experiment.UnitCustomer {
		t.Errorf("stored: %+v", e)
	}
	entries, _ := audit.List(ctx, db, audit.Filter{Action: "experiment."})
	n := 0
	for _, a := range entries {
		if a.Actor == audit.UserActor(marketer) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("audit entries by the marketer: %d, want create, start, stop", n)
	}

	// The running test's report and its chart.
	err = chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/experiments/hero"),
		chromedp.WaitVisible(chromedp.CSS(`#exp-verdict`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-chart="metric-over-time"] canvas`)),
	)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var charts []chartState
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[json.RawMessage](chartCheckJS))
		if err != nil {
			t.Fatal(err)
		}
		charts = nil
		_ = json.Unmarshal(raw, &charts)
		if len(charts) == 1 && charts[0].Drawn || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(charts) != 1 || !charts[0].Drawn {
		t.Errorf("chart: %+v", charts)
	}
	if tab := text(`#results-table`); !strings.Contains(tab, "b") || !strings.Contains(tab, "control") {
		t.Errorf("results table: %q", tab)
	}
	shot("experiment-report")
	for _, p := range br.Problems() {
		t.Errorf("browser: %s", p)
	}
}
