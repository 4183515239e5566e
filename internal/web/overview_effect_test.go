package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// overviewEffectPage is the part of the Overview's ?format=json the effect view adds.
type overviewEffectPage struct {
	Tables map[string][]map[string]string `json:"tables"`
	Effect struct {
		State    string  `json:"state"`
		Message  string  `json:"message"`
		Best     *string `json:"best"`
		Headline string  `json:"headline"`
		Channels []struct {
			Channel     string           `json:"channel"`
			ROAS        float64          `json:"roas"`
			ROASLow     float64          `json:"roas_low"`
			ROASHigh    float64          `json:"roas_high"`
			Verdict     string           `json:"verdict"`
			Text        string           `json:"text"`
			Calibration *mix.Calibration `json:"calibration"`
		} `json:"channels"`
	} `json:"effect"`
}

func loadDemo(t *testing.T, db *store.DB, customers int) {
	t.Helper()
	cfg := demo.Config{Seed: 1, Customers: customers, End: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := demo.Load(context.Background(), db, demo.LoadOptions{Config: cfg, Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
}

// TestOverviewEffectOnDemo: on the demo, whose Paid Social loses money in truth (each
// euro brings back about 0.7–0.8) while attribution credits it with several euros, the
// Overview shows by default what the spend caused, with Paid Social below 1, backed by
// the demo's switchback experiment; the credit view is one click away and labelled as
// credit; ?format=json carries the effect figures beside the tables it always had.
func TestOverviewEffectOnDemo(t *testing.T) {
	testenv.Slow(t, "loads a demo of 10,000 people")
	db := storetest.SQLite(t)
	loadDemo(t, db, 10000)
	ts := newTestServer(t, db, Options{noWarm: true})
	c, _ := ts.loggedIn(t)

	var pj overviewEffectPage
	for deadline := time.Now().Add(3 * time.Minute); ; {
		_, body := get(t, c, ts.URL+"/?format=json")
		pj = overviewEffectPage{}
		if err := json.Unmarshal([]byte(body), &pj); err != nil {
			t.Fatalf("%v\n%.500s", err, body)
		}
		if pj.Effect.State != effectComputing || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if pj.Effect.State != effectReady {
		t.Fatalf("effect state %q: %s", pj.Effect.State, pj.Effect.Message)
	}
	if len(pj.Tables["channel-roi"]) == 0 || len(pj.Tables["channel-effect"]) == 0 {
		t.Errorf("the JSON lacks a table: %v", pj.Tables)
	}
	var social bool
	for _, ch := range pj.Effect.Channels {
		t.Logf("%s: %.2f [%.2f, %.2f] %s (%s) experiment %+v", ch.Channel, ch.ROAS, ch.ROASLow, ch.ROASHigh, ch.Verdict, ch.Text, ch.Calibration)
		if ch.Channel != "Paid Social" {
			continue
		}
		social = true
		if ch.ROAS >= 1 || !strings.Contains(ch.Verdict, "losing_money") {
			t.Errorf("Paid Social shown returning %.2f (%s); it loses money", ch.ROAS, ch.Verdict)
		}
		if ch.Calibration == nil || ch.Calibration.Experiment == "" {
			t.Errorf("Paid Social is not shown backed by the demo's switchback")
		}
	}
	if !social {
		t.Fatal("no Paid Social in the effect figures")
	}
	if pj.Effect.Best != nil {
		// A best channel is named only when its interval lies above every other's.
		for _, ch := range pj.Effect.Channels {
			for _, o := range pj.Effect.Channels {
				if ch.Channel == *pj.Effect.Best && o.Channel != ch.Channel && o.ROASHigh >= ch.ROASLow {
					t.Errorf("best %s [%.2f, %.2f] overlaps %s [%.2f, %.2f]", ch.Channel, ch.ROASLow, ch.ROASHigh, o.Channel, o.ROASLow, o.ROASHigh)
				}
			}
		}
	}

	// The default page: effect first, in words; credit one click away.
	_, body := get(t, c, ts.URL+"/")
	for _, want := range []string{`id="view-effect" href="/?view=effect#roi" aria-current="page"`, `id="view-credit"`, "Credit (attribution)", "Paid Social</strong>: each €1.00 brought back about", "losing money", "switchback"} {
		if !strings.Contains(body, want) {
			t.Errorf("the default Overview lacks %q", want)
		}
	}
	if strings.Contains(body, `id="model"`) || strings.Contains(body, `id="channel-roi-table"`) {
		t.Error("the default Overview shows attribution credit")
	}
	// The credit view: the model selector and the credit table, labelled as credit.
	_, body = get(t, c, ts.URL+"/?view=credit")
	for _, want := range []string{`id="model"`, `id="channel-roi-table"`, "Credit, not effect", `id="view-credit" href="/?view=credit#roi" aria-current="page"`, "Credited return on ad spend"} {
		if !strings.Contains(body, want) {
			t.Errorf("the credit view lacks %q", want)
		}
	}
	_, body = get(t, c, ts.URL+"/?model=first_touch")
	if !strings.Contains(body, `<option value="first_touch" selected>`) || !strings.Contains(body, `id="channel-roi-table"`) {
		t.Error("?model= does not open the credit view with that model")
	}
	t.Run("browser", func(t *testing.T) { browserOverviewEffect(t, ts) })
}

// browserOverviewEffect opens the Overview in real headless Chromium: the effect view
// leads with Paid Social losing money, the "Credit (attribution)" tab opens the credit
// view with its model selector, the "Effect" tab comes back, and nothing is logged to
// the console.
func browserOverviewEffect(t *testing.T, ts *testServer) {
	bin := chromiumPath()
	testenv.Need(t, "the browser test needs Chromium (apt-get install chromium, or set OMNIROI_CHROMIUM)", bin != "")
	dir := artifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	go func() {
		for m, err := range chromedp.Console(bctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s", m.Type, m.Text))
				mu.Unlock()
			}
		}
	}()
	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`#effect`)),
	)
	if err != nil {
		t.Fatalf("log in and open the overview: %v", err)
	}
	text := func(sel string) string {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector('`+sel+`') || {}).innerText || ''`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if e := text(`#effect`); !strings.Contains(e, "Paid Social: each €1.00 brought back about") || !strings.Contains(e, "losing money") {
		t.Errorf("the effect view reads %q", e)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "overview-effect.png"), png, 0o644)
	}
	// One click to the credit, labelled as credit: follow the tab's link (navigating to
	// its href; chromedp's click races the navigation).
	follow := func(sel, wait string) string {
		href, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('`+sel+`').getAttribute('href')`))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+href), chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
			t.Fatalf("%s (%s): %v", sel, href, err)
		}
		return href
	}
	if href := follow(`#view-credit`, `#model`); !strings.Contains(href, "view=credit") {
		t.Errorf("credit tab href %q", href)
	}
	if c := text(`#credit-note`); !strings.Contains(c, "Credit, not effect") {
		t.Errorf("credit note %q", c)
	}
	if c := text(`#channel-roi-table`); !strings.Contains(c, "Paid Social") {
		t.Errorf("credit table %q", c)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "overview-credit.png"), png, 0o644)
	}
	follow(`#view-effect`, `#effect`)
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#model').length`)); err != nil || n != 0 {
		t.Errorf("the effect tab shows the model selector (%d, %v)", n, err)
	}
	mu.Lock()
	for _, p := range problems {
		t.Errorf("console: %s", p)
	}
	mu.Unlock()
}

func TestBestSeparated(t *testing.T) {
	ch := func(name string, roas, lo, hi float64) mix.ChannelEffect {
		return mix.ChannelEffect{Channel: name, ROAS: roas, ROASLow: lo, ROASHigh: hi, Identifiable: true}
	}
	for _, tc := range []struct {
		chs  []mix.ChannelEffect
		want string
	}{
		{[]mix.ChannelEffect{ch("A", 5, 3, 7), ch("B", 2, 1, 2.9)}, "A"},
		{[]mix.ChannelEffect{ch("A", 5, 3, 7), ch("B", 2, 1, 3.1)}, ""},
		{[]mix.ChannelEffect{ch("A", 5, 3, 7)}, ""},
		{[]mix.ChannelEffect{ch("A", 0.8, 0.2, 1.4), ch("B", 6, 0, 12)}, ""},
	} {
		if got := bestSeparated(tc.chs); got != tc.want {
			t.Errorf("%+v: best %q, want %q", tc.chs, got, tc.want)
		}
	}
}

// TestOverviewEffectStates: too little history is said with what is needed (and the credit
// view offered); while the model is fitted the section says so and the page reloads
// itself, then the figures come.
func TestOverviewEffectStates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db) // a month of orders and spend
		ts := newTestServer(t, db, Options{noWarm: true})
		c, _ := ts.loggedIn(t)
		var pj overviewEffectPage
		_, body := get(t, c, ts.URL+"/?format=json")
		if err := json.Unmarshal([]byte(body), &pj); err != nil {
			t.Fatal(err)
		}
		if pj.Effect.State != effectNoData || !strings.Contains(pj.Effect.Message, "Not enough history") || len(pj.Tables["channel-roi"]) == 0 {
			t.Errorf("a month of data: effect %+v", pj.Effect)
		}
		_, body = get(t, c, ts.URL+"/")
		if !strings.Contains(body, `id="effect-state"`) || !strings.Contains(body, "Not enough history") || !strings.Contains(body, "credit view") {
			t.Errorf("the default Overview does not say why there is no effect estimate")
		}
	})
	db := storetest.SQLite(t)
	seedBudget(t, db, 240)
	ts := newTestServer(t, db, Options{noWarm: true, computeWait: time.Nanosecond})
	c, _ := ts.loggedIn(t)
	_, body := get(t, c, ts.URL+"/")
	if !strings.Contains(body, "still being fitted") || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("first request: no placeholder while the model is fitted\n%.2000s", body)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var pj overviewEffectPage
		_, body := get(t, c, ts.URL+"/?format=json")
		if err := json.Unmarshal([]byte(body), &pj); err != nil {
			t.Fatal(err)
		}
		if pj.Effect.State == effectReady {
			if len(pj.Effect.Channels) != 3 {
				t.Errorf("channels %+v", pj.Effect.Channels)
			}
			break
		}
		if pj.Effect.State != effectComputing || time.Now().After(deadline) {
			t.Fatalf("effect %+v", pj.Effect)
		}
	}
}

// TestOverviewDaysInZone: in a time zone other than UTC, revenue and spend per day add up
// (days and buckets built with different *time.Location values for the same zone never
// matched as time.Time map keys, so every day read as zero).
func TestOverviewDaysInZone(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	if err := db.Write(context.Background(), func(tx *store.Tx) error {
		return store.SetSetting(context.Background(), tx, "timezone", "Europe/Berlin")
	}); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, db, Options{noWarm: true})
	c, _ := ts.loggedIn(t)
	sum := func() float64 {
		pj := getJSON(t, c, ts.URL+"/?format=json")
		var s float64
		for _, row := range pj.Tables["revenue-over-time"] {
			s += parseF(t, row["Revenue"])
		}
		return s
	}
	first, second := sum(), sum()
	if first <= 0 || second != first {
		t.Errorf("revenue per day sums to %.2f, then %.2f", first, second)
	}
	// The Spend page buckets its days the same way.
	var spend float64
	for _, row := range getJSON(t, c, ts.URL+"/spend?format=json").Tables["spend-over-time"] {
		spend += parseF(t, row["Total"])
	}
	if spend <= 0 {
		t.Errorf("spend per day sums to %.2f", spend)
	}
}
