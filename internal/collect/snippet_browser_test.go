package collect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

func chromiumBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser")
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Need(t, "Chromium is needed to run analytics.js", false)
	return ""
}

// browse serves page from a site on another origin than omniroi (api), opens it in
// headless Chromium and returns the events omniroi stored once want of them are in.
func browse(t *testing.T, f *fixture, pageFor func(api string) string, want int) ([]event.Event, map[string]int) {
	t.Helper()
	var mu sync.Mutex
	paths := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		f.h.ServeHTTP(w, r)
	}))
	defer api.Close()
	page := pageFor(api.URL)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/products/sourdough":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, page)
		case "/umd.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, ajsBundle)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumBin(t), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=20000", "--dump-dom",
		site.URL+"/products/sourdough?utm_source=newsletter&utm_medium=email&utm_campaign=march")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := f.events(t)
		if len(evs) >= want {
			mu.Lock()
			defer mu.Unlock()
			return evs, paths
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%d events stored, want %d; requests %v\n%s", len(evs), want, paths, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventNames(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+":"+e.Name)
	}
	sort.Strings(out)
	return out
}

// TestSnippetStandalone pastes collect.Snippet, exactly as the Sources page shows it, into
// a page on another origin: the snippet loads analytics.js from omniroi, which reads its
// write key and settings from omniroi and sends the queued page, identify and track there.
// (The standalone bundle served anywhere else, without analytics._writeKey, stops with
// "Failed to load Write Key".)
func TestSnippetStandalone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), collect.Options{})
	page := func(api string) string {
		return `<!doctype html><html><head>` + collect.Snippet(api, f.key) + `
<script>
analytics.identify("u-snippet", {email: "ana@example.com"});
analytics.track("Product Viewed", {product_id: "sourdough"});
</script></head><body>shop</body></html>`
	}
	evs, paths := browse(t, f, page, 3)
	if got := eventNames(evs); strings.Join(got, ",") != "identify:,page:,track:Product Viewed" {
		t.Fatalf("events %v", got)
	}
	for _, e := range evs {
		if !strings.Contains(string(e.Body), `"library":{"name":"analytics.js","version":"npm:next-1.84.3"`) && !strings.Contains(string(e.Body), `"name":"analytics.js"`) {
			t.Errorf("%s not from analytics.js: %s", e.Type, e.Body)
		}
		if e.Type == "page" && !strings.Contains(string(e.Body), "utm_campaign=march") {
			t.Errorf("page event without the landing URL: %s", e.Body)
		}
	}
	for _, p := range []string{"GET /analytics.js/v1/" + f.key + "/analytics.min.js", "GET /v1/projects/" + f.key + "/settings"} {
		if paths[p] == 0 {
			t.Errorf("no request %s: %v", p, paths)
		}
	}
}

// TestSnippetNPM runs the npm form's AnalyticsBrowser.load call (collect.LoadCall, as in
// collect.NPMSnippet) with the package's UMD build.
func TestSnippetNPM(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), collect.Options{})
	page := func(api string) string {
		return `<!doctype html><html><body><div id="out">loading</div>
<script src="/umd.js"></script>
<script>
(async () => {
  const AnalyticsBrowser = AnalyticsNext.AnalyticsBrowser;
  const [analytics] = await ` + collect.LoadCall(api, f.key) + `;
  await analytics.page();
  await analytics.track("Product Viewed", {product_id: "sourdough"});
  document.getElementById("out").textContent = "sent";
})();
</script></body></html>`
	}
	evs, paths := browse(t, f, page, 2)
	if got := eventNames(evs); strings.Join(got, ",") != "page:,track:Product Viewed" {
		t.Fatalf("events %v", got)
	}
	if paths["GET /v1/projects/"+f.key+"/settings"] == 0 || paths["POST /v1/t"] == 0 {
		t.Fatalf("requests %v", paths)
	}
	if !strings.Contains(collect.NPMSnippet("https://track.example.com", "wk_x"), `apiHost: "track.example.com/v1", protocol: "https"`) {
		t.Fatalf("npm snippet:\n%s", collect.NPMSnippet("https://track.example.com", "wk_x"))
	}
}

// TestShopifyPixel runs collect.ShopifyPixel in Chromium against Shopify's documented
// custom-pixel API (analytics.subscribe; events with id, clientId, timestamp, context and
// data.checkout) and checks what omniroi stored.
func TestShopifyPixel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), collect.Options{})
	page := func(api string) string {
		return `<!doctype html><html><body><script>
const handlers = {};
const analytics = { subscribe: (name, fn) => { handlers[name] = fn; } };
</script><script>` + collect.ShopifyPixel(api, f.key) + `</script><script>
const context = { document: { location: { href: location.href }, referrer: "https://www.instagram.com/", title: "Sourdough" } };
handlers.page_viewed({ id: "sh-1", name: "page_viewed", clientId: "c9f2e1d0-anon", timestamp: "2024-03-08T15:10:00.000Z", context: context, data: {} });
handlers.checkout_completed({ id: "sh-2", name: "checkout_completed", clientId: "c9f2e1d0-anon", timestamp: "2024-03-08T15:14:00.000Z",
  context: { document: { location: { href: "https://crumb-and-crust.myshopify.com/checkouts/cn/abc/thank_you" }, referrer: "", title: "Thank you" } },
  data: { checkout: { token: "abc123", email: "maya.chen@example.com", phone: null, currencyCode: "USD",
    totalPrice: { amount: 68.26, currencyCode: "USD" },
    order: { id: "5821934518450", customer: { id: "7390218739890" } } } } });
</script></body></html>`
	}
	evs, _ := browse(t, f, page, 3)
	if got := eventNames(evs); strings.Join(got, ",") != "identify:,page:,track:Checkout Completed" {
		t.Fatalf("events %v", got)
	}
	for _, e := range evs {
		if e.AnonymousID != "c9f2e1d0-anon" {
			t.Errorf("%s: anonymousId %q", e.Type, e.AnonymousID)
		}
		switch e.Type {
		case "identify", "track":
			if e.UserID != "shopify-7390218739890" {
				t.Errorf("%s: userId %q", e.Type, e.UserID)
			}
		case "page":
			if !strings.Contains(string(e.Body), "utm_source=newsletter") {
				t.Errorf("page without the landing URL: %s", e.Body)
			}
		}
	}
}
