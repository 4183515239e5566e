package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserClienteling drives the clienteling page in real headless Chromium on a
// phone-sized screen (390 × 844, mobile, touch) as a staff user: the login lands on the
// search, a loyalty card number opens the customer's card, which fits the screen (no
// sideways scrolling) and shows the suggested action, recommendations with reasons, the
// open cart and consent; the navigation offers nothing else, and another page's address
// is refused. No console errors, exceptions or CSP violations.
func TestBrowserClienteling(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	mia, _ := shopFixture(t, db)
	ts := newTestServer(t, db, Options{})
	if _, err := auth.CreateUserRole(context.Background(), db, staffEmail, testPassword, auth.RoleStaff); err != nil {
		t.Fatal(err)
	}
	dir := artifactsDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx, dir, 390, 844)
	bctx, shot := br.Ctx, br.Shot
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(3))); err != nil {
		t.Fatalf("emulate a phone: %v", err)
	}
	eval := func(js string) string {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	text := func(sel string) string {
		return eval(`(document.querySelector(` + "`" + sel + "`" + `) || {}).innerText || ''`)
	}
	path := func() string { return strings.TrimPrefix(eval(`location.pathname`), ts.URL) }
	fits := func(where string) {
		// Nothing wider than the screen: no sideways scrolling at the till.
		if w := eval(`String(document.documentElement.scrollWidth)`); w != "390" {
			t.Errorf("%s: page is %s px wide on a 390 px screen", where, w)
		}
	}

	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), staffEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`#cl-q`)),
	)
	if err != nil {
		t.Fatalf("log in as staff: %v", err)
	}
	if p := path(); p != "/clienteling" {
		t.Errorf("staff landed on %s, want /clienteling", p)
	}
	if nav := text(`nav[aria-label=Main]`); strings.TrimSpace(nav) != "Clienteling" {
		t.Errorf("staff navigation offers %q, want Clienteling only", nav)
	}
	fits("search")
	shot("clienteling-search")

	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#cl-q`), "loy_777\r"),
		chromedp.WaitVisible(chromedp.CSS(`#cl-recs`)),
	)
	if err != nil {
		t.Fatalf("search by loyalty card: %v", err)
	}
	if p := path(); p != fmt.Sprintf("/clienteling/%d", mia) {
		t.Errorf("search opened %s", p)
	}
	if h := text(`h1`); h != "Mia Baker" {
		t.Errorf("card heading %q", h)
	}
	if a := text(`#cl-action`); !strings.Contains(a, "Suggested:") || len(a) < 30 {
		t.Errorf("suggested action: %q", a)
	}
	if r := text(`#cl-recs`); !strings.Contains(r, "Salted Butter") || !strings.Contains(r, "because you bought Sourdough Loaf") {
		t.Errorf("recommendations: %q", r)
	}
	if c := text(`#cl-cart`); !strings.Contains(c, "Apricot Jam") {
		t.Errorf("open cart: %q", c)
	}
	if c := text(`#cl-consent`); !strings.Contains(c, "Email offers: yes") || !strings.Contains(c, "Personal recommendations: yes") {
		t.Errorf("consent: %q", c)
	}
	// The suggestion and the products come before the history: the first screen answers
	// "what do I say".
	if top, _ := strconv.Atoi(eval(`String(Math.round(document.querySelector('#cl-recs').getBoundingClientRect().top))`)); top <= 0 || top > 844 {
		t.Errorf("recommendations start at %d px, not on the first screen", top)
	}
	fits("card")
	shot("clienteling-card")

	// Any other page is refused, with a way back to the search.
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/customers"), chromedp.WaitVisible(chromedp.CSS(`main .notice`))); err != nil {
		t.Fatal(err)
	}
	if msg := text(`main`); !strings.Contains(msg, "does not allow") || !strings.Contains(msg, "Back to your start page") {
		t.Errorf("customers as staff: %q", msg)
	}
	shot("clienteling-refused")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`main a`)), chromedp.WaitVisible(chromedp.CSS(`#cl-q`))); err != nil {
		t.Fatalf("back to the start page: %v", err)
	}

	var problems []string
	for _, p := range br.Problems() {
		if strings.Contains(p, "status of 403") && strings.Contains(p, "/customers:") {
			continue // the refusal above, on purpose
		}
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		t.Errorf("console problems:\n%s", strings.Join(problems, "\n"))
	}
}
