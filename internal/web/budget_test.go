package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// seedBudget writes days of daily orders and spend ending the day before testNow, from
// mix.Synthetic's series (three paid channels with flighted spend and known effects).
func seedBudget(t testing.TB, db *store.DB, days int) {
	t.Helper()
	d, _ := mix.Synthetic(4, days, 3)
	names := []string{"Paid Search", "Paid Social", "Display"}
	first := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -days)
	ctx := context.Background()
	seq := int64(0)
	err := db.Write(ctx, func(tx *store.Tx) error {
		for i := range days {
			day := first.AddDate(0, 0, i)
			for c := range d.Channels {
				if v := d.Spend[c][i]; v > 0 {
					if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, ?, '', 'manual', ?, 'EUR')`,
						day.Format(time.DateOnly), names[c], int64(math.Round(v*100))); err != nil {
						return err
					}
				}
			}
			// The day's revenue as five orders of different customers.
			for k := range 5 {
				seq++
				cust := int64(i*3 + k%3 + 1)
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', 'Direct', 1, ?)`,
					fmt.Sprintf("b-%d-%d", i, k), cust, day.Add(time.Duration(9+k)*time.Hour).UnixMilli(), int64(math.Round(d.Target[i]*20)), seq); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rebuildSummaries(t, db)
}

func getBody(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBudgetPageStates: without spend the page says what it needs; with too little
// history it says how much is needed; with enough it leads with the recommendation.
func TestBudgetPageStates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := newTestServer(t, db, Options{noWarm: true})
		c, _ := ts.loggedIn(t)
		code, body := getBody(t, c, ts.URL+"/budget")
		if code != 200 || !strings.Contains(body, "no spend in the store") && !strings.Contains(body, "No orders or spend yet") {
			t.Fatalf("empty store: %d\n%s", code, body)
		}
		seedBudget(t, db, 50)
		code, body = getBody(t, c, ts.URL+"/budget")
		if code != 200 || !strings.Contains(body, "Not enough history yet") || !strings.Contains(body, "50 days of history") || !strings.Contains(body, "should have 180") {
			t.Fatalf("50 days: %d\n%s", code, body)
		}
	})
}

func TestBudgetPage(t *testing.T) {
	db := storetest.SQLite(t)
	seedBudget(t, db, 240)
	ts := newTestServer(t, db, Options{noWarm: true})
	c, _ := ts.loggedIn(t)
	code, body := getBody(t, c, ts.URL+"/budget")
	if code != 200 {
		t.Fatalf("%d\n%s", code, body)
	}
	for _, want := range []string{"Where the next euro should go", "budget-effects", "Response curves", "What if", "Attribution credits", `href="/budget"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The same numbers as the API and CLI: the effects table's CSV has the model's ROAS.
	_, csv := getBody(t, c, ts.URL+"/budget?format=csv&table=budget-effects")
	_, m, err := ts.budgetModel(t, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range m.Channels {
		if !strings.Contains(csv, fmt.Sprintf("%s,", ch.Channel)) || !strings.Contains(csv, fmt.Sprint(math.Round(ch.ROAS*1000)/1000)) {
			t.Errorf("CSV lacks %s's ROAS %.3f:\n%s", ch.Channel, ch.ROAS, csv)
		}
	}
	// What if: doubling the first channel's spend changes the expected result.
	_, body = getBody(t, c, ts.URL+"/budget?w0=999999")
	if !strings.Contains(body, "the model expects") || !strings.Contains(body, "extrapolation") {
		t.Errorf("what-if answer missing:\n%s", body)
	}
	_, body = getBody(t, c, ts.URL+"/budget?w1=abc")
	if !strings.Contains(body, "is not an amount") {
		t.Error("a bad what-if amount is not reported")
	}
}

func (ts *testServer) budgetModel(t *testing.T, db *store.DB) (mix.Series, *mix.Model, error) {
	return mix.NewService(db).Model(context.Background(), mix.StoreOptions{})
}

// TestBrowserBudget opens the Budget page in real headless Chromium: the recommendation
// leads, every response curve paints its canvas, the what-if form answers, and nothing
// is logged to the console.
func TestBrowserBudget(t *testing.T) {
	testenv.Slow(t, "a browser")
	bin := chromiumPath()
	testenv.Need(t, "the browser test needs Chromium (apt-get install chromium, or set OMNIROI_CHROMIUM)", bin != "")
	db := storetest.SQLite(t)
	seedBudget(t, db, 240)
	ts := newTestServer(t, db, Options{noWarm: true})
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
		chromedp.Navigate(ts.URL+"/budget"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`#budget-recommendation`)),
	)
	if err != nil {
		t.Fatalf("log in and open the budget page: %v", err)
	}
	first, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('main h2').id`))
	if err != nil || first != "budget-rec-h" {
		t.Errorf("the first heading is %q (%v), want the recommendation", first, err)
	}
	want, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-chart]').length`))
	if err != nil || want != 3 {
		t.Fatalf("%d response curves (%v), want 3", want, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`!!window.omniroi && Object.keys(window.omniroi.charts).length === 3`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("curves not drawn: %v", err)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartState](chartCheckJS))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charts {
		if !c.Drawn {
			t.Errorf("curve %s is blank (%s)", c.ID, c.Why)
		}
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "budget.png"), png, 0o644)
	}
	// What if: type a new spend for the first channel and submit.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#w0').value = ''`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#w0`), "0"),
		chromedp.Click(chromedp.CSS(`#whatif button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#whatif-result`)),
	)
	if err != nil {
		t.Fatalf("what if: %v", err)
	}
	res, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#whatif-result`)))
	if !strings.Contains(res, "the model expects") {
		t.Errorf("what-if answer %q", res)
	}
	mu.Lock()
	for _, p := range problems {
		t.Errorf("console: %s", p)
	}
	mu.Unlock()
}

// TestWarmFitsBudget: the warm-up that the login page starts fits the budget model too
// (after the other analyses), so once it has settled the first Overview shows what the
// spend caused instead of saying the model is still being fitted.
func TestWarmFitsBudget(t *testing.T) {
	db := storetest.SQLite(t)
	seedBudget(t, db, 240)
	ts, srv := newTestServerOf(t, db, Options{})
	c := ts.client(t)
	// The login page starts the warm-up; no page is asked for until it has settled.
	if resp, body := ts.login(t, c, testEmail, testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d\n%.500s", resp.StatusCode, body)
	}
	key := "budget|" + mix.TargetRevenue
	for deadline := time.Now().Add(3 * time.Minute); ; {
		srv.compute.mu.Lock()
		e := srv.compute.entries[key]
		settled := e != nil && e.done == nil && (e.val != nil || e.err != nil)
		srv.compute.mu.Unlock()
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the warm-up did not fit the budget model")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, body := get(t, c, ts.URL+"/?format=json")
	var pj overviewEffectPage
	if err := json.Unmarshal([]byte(body), &pj); err != nil {
		t.Fatalf("%v\n%.500s", err, body)
	}
	if pj.Effect.State != effectReady {
		t.Errorf("first Overview after the warm-up: effect %q (%s), want it shown", pj.Effect.State, pj.Effect.Message)
	}
}

// TestWarmBuildsBudgetCredit: the warm-up asks for the Budget page's credit comparison
// (attribution over the model's window) once the fit is done, so that it does not queue
// behind the coverage when the Budget page is first opened.
func TestWarmBuildsBudgetCredit(t *testing.T) {
	db := storetest.SQLite(t)
	seedBudget(t, db, 240)
	ts, srv := newTestServerOf(t, db, Options{})
	c := ts.client(t)
	if resp, body := ts.login(t, c, testEmail, testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d\n%.500s", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		srv.compute.mu.Lock()
		attr := 0
		for k := range srv.compute.entries {
			if strings.HasPrefix(k, "attr|") {
				attr++
			}
		}
		srv.compute.mu.Unlock()
		if attr >= 2 { // the default period's and the model window's
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the warm-up asked for %d attribution builds, want the default period's and the budget model window's", attr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
