package journey

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// A public write key can put any URL into an event property; the abandoned-cart email
// links to .Event.url. The click route must not turn that into a redirect to any site.
func TestClickDoesNotRedirectToAttackerURL(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{ShopURL: "https://bakery.example"})
		f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		u := f.customer(1, consented)
		evil := "https://evil.example/login?next=%2F"
		f.track(u, "Product Added", map[string]any{"cart_id": "A1", "name": "Sourdough", "url": evil})
		f.track(f.customer(2, consented), "Product Added", map[string]any{"cart_id": "B1", "name": "Rye", "url": "https://www.bakery.example/cart/B1"})
		f.advance(61 * time.Minute)
		links := map[int64]string{}
		for _, m := range f.sink.byChannel("email") {
			i := strings.Index(m.Text, "https://shop.example/j/c/")
			if i < 0 {
				t.Fatalf("no click link in %q", m.Text)
			}
			links[m.CustomerID] = strings.Fields(m.Text[i+len("https://shop.example"):])[0]
		}
		h := NewHTTPHandler(f.eng, HandlerOptions{})
		rec := serve(h, httptest.NewRequest("GET", links[1], nil))
		if loc := rec.Header().Get("Location"); loc != "" || rec.Code/100 == 3 {
			t.Fatalf("click on an event-supplied link redirected (%d) to %q", rec.Code, loc)
		}
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "https://evil.example/login?next=%2F") || strings.Contains(body, "http-equiv") || strings.Contains(body, "<script") {
			t.Fatalf("interstitial page: %d %s", rec.Code, body)
		}
		if n := f.count(`SELECT COUNT(*) FROM events WHERE name = 'Email Link Clicked'`); n != 1 {
			t.Errorf("the click was not recorded: %d events", n)
		}
		// A link on the shop's own domain (a subdomain of shop_url's host) redirects.
		rec = serve(h, httptest.NewRequest("GET", links[2], nil))
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://www.bakery.example/cart/B1" {
			t.Fatalf("shop link: %d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
}

// clickLinks sends one email per customer of a journey whose text links to the given
// template expression, and returns the click path per customer.
func clickLinks(t *testing.T, f *fixture, linkExpr string, urls map[int64]string) map[int64]string {
	t.Helper()
	f.apply(`name: offer
entry: {event: Offer Viewed}
holdout: 0
steps:
  - email: {subject: "offer", text: '{{link ` + linkExpr + `}}', html: '<a href="{{link ` + linkExpr + `}}">offer</a>'}
`)
	for id, u := range urls {
		f.track(f.customer(id, consented), "Offer Viewed", map[string]any{"url": u})
	}
	out := map[int64]string{}
	for _, m := range f.sink.byChannel("email") {
		i := strings.Index(m.Text, "https://shop.example/j/c/")
		if i < 0 {
			t.Fatalf("no click link in %q", m.Text)
		}
		out[m.CustomerID] = strings.Fields(m.Text[i+len("https://shop.example"):])[0]
		if !strings.Contains(m.HTML, `href="https://shop.example/j/c/`) {
			t.Fatalf("html link not tracked: %q", m.HTML)
		}
	}
	return out
}

// A link the journey's author wrote redirects wherever it points; the same target coming
// from an event does not, until the shop lists its domain in links.allowed_domains.
func TestClickTargets(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		if _, err := workspace.Set(f.ctx, db, audit.ActorCLI, "shop_url", "https://bakery.example"); err != nil {
			t.Fatal(err)
		}
		h := NewHTTPHandler(f.eng, HandlerOptions{})
		get := func(path string) *httptest.ResponseRecorder { return serve(h, httptest.NewRequest("GET", path, nil)) }
		fixed := clickLinks(t, f, `"https://partner.example/offer?id=1&x=2"`, map[int64]string{1: ""})
		if rec := get(fixed[1]); rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://partner.example/offer?id=1&x=2" {
			t.Fatalf("author's link: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		f.sink = newSink()
		f.eng.opt.Senders = map[string]Sender{"email": f.sink}
		f.advance(time.Hour)
		ev := clickLinks(t, f, `.Event.url`, map[int64]string{2: "https://partner.example/offer?id=1&x=2", 3: "https://bakery.example/bread", 4: "javascript:alert(1)"})
		rec := get(ev[2])
		if rec.Code != http.StatusOK || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), "https://partner.example/offer?id=1&amp;x=2") {
			t.Fatalf("event's link to another domain: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); csp != "default-src 'none'" {
			t.Errorf("interstitial CSP %q", csp)
		}
		if rec := get(ev[3]); rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://bakery.example/bread" {
			t.Fatalf("event's link to shop_url's domain: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if rec := get(ev[4]); rec.Code != http.StatusBadRequest {
			t.Fatalf("javascript: link: %d", rec.Code)
		}
		if _, err := workspace.Set(f.ctx, db, audit.ActorCLI, "links.allowed_domains", "Partner.example, bakery.example"); err != nil {
			t.Fatal(err)
		}
		if rec := get(ev[2]); rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://partner.example/offer?id=1&x=2" {
			t.Fatalf("listed domain: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		// A lookalike is not a subdomain.
		if domainMatch("evilbakery.example", []string{"bakery.example"}) || !domainMatch("www.bakery.example.", []string{"bakery.example"}) {
			t.Fatal("domain matching")
		}
	})
}
