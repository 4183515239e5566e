package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// seedUntracked is a USD shop as a Shopify orders export makes it: orders with no visit,
// no campaign and no click id before them, and a Google Ads cost report.
func seedUntracked(t *testing.T, db *store.DB) {
	t.Helper()
	var payloads []string
	for i := range 8 {
		at := time.Date(2026, 3, 5+3*i, 15, 0, 0, 0, time.UTC)
		payloads = append(payloads, fmt.Sprintf(`{"type":"track","event":"Order Completed","userId":"shopify-%d","timestamp":%q,"properties":{"order_id":"#10%02d","revenue":"%d.50","currency":"USD"}}`,
			i, at.Format(time.RFC3339), i, 40+10*i))
	}
	identitytest.Load(t, db, "shopify export", testNow.Add(-time.Hour), payloads...)
	for _, d := range []string{"2026-03-06", "2026-03-12", "2026-03-20"} {
		if _, err := db.Exec(context.Background(), `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, 'Cross-network', 'pmax', 'google_ads', 3000, 'USD'), (?, 'Paid Search', 'brand', 'google_ads', 1000, 'USD')`, d, d); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserSettingsAndCoverage drives real headless Chromium: the owner sets the
// business currency on the Settings page (a wrong value first, refused in words next to
// the field), sets a gross margin, and the Overview of a shop whose orders carry no
// tracking then shows dollars, the coverage banner, and no "best" channel.
func TestBrowserSettingsAndCoverage(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	seedUntracked(t, db)
	ts := newTestServer(t, db, Options{})
	dir := artifactsDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx, dir, 1440, 900)
	bctx, shot, text := br.Ctx, br.Shot, br.Text
	setting := func(key, value, want string) {
		t.Helper()
		sel := `[id="set-` + key + `"]`
		err := chromedp.Do(bctx,
			chromedp.Navigate(ts.URL+"/settings"),
			chromedp.WaitVisible(chromedp.CSS(sel)),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('set-`+key+`').value = ''`),
			chromedp.SendKeys(chromedp.CSS(sel), value),
			chromedp.Click(chromedp.CSS(`tr[data-setting="`+key+`"] button[value=set]`)),
			chromedp.WaitVisible(chromedp.CSS(want)),
		)
		if err != nil {
			t.Fatalf("set %s to %s: %v", key, value, err)
		}
	}

	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	if nav := text(`nav[aria-label=Main]`); !strings.Contains(nav, "Settings") {
		t.Errorf("the owner's menu has no Settings: %q", nav)
	}

	// A wrong currency is refused in words, next to the field, keeping what was typed.
	setting("currency", "dollars", `#settings-error`)
	if msg := text(`#settings-error`); !strings.Contains(msg, "not a 3-letter ISO 4217 code") {
		t.Errorf("refusal: %q", msg)
	}
	if v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#set-currency').value`)); v != "dollars" {
		t.Errorf("the field lost what was typed: %q", v)
	}
	shot("settings-refused")
	setting("currency", "usd", `#settings-notice`)
	if msg := text(`#settings-notice`); !strings.Contains(msg, "currency is now USD") {
		t.Errorf("notice: %q", msg)
	}
	setting("margin.default", "40", `#settings-notice`)
	shot("settings-saved")

	// The Overview: dollars, the banner, no best channel.
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#coverage-banner`))); err != nil {
		t.Fatalf("overview: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); strings.Contains(text(`main`), "reloads itself"); {
		if time.Now().After(deadline) {
			t.Fatal("the overview is still computing")
		}
		_ = chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#coverage-banner`)))
	}
	if b := text(`#coverage-banner`); !strings.Contains(b, "100 % of orders carry no marketing data") || !strings.Contains(b, "Budget") {
		t.Errorf("banner: %q", b)
	}
	main := text(`main`)
	if strings.Contains(main, "Most credit per unit of spend") || strings.Contains(main, "Best return per") {
		t.Errorf("the overview names a best channel for untracked orders")
	}
	if !strings.Contains(text(`.cards`), "$") {
		t.Errorf("the cards are not in dollars: %q", text(`.cards`))
	}
	if strings.Contains(main, "in other currencies are not included") {
		t.Errorf("orders left out after the currency change")
	}
	shot("overview-untracked")
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/attribution"), chromedp.WaitVisible(chromedp.CSS(`#coverage-banner`))); err != nil {
		t.Fatalf("attribution: %v", err)
	}
	shot("attribution-untracked")
	for _, p := range br.Problems() {
		// The refused value's page is a 422 on purpose; the browser logs that status.
		if strings.Contains(p, "status of 422") || strings.HasPrefix(p, string(chromedp.ConsoleWarning)) {
			continue
		}
		t.Errorf("browser console: %s", p)
	}
}
