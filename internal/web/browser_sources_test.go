package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserSourcesSetup drives Chromium through the Sources page of a server that also
// collects events: it creates a website source with the form, copies the standalone
// snippet from the page into a site on another origin and sees that site's page view
// arrive; then it uploads a Shopify orders export and a bad orders file with the upload
// form and reads the report and the line-and-column errors on the page.
func TestBrowserSourcesSetup(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	ctx := context.Background()
	wh, err := NewHandler(db, Options{computeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ch := collect.NewHandler(db, collect.Options{})
	t.Cleanup(func() { _ = ch.Close(context.Background()) })
	mux := http.NewServeMux()
	ch.Register(mux)
	mux.Handle("/", wh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if _, err := auth.CreateUser(ctx, db, testEmail, testPassword); err != nil {
		t.Fatal(err)
	}
	var sitePage string
	var siteMu sync.Mutex
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		siteMu.Lock()
		defer siteMu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, sitePage)
	}))
	t.Cleanup(site.Close)
	dir := artifactsDir(t)

	tctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	defer cancelT()
	br := browsertest.Start(t, tctx, dir, 1440, 900)
	bctx, shot := br.Ctx, br.Shot

	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/sources"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`#source-name`)),
		chromedp.SendKeys(chromedp.CSS(`#source-name`), "web shop"),
		chromedp.SetValue(chromedp.CSS(`#source-kind`), "client"),
		chromedp.Submit(chromedp.CSS(`#source-name`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-key`)),
	); err != nil {
		t.Fatalf("create a source: %v", err)
	}
	key, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`#new-key`)))
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('textarea[id^="snippet-"]').value`))
	if err != nil {
		t.Fatal(err)
	}
	if want := collect.Snippet(srv.URL, key); snippet != want {
		t.Fatalf("the page's snippet:\n%s\nwant:\n%s", snippet, want)
	}
	shot("sources-snippet-1440")
	if _, err := chromedp.Call(bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/sources"), chromedp.WaitVisible(chromedp.CSS(`#upload-kind`))); err != nil {
		t.Fatal(err)
	}
	shot("sources-390")
	if _, err := chromedp.Call(bctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	// Paste the snippet as copied into a page of the shop's own site.
	siteMu.Lock()
	sitePage = "<!doctype html><html><head><title>Crumb &amp; Crust</title>" + snippet + "</head><body>bread</body></html>"
	siteMu.Unlock()
	if err := chromedp.Do(bctx, chromedp.Navigate(site.URL+"/?utm_source=newsletter&utm_medium=email&utm_campaign=march")); err != nil {
		t.Fatal(err)
	}
	src, err := db.SourceByName(ctx, "web shop")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE source_id = ? AND type = 'page' AND body LIKE '%utm_campaign=march%'`, src.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pasted snippet's page view did not arrive")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Upload a Shopify export, then a file with bad rows.
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/sources"),
		chromedp.WaitVisible(chromedp.CSS(`#upload-kind`)),
		chromedp.SetValue(chromedp.CSS(`#upload-kind`), "orders"),
		chromedp.SetValue(chromedp.CSS(`#upload-preset`), "shopify"),
		chromedp.SetUploadFiles(chromedp.CSS(`#upload-file`), []string{abs("../importer/testdata/shopify_orders_export.csv")}),
		chromedp.Submit(chromedp.CSS(`#upload-file`)),
		chromedp.WaitVisible(chromedp.CSS(`#upload-result`)),
	); err != nil {
		t.Fatalf("upload: %v", err)
	}
	res, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#upload-result`)))
	if err != nil || !strings.Contains(res, "shopify_orders_export.csv: 9 rows") {
		t.Fatalf("upload result %q %v", res, err)
	}
	shot("sources-upload")
	if err := chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#upload-kind`), "orders"),
		chromedp.SetValue(chromedp.CSS(`#upload-preset`), ""),
		chromedp.SetUploadFiles(chromedp.CSS(`#upload-file`), []string{abs("../importer/testdata/orders_bad.csv")}),
		chromedp.Submit(chromedp.CSS(`#upload-file`)),
		chromedp.WaitVisible(chromedp.CSS(`#upload-errors`)),
	); err != nil {
		t.Fatalf("bad upload: %v", err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#upload-errors tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent).join(' | '))`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`3 | total | "12,3x" is not a number`, `4 | timestamp | `, `5 | currency | `}
	if len(rows) != 3 {
		t.Fatalf("error rows %q", rows)
	}
	for i, w := range want {
		if !strings.HasPrefix(rows[i], w) {
			t.Errorf("error row %d: %q, want it to start with %q", i, rows[i], w)
		}
	}
	shot("sources-upload-errors")
	for _, m := range br.Messages() {
		// The bad file's page answers 422 on purpose.
		expected := strings.HasSuffix(m.URL, "/sources/upload") && strings.Contains(m.Text, "422")
		if m.Type != chromedp.ConsoleWarning && strings.HasPrefix(m.URL, srv.URL) && !expected {
			t.Errorf("console: %s", m)
		}
	}
}
