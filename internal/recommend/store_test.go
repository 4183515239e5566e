package recommend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func ev(m map[string]any) map[string]any { return m }

// shop loads a catalogue and a history the way production does: orders from the till (a
// server source), product views from the web shop (a client source).
func shop(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if _, err := workspace.Set(ctx, db, "test", "shop_url", "https://crumb.example"); err != nil {
		t.Fatal(err)
	}
	ps := []catalog.Product{
		{ID: "sourdough", Title: "Sourdough Loaf", Category: "bread", PriceMinor: 550, URL: "https://crumb.example/p/sourdough", ImageURL: "https://crumb.example/i/sourdough.jpg", Origin: "test"},
		{ID: "butter", Title: "Salted Butter", Category: "dairy", PriceMinor: 350, URL: "https://crumb.example/p/butter", ImageURL: "https://crumb.example/i/butter.jpg", Origin: "test"},
		{ID: "jam", Title: "Apricot Jam", Category: "jars", PriceMinor: 450, URL: "https://crumb.example/p/jam", Origin: "test"},
		{ID: "coffee", Title: "Flat White", Category: "coffee", PriceMinor: 340, URL: "https://crumb.example/p/coffee", Origin: "test"},
		{ID: "croissant", Title: "Croissant", Category: "pastry", PriceMinor: 220, URL: "https://crumb.example/p/croissant", Origin: "test"},
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { _, _, err := catalog.Upsert(ctx, tx, ps, t0); return err }); err != nil {
		t.Fatal(err)
	}
	var orders, views []any
	for i := 0; i < 12; i++ {
		items := []map[string]any{{"product_id": "sourdough", "price": 5.5, "quantity": 1}, {"product_id": "butter", "price": 3.5, "quantity": 1}}
		if i%3 == 0 {
			items = append(items, map[string]any{"product_id": "jam", "price": 4.5, "quantity": 1})
		}
		orders = append(orders, ev(map[string]any{"type": "track", "event": "Order Completed", "userId": fmt.Sprintf("u%d", i),
			"timestamp":  t0.Add(time.Duration(i) * time.Hour).Format(time.RFC3339),
			"properties": map[string]any{"order_id": fmt.Sprintf("o%d", i), "revenue": 9, "currency": "EUR", "location": "store", "products": items}}))
	}
	for i := 0; i < 8; i++ {
		orders = append(orders, ev(map[string]any{"type": "track", "event": "Order Completed", "userId": fmt.Sprintf("c%d", i),
			"timestamp": t0.Add(time.Duration(i) * time.Hour).Format(time.RFC3339),
			"properties": map[string]any{"order_id": fmt.Sprintf("k%d", i), "revenue": 5.6, "currency": "EUR", "location": "store",
				"products": []map[string]any{{"product_id": "coffee", "price": 3.4}, {"product_id": "croissant", "price": 2.2}}}}))
	}
	identitytest.Insert(t, db, "till", t0.Add(24*time.Hour), orders...)
	for i := 0; i < 6; i++ {
		for _, p := range []string{"coffee", "croissant"} {
			views = append(views, ev(map[string]any{"type": "track", "event": "Product Viewed", "anonymousId": fmt.Sprintf("v%d", i),
				"timestamp":  t0.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
				"properties": map[string]any{"product_id": p, "name": "whatever the page says", "url": "https://evil.example/" + p}}))
		}
	}
	// A product only the web's events know, with a link off the shop's domain.
	views = append(views, ev(map[string]any{"type": "track", "event": "Product Viewed", "anonymousId": "v0", "timestamp": t0.Format(time.RFC3339),
		"properties": map[string]any{"product_id": "phish", "name": "Free gift", "url": "https://evil.example/gift"}}))
	// u0's browser: identify links the anonymous id to u0.
	views = append(views, ev(map[string]any{"type": "identify", "userId": "u0", "anonymousId": "browser-u0", "timestamp": t0.Format(time.RFC3339)}))
	src, _, err := db.CreateSourceKind(ctx, "web", store.KindClient)
	if err != nil {
		t.Fatal(err)
	}
	_ = src
	identitytest.Load(t, db, "web", t0.Add(24*time.Hour), views...)
}

func TestStoreModelAndFollower(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shop(t, db)
		m, err := recommend.BuildFromStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		// Events describe products; an imported product keeps the shop's own title and link.
		cat, _ := catalog.Load(ctx, db)
		if c := cat.Get("coffee"); c.Title != "Flat White" || c.URL != "https://crumb.example/p/coffee" {
			t.Fatalf("events overrode the catalogue: %+v", c)
		}
		if p := cat.Get("phish"); p == nil || p.Trusted || p.Origin != "events" {
			t.Fatalf("a product only a client source described: %+v", p)
		}
		svc := recommend.NewService(db, nil)
		recs, err := svc.ForCustomerWith(ctx, m, recommend.Request{Placement: "cart", Products: []string{"sourdough"}, N: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || recs[0].ProductID != "butter" || recs[0].Reason != "bought together with Sourdough Loaf by 12 customers" {
			t.Fatalf("cart: %+v", recs)
		}
		sim, _ := svc.ForCustomerWith(ctx, m, recommend.Request{Placement: "product", Products: []string{"coffee"}, N: 5})
		if len(sim) == 0 || sim[0].ProductID != "croissant" || !strings.HasPrefix(sim[0].Reason, "viewed by 6 customers who also viewed Flat White") {
			t.Fatalf("similar: %+v", sim)
		}
		for _, r := range sim {
			if r.ProductID == "phish" {
				t.Fatalf("recommended a product whose link is off the shop's domain: %+v", r)
			}
		}
		// Running the follower again changes nothing (idempotent).
		var n1, n2 int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM product_events`).Scan(&n1)
		if err := catalog.Rebuild(ctx, db); err != nil {
			t.Fatal(err)
		}
		db.QueryRow(ctx, `SELECT COUNT(*) FROM product_events`).Scan(&n2)
		if n1 != 13 || n1 != n2 {
			t.Fatalf("product events %d, after rebuild %d, want 13", n1, n2)
		}
	})
}

func get(t *testing.T, srv *httptest.Server, path, origin string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestRecommendationsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shop(t, db)
		_, key, err := db.RotateSourceKey(ctx, "web", nil)
		if err != nil {
			t.Fatal(err)
		}
		svc := recommend.NewService(db, nil)
		mux := http.NewServeMux()
		recommend.NewHandler(svc, recommend.HandlerOptions{KeyCheckInterval: 50 * time.Millisecond}).Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()

		if code, _, body := get(t, srv, "/v1/recommendations?placement=home", ""); code != 401 || !strings.Contains(body, "missing write key") {
			t.Fatalf("no key: %d %s", code, body)
		}
		if code, _, _ := get(t, srv, "/v1/recommendations?writeKey=wk_nope", ""); code != 401 {
			t.Fatalf("unknown key: %d", code)
		}
		path := "/v1/recommendations?writeKey=" + key + "&placement=cart&productId=sourdough&limit=2"
		code, hdr, body := get(t, srv, path, "https://crumb.example")
		if code != 200 || hdr.Get("Access-Control-Allow-Origin") != "https://crumb.example" || !strings.Contains(hdr.Get("Cache-Control"), "private") {
			t.Fatalf("%d %v %s", code, hdr, body)
		}
		var res recommend.Response
		if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Recommendations) == 0 || res.Recommendations[0].ID != "bt.cart.butter" {
			t.Fatalf("body %s", body)
		}
		if _, _, again := get(t, srv, path, "https://crumb.example"); again != body {
			t.Fatalf("not deterministic:\n%s\n%s", body, again)
		}
		// u0 (through their browser's anonymous id) bought sourdough and butter: the home
		// page names jam with its reason and not what they bought.
		_, _, body = get(t, srv, "/v1/recommendations?writeKey="+key+"&placement=home&anonymousId=browser-u0", "")
		if err := json.Unmarshal([]byte(body), &res); err != nil || !res.Personalised {
			t.Fatalf("u0 home: %s", body)
		}
		for _, r := range res.Recommendations {
			if r.ProductID == "sourdough" || r.ProductID == "butter" {
				t.Fatalf("recommended what u0 bought: %s", body)
			}
		}
		// A userId alone is not enough (anyone can type it); with the back end's hash it is.
		_, _, body = get(t, srv, "/v1/recommendations?writeKey="+key+"&placement=home&userId=u0", "")
		if json.Unmarshal([]byte(body), &res); res.Personalised {
			t.Fatalf("userId without userHash was personalised: %s", body)
		}
		if _, err := workspace.Set(ctx, db, "test", "recommend.user_hash_secret", "s3cret"); err != nil {
			t.Fatal(err)
		}
		svc.Refresh(ctx, true)
		_, _, body = get(t, srv, "/v1/recommendations?writeKey="+key+"&placement=home&userId=u0&userHash="+recommend.UserHash("s3cret", "u0"), "")
		if json.Unmarshal([]byte(body), &res); !res.Personalised {
			t.Fatalf("signed userId not personalised: %s", body)
		}
		// u0 opts out of personalisation (a refusal counts from any source).
		identitytest.Load(t, db, "web", t0.Add(48*time.Hour), map[string]any{"type": "identify", "userId": "u0",
			"traits": map[string]any{"consent": map[string]any{"personalisation": false}}})
		if err := svc.Refresh(ctx, true); err != nil {
			t.Fatal(err)
		}
		_, _, body = get(t, srv, "/v1/recommendations?writeKey="+key+"&placement=home&anonymousId=browser-u0", "")
		if json.Unmarshal([]byte(body), &res); res.Personalised || len(res.Recommendations) == 0 || res.Recommendations[0].List != recommend.ListPopular {
			t.Fatalf("opted out: %s", body)
		}
		// A revoked key is refused within the key check interval.
		if _, err := db.RevokeSourceKey(ctx, "web", nil); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, _, _ := get(t, srv, path, "")
			if code == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("revoked key still answered %d", code)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// A click on a recommendation (the widget's Product Clicked, or a product link in a
// message) followed by an order with that product within the window credits the order.
func TestAttribution(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shop(t, db)
		later := t0.Add(72 * time.Hour)
		identitytest.Load(t, db, "web", later, map[string]any{"type": "track", "event": "Product Clicked", "anonymousId": "browser-u0",
			"timestamp": later.Format(time.RFC3339), "properties": map[string]any{"product_id": "jam", "recommendation_id": "fy.home.jam"}})
		identitytest.Load(t, db, "journeys", later, map[string]any{"type": "track", "event": "Email Link Clicked", "userId": "u1",
			"timestamp": later.Format(time.RFC3339), "properties": map[string]any{"link_url": "https://crumb.example/p/jam?orec=bt.email.jam"}})
		order := func(uid, oid string, at time.Time) map[string]any {
			return map[string]any{"type": "track", "event": "Order Completed", "userId": uid, "timestamp": at.Format(time.RFC3339),
				"properties": map[string]any{"order_id": oid, "revenue": 9, "currency": "EUR",
					"products": []map[string]any{{"product_id": "jam", "price": 4.5, "quantity": 2}, {"product_id": "coffee", "price": 3.4}}}}
		}
		// Each order is received when it happened: the store refuses timestamps far ahead
		// of its clock.
		identitytest.Load(t, db, "till", later.Add(2*time.Hour), order("u0", "after-click", later.Add(2*time.Hour)))
		identitytest.Load(t, db, "till", later.Add(10*24*time.Hour), order("u1", "too-late", later.Add(10*24*time.Hour)))
		if err := catalog.CatchUp(ctx, db); err != nil {
			t.Fatal(err)
		}
		rows, err := recommend.Attribution(ctx, db, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(rows)
		want := fmt.Sprint([]recommend.AttributionRow{
			{List: "for-you", Placement: "home", Clicks: 1, Orders: 1, RevenueMinor: 900, Revenue: "9.00", Currency: "EUR"},
			{List: "together", Placement: "email", Clicks: 1, Orders: 0, RevenueMinor: 0, Revenue: "0.00", Currency: "EUR"},
		})
		if got != want {
			t.Fatalf("attribution\n got %s\nwant %s", got, want)
		}
	})
}

// TestStoredModelAcrossRestart: a service's first model is the stored one when it was
// built at the current data version and product rules (no build); a new product rule
// makes it build.
func TestStoredModelAcrossRestart(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shop(t, db)
		first, err := recommend.NewService(db, nil).Model(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			if _, ok, err := db.LoadSnapshot(ctx, "recommend"); err != nil {
				t.Fatal(err)
			} else if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the model was not stored")
			}
			time.Sleep(10 * time.Millisecond)
		}
		req := recommend.Request{Placement: "cart", Products: []string{"sourdough"}, N: 3}
		second, err := recommend.NewService(db, nil).Model(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !second.Built.Equal(first.Built) {
			t.Errorf("the second service built its model (%v), want the stored one (%v)", second.Built, first.Built)
		}
		if a, b := second.Recommend(req), first.Recommend(req); fmt.Sprint(a) != fmt.Sprint(b) || len(a) == 0 {
			t.Errorf("stored model recommends %+v, the built one %+v", a, b)
		}
		// A pin is read at the build: a stored model without it is not used.
		if err := recommend.SetProductRule(ctx, db, recommend.ProductRule{ProductID: "jam", Rule: recommend.RulePin}, nil); err != nil {
			t.Fatal(err)
		}
		third, err := recommend.NewService(db, nil).Model(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if third.Built.Equal(first.Built) {
			t.Error("the stored model was used although a product rule changed")
		}
	})
}
