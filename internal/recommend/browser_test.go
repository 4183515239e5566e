package recommend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestWidgetBrowser loads the widget in headless Chromium from a page on another origin:
// it renders the product strip with each product's reason, and a click sends "Product
// Clicked" with the recommendation id through the collection API.
func TestWidgetBrowser(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	shop(t, db)
	ctx := context.Background()
	_, key, err := db.RotateSourceKey(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	col := collect.NewHandler(db, collect.Options{})
	defer col.Close(ctx)
	mux := http.NewServeMux()
	col.Register(mux)
	recommend.NewHandler(recommend.NewService(db, nil), recommend.HandlerOptions{}).Register(mux)
	api := httptest.NewServer(mux)
	defer api.Close()

	page := fmt.Sprintf(`<!doctype html><html><head><title>Sourdough Loaf</title></head><body>
<h1>Sourdough Loaf</h1>
<div id="recs" data-omniroi-recommendations data-placement="cart" data-product-id="sourdough" data-limit="3" data-title="Goes well with"></div>
<script>document.addEventListener("click", function (e) { e.preventDefault(); });</script>
<script src="%s/v1/recommendations/widget.js" data-write-key="%s" async></script>
</body></html>`, api.URL, key)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	}))
	defer site.Close()

	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, cctx, t.TempDir(), 1000, 700)
	bctx := br.Ctx
	problems := func() []string {
		var out []string
		for _, m := range br.Messages() {
			// The test catalogue's images are on a host that does not exist.
			if m.Type != chromedp.ConsoleWarning && !strings.Contains(m.Text, "ERR_NAME_NOT_RESOLVED") {
				out = append(out, m.Text)
			}
		}
		return out
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(site.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#recs[data-omniroi-state=ready] .omniroi-item`))); err != nil {
		state, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("recs").getAttribute("data-omniroi-state")`))
		t.Fatalf("widget did not render (state %q): %v; console: %v", state, err, problems())
	}
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("recs").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Goes well with") || !strings.Contains(text, "Salted Butter") || !strings.Contains(text, "bought together with Sourdough Loaf by 12 customers") {
		t.Fatalf("strip text:\n%s", text)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(90)); err == nil {
		dir := os.Getenv("OMNIROI_ARTIFACTS")
		if dir == "" {
			dir = t.TempDir()
		}
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "recommend-widget.png"), png, 0o644)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#recs .omniroi-item`))); err != nil {
		t.Fatal(err)
	}
	// The click's event reaches the log (poll with a deadline).
	deadline := time.Now().Add(15 * time.Second)
	for {
		var body string
		err := db.QueryRow(ctx, `SELECT body FROM events WHERE name = 'Product Clicked'`).Scan(&body)
		if err == nil {
			var e struct {
				AnonymousID string         `json:"anonymousId"`
				Properties  map[string]any `json:"properties"`
			}
			json.Unmarshal([]byte(body), &e)
			if e.Properties["recommendation_id"] != "bt.cart.butter" || e.Properties["product_id"] != "butter" || e.AnonymousID == "" || e.Properties["position"] != 1.0 {
				t.Fatalf("Product Clicked: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Product Clicked event: %v; console: %v", err, problems())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := problems(); len(p) > 0 {
		t.Fatalf("console errors: %v", p)
	}
}
