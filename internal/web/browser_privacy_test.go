package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserErase drives the erasure in real headless Chromium: the owner opens Anna's
// page, presses "Erase this person…", is asked to type her customer number (a wrong
// number is refused, nothing is erased), types it, and gets the result; Anna is gone.
func TestBrowserErase(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	seed(t, db)
	ts := newTestServer(t, db, Options{noWarm: true})
	dir := artifactsDir(t)
	anna, err := identity.FindCustomer(context.Background(), db, "u-anna")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx, dir, 1280, 900)
	bctx, shot, text := br.Ctx, br.Shot, br.Text
	err = chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
		chromedp.Navigate(fmt.Sprintf("%s/customers/%d", ts.URL, anna.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#privacy-h`)),
	)
	if err != nil {
		t.Fatalf("customer page: %v", err)
	}
	shot("customer-privacy")
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`.privacy-actions button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`#erase-confirm`)),
	)
	if err != nil {
		t.Fatalf("erase button: %v", err)
	}
	if q := text(`#erase-h`); !strings.Contains(q, "Anna Berger") {
		t.Errorf("confirmation heading %q", q)
	}
	shot("erase-confirm")
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#erase-reason`), "asked in the shop"),
		chromedp.SendKeys(chromedp.CSS(`#erase-confirm`), "12345\r"),
		chromedp.WaitVisible(chromedp.CSS(`#erase-error`)),
	)
	if err != nil {
		t.Fatalf("wrong number: %v", err)
	}
	if _, err := identity.GetCustomer(context.Background(), db, anna.ID); err != nil {
		t.Fatalf("erased on a wrong number: %v", err)
	}
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#erase-confirm`), fmt.Sprintf("%d\r", anna.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#done-h`)),
	)
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	shot("erased")
	if msg := text(`main`); !strings.Contains(msg, "Identifiers suppressed") || !strings.Contains(msg, "VACUUM") {
		t.Errorf("result page: %q", msg)
	}
	if _, err := identity.FindCustomer(context.Background(), db, "anna@example.com"); err == nil {
		t.Fatal("Anna is still there")
	}
	for _, p := range br.Problems() {
		if strings.Contains(p, "status of 422") { // the wrong number, on purpose
			continue
		}
		t.Errorf("browser: %s", p)
	}
}
