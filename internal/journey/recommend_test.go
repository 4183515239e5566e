package journey

import (
	"context"
	"html"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

type fakeRecommender struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeRecommender) Recommend(ctx context.Context, customerID int64, list string, products []string, n int) ([]RecommendedProduct, error) {
	f.mu.Lock()
	f.calls = append(f.calls, list+" "+strings.Join(products, ","))
	f.mu.Unlock()
	return []RecommendedProduct{{ID: "butter", Title: "Salted Butter", Price: "3.50 EUR",
		URL:    "https://shop.example/products/butter?orec=bt.email.butter",
		Reason: "bought together with Sourdough Loaf by 38 customers", RecommendationID: "bt.email.butter"}}, nil
}

// The abandoned-cart email lists what is bought together with the cart's product, with
// its reason; the product link is click-tracked, redirects to the shop's domain, and the
// click event keeps the recommendation id for attribution.
func TestRecommendationsInMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := &fakeRecommender{}
		f := newFixture(t, db, Options{Recommender: rec})
		if _, err := workspace.Set(f.ctx, db, "test", "shop_url", "https://shop.example"); err != nil {
			t.Fatal(err)
		}
		f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		a := f.customer(1, consented)
		f.track(a, "Product Added", map[string]any{"cart_id": "A1", "name": "Sourdough Loaf", "product_id": "sourdough"})
		f.advance(61 * time.Minute)
		mails := f.sink.byChannel("email")
		if len(mails) != 1 {
			t.Fatalf("emails: %d", len(mails))
		}
		m := mails[0]
		if !strings.Contains(m.Text, "Often bought with it:\n- Salted Butter, 3.50 EUR: https://shop.example/j/c/") ||
			!strings.Contains(m.Text, "(bought together with Sourdough Loaf by 38 customers)") {
			t.Fatalf("text:\n%s", m.Text)
		}
		if !strings.Contains(m.HTML, "<small>bought together with Sourdough Loaf by 38 customers</small>") {
			t.Fatalf("html:\n%s", m.HTML)
		}
		if len(rec.calls) == 0 || rec.calls[0] != "together sourdough" {
			t.Fatalf("recommender asked %v, want the cart's product for the together list", rec.calls)
		}
		link := regexp.MustCompile(`<a href="(https://shop\.example/j/c/[^"]+)">Salted Butter</a>`).FindStringSubmatch(m.HTML)
		if link == nil {
			t.Fatalf("no tracked product link in %s", m.HTML)
		}
		u, _ := url.Parse(html.UnescapeString(link[1]))
		h := NewHTTPHandler(f.eng, HandlerOptions{})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", u.Path, nil))
		if w.Code != 302 || w.Header().Get("Location") != "https://shop.example/products/butter?orec=bt.email.butter" {
			t.Fatalf("click: %d %q", w.Code, w.Header().Get("Location"))
		}
		var body string
		if err := db.QueryRow(f.ctx, `SELECT body FROM events WHERE name = 'Email Link Clicked'`).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, `orec=bt.email.butter`) {
			t.Fatalf("click event %s", body)
		}
	})
}

// Without a Recommender the built-in messages are as they were: nothing is added.
func TestNoRecommenderAddsNothing(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
	a := f.customer(1, consented)
	f.track(a, "Product Added", map[string]any{"cart_id": "A1", "name": "Sourdough Loaf", "product_id": "sourdough"})
	f.advance(61 * time.Minute)
	mails := f.sink.byChannel("email")
	if len(mails) != 1 || strings.Contains(mails[0].Text, "Often bought") || strings.Contains(mails[0].HTML, "<ul>") {
		t.Fatalf("mails %+v", mails)
	}
}
