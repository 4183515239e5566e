package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// minorOf reads a money figure as a file writes it ("1,002.05") in cents.
func minorOf(t *testing.T, s string) int64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	if err != nil {
		t.Fatalf("money %q: %v", s, err)
	}
	return int64(math.Round(f * 100))
}

// usdCopy writes a copy of a test file with its currency column turned to USD: the
// walkthrough's shop sells in dollars.
func usdCopy(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".csv")+"_usd.csv")
	if err := os.WriteFile(out, bytes.ReplaceAll(b, []byte(",EUR,"), []byte(",USD,")), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBrowserNewShop walks a new USD shop from an empty data directory in real Chromium:
// the Overview's first-run checklist, Settings (currency USD, time zone New York), a
// website source and its snippet, a Shopify connector, the upload of a Shopify orders
// export and a Google Ads cost report, a signed Shopify webhook order whose landing page
// carries UTM tags; then the Overview and Attribution at 1440 and 390 px show the totals
// computed here from those files, in dollars, with the coverage banner. Screenshots are
// kept in the artefacts directory (OMNIROI_ARTIFACTS).
func TestBrowserNewShop(t *testing.T) {
	testenv.Slow(t, "a browser walking a new shop")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// The server as `serve` mounts it: collection, webhooks, dashboard, and the event
	// processor in the background.
	wh, err := NewHandler(db, Options{computeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	proc := identity.NewProcessor(db, identity.Options{PollInterval: 50 * time.Millisecond})
	procDone := make(chan struct{})
	go func() { defer close(procDone); _ = proc.Run(ctx) }()
	defer func() { stop(); <-procDone }()
	ch := collect.NewHandler(db, collect.Options{})
	t.Cleanup(func() { _ = ch.Close(context.Background()) })
	hooks := connect.NewHandler(db, connect.Options{})
	mux := http.NewServeMux()
	ch.Register(mux)
	hooks.Register(mux)
	mux.Handle("/", wh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if _, err := auth.CreateUser(ctx, db, testEmail, testPassword); err != nil {
		t.Fatal(err)
	}
	dir := artifactsDir(t)
	t.Logf("screenshots in %s", dir)

	// What the pages must show, computed from the input files.
	files := t.TempDir()
	ordersFile := usdCopy(t, "../importer/testdata/shopify_orders_export.csv", files)
	adsFile := usdCopy(t, "../importer/testdata/google_ads_campaign_report.csv", files)
	var wantRevenue, wantRefunds, wantSpend int64
	wantOrders := 0
	{
		f, _ := os.ReadFile(ordersFile)
		recs, err := csv.NewReader(bytes.NewReader(f)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		seen := map[string]bool{}
		for _, r := range recs[1:] {
			if seen[r[col["Name"]]] {
				continue // a further line item of the same order
			}
			seen[r[col["Name"]]] = true
			switch r[col["Financial Status"]] {
			case "pending", "authorized", "voided", "expired":
				continue // not paid: Shopify's states for an order that brought no money
			}
			// Revenue is Total − Shipping − Taxes (docs/import.md); a full refund takes
			// back that revenue, a partial one its Refunded Amount.
			wantOrders++
			rev := minorOf(t, r[col["Total"]]) - minorOf(t, r[col["Shipping"]]) - minorOf(t, r[col["Taxes"]])
			wantRevenue += rev
			switch v := r[col["Refunded Amount"]]; {
			case r[col["Financial Status"]] == "refunded":
				wantRefunds += rev
			case v != "":
				wantRefunds += minorOf(t, v)
			}
		}
	}
	{
		f, _ := os.ReadFile(adsFile)
		lines := strings.SplitN(string(f), "\n", 3) // a title and the date range above the header
		recs, err := csv.NewReader(strings.NewReader(lines[2])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[1:] {
			if strings.HasPrefix(r[0], "Total") {
				continue
			}
			wantSpend += minorOf(t, r[5])
		}
	}
	// The webhook order: Shopify's documented orders/create payload, arriving from a
	// Google Ads click (UTM tags on its landing page).
	var order map[string]any
	raw, err := os.ReadFile("../connect/testdata/shopify/order-web-utm.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &order); err != nil {
		t.Fatal(err)
	}
	order["id"], order["name"], order["order_number"] = 5821934519999, "#2001", 2001
	order["landing_site"] = "/products/helmet?utm_source=google&utm_medium=cpc&utm_campaign=brand"
	order["referring_site"] = "https://www.google.com/"
	hookBody, _ := json.Marshal(order)
	shipping := order["total_shipping_price_set"].(map[string]any)["shop_money"].(map[string]any)["amount"].(string)
	hookMinor := minorOf(t, order["total_price"].(string)) - minorOf(t, order["total_tax"].(string)) - minorOf(t, shipping)
	if order["currency"] != "USD" {
		t.Fatalf("the webhook payload is in %v", order["currency"])
	}
	wantOrders++
	wantRevenue += hookMinor

	tctx, cancelT := context.WithTimeout(ctx, 150*time.Second)
	defer cancelT()
	br := browsertest.Start(t, tctx, dir, 1440, 900)
	bctx, text := br.Ctx, br.Text
	shot := func(name string) { br.Shot("newshop-" + name) }
	do := func(what string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, acts...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// 1. The first page a new owner sees: the checklist.
	do("log in",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`#first-run`)))
	if c := text(`#first-run`); !strings.Contains(c, "Set your currency and time zone") || !strings.Contains(c, "Connect your website or shop") || strings.Contains(c, "(done)") {
		t.Errorf("first-run checklist: %q", c)
	}
	shot("1-first-run")

	// 2. Settings.
	for _, kv := range [][2]string{{"currency", "usd"}, {"timezone", "America/New_York"}} {
		sel := `[id="set-` + kv[0] + `"]`
		do("set "+kv[0],
			chromedp.Navigate(srv.URL+"/settings"),
			chromedp.WaitVisible(chromedp.CSS(sel)),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('set-`+kv[0]+`').value = ''`),
			chromedp.SendKeys(chromedp.CSS(sel), kv[1]),
			chromedp.Click(chromedp.CSS(`tr[data-setting="`+kv[0]+`"] button[value=set]`)),
			chromedp.WaitVisible(chromedp.CSS(`#settings-notice`)))
		if n := text(`#settings-notice`); !strings.Contains(n, kv[0]+" is now") {
			t.Errorf("setting %s: %q", kv[0], n)
		}
	}
	shot("2-settings")

	// 3. A website source and its snippet; a Shopify connector and its webhook URL.
	do("website source",
		chromedp.Navigate(srv.URL+"/sources"),
		chromedp.WaitVisible(chromedp.CSS(`#source-name`)),
		chromedp.SendKeys(chromedp.CSS(`#source-name`), "web shop"),
		chromedp.SetValue(chromedp.CSS(`#source-kind`), "client"),
		chromedp.Submit(chromedp.CSS(`#source-name`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-key`)))
	key, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`#new-key`)))
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('textarea[id^="snippet-"]').value`))
	if err != nil || snippet != collect.Snippet(srv.URL, key) {
		t.Fatalf("the Sources page's snippet (%v):\n%s\nwant:\n%s", err, snippet, collect.Snippet(srv.URL, key))
	}
	shot("3-snippet")
	const secret = "shpss_walkthrough_signing_key_0123456789"
	do("shopify connector",
		chromedp.Navigate(srv.URL+"/sources"),
		chromedp.WaitVisible(chromedp.CSS(`#source-name`)),
		chromedp.SendKeys(chromedp.CSS(`#source-name`), "shopify"),
		chromedp.SetValue(chromedp.CSS(`#source-kind`), connect.KindShopify),
		chromedp.SendKeys(chromedp.CSS(`#source-secret`), secret),
		chromedp.Submit(chromedp.CSS(`#source-name`)),
		chromedp.WaitVisible(chromedp.CSS(`#connector-created`)))
	hookURL, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('input[id^="hook-url-"]').value`))
	if err != nil || !strings.HasPrefix(hookURL, srv.URL+"/hooks/shopify/") {
		t.Fatalf("webhook URL on the page: %q %v", hookURL, err)
	}
	shot("3-connector")

	// 4. Upload the orders export and the cost report.
	for _, up := range []struct{ kind, preset, file string }{{"orders", "shopify", ordersFile}, {"spend", "google-ads", adsFile}} {
		do("upload "+up.file,
			chromedp.Navigate(srv.URL+"/sources"),
			chromedp.WaitVisible(chromedp.CSS(`#upload-kind`)),
			chromedp.SetValue(chromedp.CSS(`#upload-kind`), up.kind),
			chromedp.SetValue(chromedp.CSS(`#upload-preset`), up.preset),
			chromedp.SetUploadFiles(chromedp.CSS(`#upload-file`), []string{up.file}),
			chromedp.Submit(chromedp.CSS(`#upload-file`)),
			chromedp.WaitVisible(chromedp.CSS(`#upload-result, #upload-error`)))
		if res := text(`#upload-result`); !strings.Contains(res, filepath.Base(up.file)) || !strings.Contains(res, "imported") {
			t.Fatalf("upload %s: %q %q", up.file, res, text(`#upload-error`))
		}
	}
	shot("4-uploaded")

	// 5. The shop's webhook: an order from a Google Ads click, signed as Shopify signs.
	req, _ := http.NewRequest("POST", hookURL, bytes.NewReader(hookBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", "orders/create")
	req.Header.Set("X-Shopify-Hmac-Sha256", connect.Sign(hookBody, secret))
	req.Header.Set("X-Shopify-Shop-Domain", "crumb-and-crust.myshopify.com")
	req.Header.Set("X-Shopify-Webhook-Id", "walkthrough-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	// The processor turns the events into orders.
	for deadline := time.Now().Add(60 * time.Second); ; {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM orders`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == wantOrders {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orders processed, want %d", n, wantOrders)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// 6. Overview and Attribution at both widths.
	load := func(path, ready string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; {
			do(path, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(`main`)))
			if !strings.Contains(text(`main`), "reloads itself") && text(ready) != "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still computing:\n%s", path, text(`main`))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	cardValue := func(label string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(Array.from(document.querySelectorAll('.cards .card')).find(c => c.querySelector('.label').innerText.trim() === `+strconv.Quote(label)+`) || {querySelector: () => ({innerText: ''})}).querySelector('.value').innerText`))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(v)
	}
	cardText := func(prefix string) string {
		v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`(Array.from(document.querySelectorAll('.cards .card')).find(c => c.querySelector('.label').innerText.startsWith(`+strconv.Quote(prefix)+`)) || {innerText: ''}).innerText`))
		return v
	}
	for _, width := range []int64{1440, 390} {
		if width == 390 {
			if _, err := chromedp.Call(bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
				t.Fatal(err)
			}
		}
		w := strconv.FormatInt(width, 10)
		load("/?range=all", `.cards`)
		if text(`#first-run`) != "" {
			t.Errorf("%s px: the checklist stays after the first orders", w)
		}
		if got, want := cardValue("Revenue"), formatMoneyShort(wantRevenue, "USD"); got != want {
			t.Errorf("%s px: Revenue card %q, want %q (the export's paid orders and the webhook order)", w, got, want)
		}
		if got, want := cardValue("Orders"), strconv.Itoa(wantOrders); got != want {
			t.Errorf("%s px: Orders card %q, want %q", w, got, want)
		}
		if got, want := cardValue("Refunds"), formatMoneyShort(wantRefunds, "USD"); got != want {
			t.Errorf("%s px: Refunds card %q, want %q", w, got, want)
		}
		if c := cardText("All revenue per $1 of ad spend"); !strings.Contains(c, formatMoneyShort(wantSpend, "USD")) {
			t.Errorf("%s px: ad spend card %q, want the spend %s", w, c, formatMoneyShort(wantSpend, "USD"))
		}
		if b := text(`#coverage-banner`); !strings.Contains(b, "of orders carry no marketing data") {
			t.Errorf("%s px: coverage banner %q", w, b)
		}
		if m := text(`main`); strings.Contains(m, "€") || strings.Contains(m, "other currencies") {
			t.Errorf("%s px: the overview shows euros or left-out orders", w)
		}
		shot("5-overview-" + w)

		load("/attribution?range=all", `#coverage-banner`)
		if lead := text(`.lead`); !strings.Contains(lead, fmt.Sprintf("%d orders (%s, net of refunds)", wantOrders, formatMoney(wantRevenue-wantRefunds, "USD"))) {
			t.Errorf("%s px: attribution lead %q, want %d orders worth %s net", w, lead, wantOrders, formatMoney(wantRevenue-wantRefunds, "USD"))
		}
		rows, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll('#models-by-channel-table tr, #roas-by-model-table tr')).map(r => [r.closest('.table-block').id].concat(Array.from(r.cells).map(c => c.textContent.trim())))`))
		if err != nil {
			t.Fatal(err)
		}
		var spend int64
		var models, paidSearch []string
		for _, r := range rows {
			switch {
			case r[1] == "Channel":
				if r[0] == "models-by-channel-table" {
					models = r[2:]
				}
			case r[0] == "roas-by-model-table":
				spend += minorOf(t, strings.TrimPrefix(r[2], "$"))
			case r[0] == "models-by-channel-table" && r[1] == "Paid Search":
				paidSearch = r[2:]
			}
		}
		if spend != wantSpend {
			t.Errorf("%s px: the paid channels' spend adds up to %d cents, want %d (the cost report)", w, spend, wantSpend)
		}
		if len(paidSearch) == 0 {
			t.Errorf("%s px: no Paid Search revenue on Attribution: %q", w, rows)
		}
		for i, v := range paidSearch {
			if i < len(models) && v != formatMoney(hookMinor, "USD") {
				t.Logf("%s px: Paid Search credited %s by %s", w, v, models[i])
			}
			if i < len(models) && models[i] == modelLabel("last_touch") && v != formatMoney(hookMinor, "USD") {
				t.Errorf("%s px: Paid Search credited %q by the last-touch model, want the webhook order's %s", w, v, formatMoney(hookMinor, "USD"))
			}
		}
		if !slices.Contains(models, modelLabel("last_touch")) {
			t.Errorf("%s px: no last-touch column on Attribution: %q", w, models)
		}
		if b := text(`#coverage-banner`); !strings.Contains(b, "of orders carry no marketing data") {
			t.Errorf("%s px: attribution coverage banner %q", w, b)
		}
		shot("6-attribution-" + w)
	}
	if _, err := chromedp.Call(bctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	for _, m := range br.Messages() {
		if m.Type != chromedp.ConsoleWarning && strings.HasPrefix(m.URL, srv.URL) {
			t.Errorf("browser console: %s", m)
		}
	}
}
