package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserInvite drives the invitation in real headless Chromium: the owner invites a
// viewer on the Users page, logs out; the invitee opens the link, sets a password, logs in
// and sees what a viewer may: reports without people, no Customers, Users or Audit log,
// and a refusal at a customer's address. The link does not work a second time.
func TestBrowserInvite(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	seed(t, db)
	seedPopulation(t, db)
	ts := newTestServer(t, db, Options{})
	dir := artifactsDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx, dir, 1280, 900)
	bctx, shot, text := br.Ctx, br.Shot, br.Text
	waitPath := func(prefix string) string {
		for deadline := time.Now().Add(10 * time.Second); ; {
			loc, err := chromedp.Run(bctx, chromedp.Location())
			if err == nil && strings.HasPrefix(strings.TrimPrefix(loc, ts.URL), prefix) {
				return loc
			}
			if time.Now().After(deadline) {
				t.Fatalf("still at %s, want %s", loc, prefix)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	login := func(email, password string) {
		err := chromedp.Do(bctx,
			chromedp.Navigate(ts.URL+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SendKeys(chromedp.CSS(`#password`), password+"\r"),
			chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
		)
		if err != nil {
			t.Fatalf("log in as %s: %v", email, err)
		}
	}

	// The owner invites a viewer.
	login(testEmail, testPassword)
	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`#invite-email`)),
		chromedp.SendKeys(chromedp.CSS(`#invite-email`), "vera@shop.example"),
		chromedp.SetValue(chromedp.CSS(`#invite-role`), "viewer"),
		chromedp.Click(chromedp.CSS(`form[action="/users/invite"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-link`)),
	)
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	shot("users-invited")
	link, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#invite-link').value`))
	if err != nil || !strings.HasPrefix(link, ts.URL+InvitePath) {
		t.Fatalf("invitation link %q (%v)", link, err)
	}
	if pending := text(`#invites-table`); !strings.Contains(pending, "vera@shop.example") || !strings.Contains(pending, "viewer") {
		t.Errorf("pending invitations: %q", pending)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS(`#email`))); err != nil {
		t.Fatalf("log out: %v", err)
	}

	// The invitee opens the link and sets a password.
	err = chromedp.Do(bctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
	)
	if err != nil {
		t.Fatalf("open the invitation: %v", err)
	}
	if intro := text(`main`); !strings.Contains(intro, "vera@shop.example") || !strings.Contains(intro, "viewer") {
		t.Errorf("the invitation page does not say who and which role: %q", intro)
	}
	shot("invite")
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#password`), "vera's new password"),
		chromedp.SendKeys(chromedp.CSS(`#password2`), "vera's new password\r"),
		chromedp.WaitVisible(chromedp.CSS(`#to-login`)),
	)
	if err != nil {
		t.Fatalf("set the password: %v", err)
	}
	shot("invite-done")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#to-login`)), chromedp.WaitVisible(chromedp.CSS(`#email`))); err != nil {
		t.Fatalf("on to the login: %v", err)
	}
	login("vera@shop.example", "vera's new password")
	waitPath("/")
	nav := text(`nav[aria-label=Main]`)
	for _, want := range []string{"Overview", "Segments", "Spend"} {
		if !strings.Contains(nav, want) {
			t.Errorf("the viewer's navigation lacks %s: %q", want, nav)
		}
	}
	for _, not := range []string{"Customers", "Users", "Audit log"} {
		if strings.Contains(nav, not) {
			t.Errorf("the viewer's navigation offers %s: %q", not, nav)
		}
	}
	shot("viewer-overview")

	// Segments: the at-risk figures without who they are.
	err = chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/segments"), chromedp.WaitReady(chromedp.CSS(`#at-risk-table`)))
	if err != nil {
		t.Fatalf("segments: %v", err)
	}
	atRisk := text(`#at-risk-table`)
	links, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href^="/customers"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(atRisk, "Rank") || strings.Contains(atRisk, "Person ") || links != 0 {
		t.Errorf("the viewer's at-risk table shows people (%d customer links):\n%s", links, atRisk)
	}
	shot("viewer-segments")

	// A customer's address is refused.
	err = chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/customers/100001"), chromedp.WaitReady(chromedp.CSS(`footer`)))
	if err != nil {
		t.Fatal(err)
	}
	if msg := text(`main`); !strings.Contains(msg, "Your role (viewer) does not allow this") {
		t.Errorf("a viewer at a customer's page: %q", msg)
	}
	shot("viewer-customer-refused")

	// The link worked once.
	if err := chromedp.Do(bctx, chromedp.Navigate(link), chromedp.WaitReady(chromedp.CSS(`footer`))); err != nil {
		t.Fatal(err)
	}
	if msg := text(`main`); !strings.Contains(msg, "not valid") {
		t.Errorf("the invitation link a second time: %q", msg)
	}
	for _, p := range br.Problems() {
		// The refusal and the used link answer 403 and 404 on purpose; Chromium logs those loads.
		if strings.Contains(p, "status of 403") || strings.Contains(p, "status of 404") {
			continue
		}
		t.Errorf("browser: %s", p)
	}
	t.Logf("screenshots in %s", dir)
}
