package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

func chromiumPath() string { return browsertest.Path() }

// artifactsDir is where screenshots go: $OMNIROI_ARTIFACTS/web when set, else a temp dir.
func artifactsDir(t *testing.T) string {
	dir := t.TempDir()
	if a := os.Getenv("OMNIROI_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "web")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// chartCheck reports, for every chart on the page, whether its canvas has pixels that
// differ from a blank canvas of the same size.
const chartCheckJS = `(() => Array.from(document.querySelectorAll('[data-chart]')).map(el => {
  const c = el.querySelector('canvas');
  if (!c || !c.width || !c.height) return {id: el.dataset.chart, drawn: false, why: 'no canvas'};
  const blank = document.createElement('canvas');
  blank.width = c.width; blank.height = c.height;
  if (c.toDataURL() === blank.toDataURL()) return {id: el.dataset.chart, drawn: false, why: 'blank'};
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
  return {id: el.dataset.chart, drawn: ink > 500, why: 'painted pixels: ' + ink};
}))()`

// consoleMark starts the console messages a test writes to know that the messages
// before them have arrived.
const consoleMark = "omniroi-test-mark-"

// waitCharts evaluates chartCheckJS until every chart on the page has painted or 10 s
// have passed (charts draw after the page is ready), and returns the last answer.
func waitCharts(ctx context.Context) ([]chartState, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartState](chartCheckJS))
		if err != nil {
			return nil, err
		}
		drawn := true
		for _, c := range charts {
			drawn = drawn && c.Drawn
		}
		if drawn || time.Now().After(deadline) {
			return charts, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type chartState struct {
	ID    string `json:"id"`
	Drawn bool   `json:"drawn"`
	Why   string `json:"why"`
}

// TestBrowser drives real headless Chromium through the dashboard: it logs in with the
// form, opens every page, fails on console errors, exceptions and CSP violations, checks
// that every chart painted its canvas, and saves a screenshot of each page.
func TestBrowser(t *testing.T) {
	testenv.Slow(t, "a browser through every page")
	bin := chromiumPath()
	testenv.Need(t, "the browser test needs Chromium (apt-get install chromium, or set OMNIROI_CHROMIUM)", bin != "")
	db := storetest.SQLite(t)
	seed(t, db)
	seedAutomations(t, db)
	ts := newTestServer(t, db, Options{})
	dir := artifactsDir(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()

	// Collect console calls, uncaught exceptions and browser-log errors (CSP violations,
	// failed loads) in the background; each page checks and clears them.
	var mu sync.Mutex
	var problems []string
	var lastMark string // the newest consoleMark message seen
	marks := 0
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleDebug && strings.HasPrefix(m.Text, consoleMark) {
				mu.Lock()
				lastMark = m.Text
				mu.Unlock()
				continue
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	// takeProblems writes a numbered mark to the page's console and waits until it comes
	// back: the stream keeps the order of messages, so every message the page wrote
	// before the mark has arrived by then.
	takeProblems := func() []string {
		marks++
		mark := fmt.Sprintf("%s%d", consoleMark, marks)
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.debug(%q)", mark))); err != nil {
			t.Fatalf("console mark: %v", err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			arrived := lastMark == mark
			mu.Unlock()
			if arrived {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("console mark %s did not come back within 10 s", mark)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		p := problems
		problems = nil
		return p
	}

	// Every page needs a login: the analysis pages too.
	for _, path := range []string{"/segments", "/attribution?model=markov"} {
		if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+path), chromedp.WaitVisible(chromedp.CSS(`#email`))); err != nil {
			t.Fatalf("%s before login: %v", path, err)
		}
		if loc, _ := chromedp.Run(bctx, chromedp.Location()); !strings.Contains(loc, "/login?next=") {
			t.Errorf("%s before login is at %s, want the login form", path, loc)
		}
	}

	// Log in through the form, with the keyboard.
	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	if err != nil {
		t.Fatalf("login page: %v", err)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(filepath.Join(dir, "login.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range takeProblems() {
		t.Errorf("login page: %s", p)
	}
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/") {
		t.Fatalf("after login at %q (%v), want the overview", loc, err)
	}

	var custHref string
	pages := []struct{ name, path string }{
		{"overview", "/?range=90d"}, {"attribution", "/attribution"}, {"paths", "/paths"},
		{"customers", "/customers?range=90d"}, {"segments", "/segments"}, {"spend", "/spend"}, {"sources", "/sources"},
		{"automations", "/automations"}, {"automation", "/automations/abandoned-cart"},
		{"customer", ""}, // filled from the customers page
	}
	for _, pg := range pages {
		path := pg.path
		if pg.name == "customer" {
			path = custHref
		}
		if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+path), chromedp.WaitReady(chromedp.CSS(`footer`))); err != nil {
			t.Fatalf("%s: %v", pg.name, err)
		}
		want, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-chart]').length`))
		if err != nil {
			t.Fatalf("%s: %v", pg.name, err)
		}
		if want > 0 {
			_, err = chromedp.Run(bctx, chromedp.Poll[bool](fmt.Sprintf(`Object.keys(window.omniroi.charts).length === %d`, want), chromedp.WithPollingTimeout(10*time.Second)))
			if err != nil {
				t.Errorf("%s: charts not drawn: %v", pg.name, err)
			}
		}
		charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartState](chartCheckJS))
		if err != nil {
			t.Fatalf("%s: %v", pg.name, err)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", pg.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, pg.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range charts {
			if !c.Drawn {
				t.Errorf("%s: chart %s is blank (%s)", pg.name, c.ID, c.Why)
			}
		}
		for _, p := range takeProblems() {
			t.Errorf("%s: %s", pg.name, p)
		}
		switch pg.name {
		case "overview", "spend", "attribution", "paths", "segments", "automations":
			if len(charts) == 0 {
				t.Errorf("%s: no charts; the fixture has data for them", pg.name)
			}
		case "customers":
			a, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`td a[href^="/customers/"]`), "href"))
			if err != nil || a.Value == "" {
				t.Fatalf("no customer link on the customers page: %v", err)
			}
			custHref = a.Value
		}
	}

	// The model switch changes the ROI numbers (the select submits on change).
	roiText := func() string {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector('#channel-roi-table table') || {}).innerText || ''`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	err = chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/?model=last_touch"), chromedp.WaitReady(chromedp.CSS(`#model`)))
	if err != nil {
		t.Fatalf("model switch: %v", err)
	}
	before := roiText()
	err = chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#model`), "first_touch"),
		chromedp.WaitReady(chromedp.CSS(`#model option[value=first_touch][selected]`)),
		chromedp.WaitReady(chromedp.CSS(`footer`)),
	)
	if err != nil {
		t.Fatalf("model switch: %v", err)
	}
	after := roiText()
	if loc, _ := chromedp.Run(bctx, chromedp.Location()); !strings.Contains(loc, "model=first_touch") {
		t.Errorf("after the model switch at %s", loc)
	}
	if before == "" || before == after {
		t.Errorf("the model switch did not change the ROI table:\n%s\n---\n%s", before, after)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "overview-first-touch.png"), png, 0o644)
	}
	for _, p := range takeProblems() {
		t.Errorf("model switch: %s", p)
	}

	// The search finds Anna by the anonymous id she browsed with before logging in, and
	// her page shows every identifier merged into her profile. The list page has customer
	// links of its own, so wait until the search's page is the one loaded.
	err = chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/customers"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "anon-anna\r"),
	)
	if err != nil {
		t.Fatalf("search for a merged customer: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if loc, err := chromedp.Run(bctx, chromedp.Location()); err == nil && strings.Contains(loc, "q=anon-anna") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the search form did not load its results page")
		}
		time.Sleep(50 * time.Millisecond)
	}
	err = chromedp.Do(bctx,
		chromedp.WaitReady(chromedp.CSS(`td a[href^="/customers/"]`)),
		chromedp.Click(chromedp.CSS(`td a[href^="/customers/"]`)),
		chromedp.WaitReady(chromedp.CSS(`#identities-table`)),
	)
	if err != nil {
		t.Fatalf("open the search result: %v", err)
	}
	ids, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#identities-table').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"anon-anna", "u-anna", "anna@example.com"} {
		if !strings.Contains(strings.ToLower(ids), want) {
			t.Errorf("Anna's page does not list %s among her identifiers:\n%s", want, ids)
		}
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "customer-merged.png"), png, 0o644)
	}
	for _, p := range takeProblems() {
		t.Errorf("customer search: %s", p)
	}

	// The chart kinds the later pages use (Sankey for journeys, funnel, heatmap for
	// cohorts) draw through the same helper: inject islands into the overview and draw.
	err = chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/?range=90d"), chromedp.WaitReady(chromedp.CSS(`footer`)))
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartState](`(() => {
	  const specs = [
	    {id: 'k-sankey', kind: 'sankey', title: 'Journeys', nodes: ['Paid Search', 'Email', 'Order'], links: [{source: 'Paid Search', target: 'Email', value: 5}, {source: 'Email', target: 'Order', value: 3}]},
	    {id: 'k-funnel', kind: 'funnel', title: 'Funnel', x: ['Visit', 'Cart', 'Order'], series: [{name: 'People', data: [100, 40, 12]}]},
	    {id: 'k-heatmap', kind: 'heatmap', title: 'Cohorts', x: ['M0', 'M1', 'M2'], y: ['Jan', 'Feb'], cells: [[0, 0, 100], [1, 0, 40], [2, 0, 22], [0, 1, 90], [1, 1, 35]]},
	  ];
	  for (const sp of specs) {
	    const box = document.createElement('figure');
	    box.className = 'chart-box';
	    box.innerHTML = '<div class="chart" data-chart="' + sp.id + '"></div>';
	    const island = document.createElement('script');
	    island.type = 'application/json';
	    island.id = sp.id + '-data';
	    island.textContent = JSON.stringify(sp);
	    box.appendChild(island);
	    document.querySelector('main').appendChild(box);
	    window.omniroi.draw(box.querySelector('.chart'));
	  }
	  return `+chartCheckJS+`.filter(c => c.id.startsWith('k-'));
	})()`))
	if err != nil {
		t.Fatalf("draw sankey/funnel/heatmap: %v", err)
	}
	if len(kinds) != 3 {
		t.Errorf("drew %d of 3 injected charts", len(kinds))
	}
	for _, c := range kinds {
		if !c.Drawn {
			t.Errorf("chart kind %s is blank (%s)", c.ID, c.Why)
		}
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "chart-kinds.png"), png, 0o644)
	}
	for _, p := range takeProblems() {
		t.Errorf("chart kinds: %s", p)
	}

	// The period picker submits on change (SetValue fires it) and the navigation keeps the period.
	err = chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/spend"),
		chromedp.WaitReady(chromedp.CSS(`#range-preset`)),
		chromedp.SetValue(chromedp.CSS(`#range-preset`), "7d"),
		chromedp.WaitReady(chromedp.CSS(`a[href="/?range=7d"]`)),
	)
	if err != nil {
		t.Fatalf("period picker: %v", err)
	}
	loc, _ = chromedp.Run(bctx, chromedp.Location())
	href, _ := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`nav a[href^="/sources"]`), "href"))
	if !strings.HasSuffix(loc, "/spend?range=7d") || href.Value != "/sources?range=7d" {
		t.Errorf("period picker: at %q, sources link %q", loc, href.Value)
	}

	// Keyboard: the first Tab lands on the skip link.
	if err := chromedp.Do(bctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	focused, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.activeElement.className`))
	if err != nil || focused != "skip" {
		t.Errorf("first Tab focuses %q (%v), want the skip link", focused, err)
	}

	// A phone-sized screen: the overview must not scroll sideways.
	err = chromedp.Do(bctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.URL+"/?range=90d"),
		chromedp.WaitReady(chromedp.CSS(`footer`)),
	)
	if err != nil {
		t.Fatalf("phone viewport: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`Object.keys(window.omniroi.charts).length > 0`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("phone: charts not drawn: %v", err)
	}
	overflow, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil || overflow {
		t.Errorf("the overview scrolls sideways on a 390 px wide screen (%v)", err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overview-phone.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range takeProblems() {
		t.Errorf("after navigation: %s", p)
	}

	// Without JavaScript the numbers are still there: the fallback tables show and the
	// empty chart boxes take no space.
	if _, err := chromedp.Call(bctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ts.URL+"/?range=90d"), chromedp.WaitReady(chromedp.CSS(`footer`))); err != nil {
		t.Fatal(err)
	}
	nojs, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[
	  document.querySelectorAll('.chart-box table').length,
	  Array.from(document.querySelectorAll('.chart-box table')).filter(t => t.offsetHeight > 20).length,
	  Array.from(document.querySelectorAll('.chart')).filter(c => c.offsetHeight > 0).length]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(nojs) != 3 || nojs[0] == 0 || nojs[1] != nojs[0] || nojs[2] != 0 {
		t.Errorf("without JS: %v (tables, visible tables, visible chart boxes); want all tables visible, no chart boxes", nojs)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "overview-nojs.png"), png, 0o644)
	}
	t.Logf("screenshots in %s", dir)
}
