package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserDemo opens the pages of a real demo database in Chromium and saves
// screenshots (for people to look at; the checks are TestBrowser's). It adds a throwaway
// user to that database, so point it at a copy:
//
//	OMNIROI_WEB_DEMO=/tmp/demo20k OMNIROI_ARTIFACTS=/tmp/art go test -run BrowserDemo ./internal/web/
func TestBrowserDemo(t *testing.T) {
	testenv.Slow(t, "a browser over a demo")
	dir := os.Getenv("OMNIROI_WEB_DEMO")
	if dir == "" {
		t.Skip("set OMNIROI_WEB_DEMO to a demo data directory")
	}
	bin := chromiumPath()
	testenv.Need(t, "the browser test needs Chromium", bin != "")
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h, err := NewHandler(db, Options{computeWait: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	email := fmt.Sprintf("shots%d@example.com", time.Now().UnixNano())
	u, err := auth.CreateUser(ctx, db, email, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := auth.CreateSession(ctx, db, u, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	out := artifactsDir(t)
	actx, cancelA := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	tctx, cancelT := context.WithTimeout(bctx, 10*time.Minute)
	defer cancelT()
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := chromedp.Call(tctx, network.SetCookie, network.SetCookieParams{Name: sessionCookie, Value: sess.Token, Domain: strings.Split(host, ":")[0], Path: "/"}); err != nil {
		t.Fatal(err)
	}
	month := "?from=2026-10-01&to=2026-10-31"
	// The customer merged from the most identifiers, found through the search by one of them.
	var cust int64
	var ident string
	if err := db.QueryRow(ctx, `SELECT customer_id, MIN(CASE WHEN kind = 'email' THEN value END) FROM identities
		GROUP BY customer_id HAVING MIN(CASE WHEN kind = 'email' THEN value END) IS NOT NULL ORDER BY COUNT(*) DESC, customer_id LIMIT 1`).Scan(&cust, &ident); err != nil {
		t.Fatal(err)
	}
	for _, pg := range []struct{ name, path string }{
		{"demo-overview", "/" + month}, {"demo-overview-markov", "/" + month + "&model=markov"}, {"demo-attribution", "/attribution?range=all"},
		{"demo-paths", "/paths" + month}, {"demo-segments", "/segments" + month}, {"demo-customer", "/customers?q=" + url.QueryEscape(ident)},
		{"demo-automations", "/automations" + month}, {"demo-automation-cart", "/automations/abandoned-cart" + month},
	} {
		if err := chromedp.Do(tctx, chromedp.Navigate(srv.URL+pg.path), chromedp.WaitReady(chromedp.CSS(`footer`))); err != nil {
			t.Fatalf("%s: %v", pg.name, err)
		}
		if pg.name == "demo-customer" {
			if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`td a[href^="/customers/"]`)), chromedp.WaitReady(chromedp.CSS(`#identities-table`))); err != nil {
				t.Fatalf("%s: %v", pg.name, err)
			}
		}
		charts, err := waitCharts(tctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range charts {
			if !c.Drawn {
				t.Errorf("%s: chart %s is blank (%s)", pg.name, c.ID, c.Why)
			}
		}
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, pg.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		// Each chart on its own too: full pages are too tall to read at screen size.
		for _, c := range charts {
			png, err := chromedp.Run(tctx, chromedp.Screenshot(chromedp.CSS(`figure:has([data-chart="`+c.ID+`"])`)))
			if err != nil {
				t.Fatalf("%s %s: %v", pg.name, c.ID, err)
			}
			if err := os.WriteFile(filepath.Join(out, pg.name+"-"+c.ID+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("screenshots in %s", out)
}
