package connect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// hookServer is the webhook handler behind a real HTTP server.
type hookServer struct {
	t   *testing.T
	db  *store.DB
	url string
}

func newHookServer(t *testing.T, db *store.DB) *hookServer {
	mux := http.NewServeMux()
	connect.NewHandler(db, connect.Options{}).Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return &hookServer{t: t, db: db, url: ts.URL}
}

func fixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body to the connector's webhook URL with headers; it returns the status and
// the decoded answer.
func (h *hookServer) post(src store.Source, body []byte, headers map[string]string) (int, connect.Result) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+connect.WebhookPath(src), bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r connect.Result
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &r); err != nil {
			h.t.Fatalf("answer %s: %v", raw, err)
		}
	}
	return res.StatusCode, r
}

// shopify sends a Shopify delivery as Shopify does: the topic, the shop, a delivery id
// and the base64 HMAC-SHA256 of the raw body with the secret.
func (h *hookServer) shopify(src store.Source, secret, topic, file, deliveryID string) connect.Result {
	h.t.Helper()
	body := fixture(h.t, "shopify/"+file)
	code, r := h.post(src, body, map[string]string{
		"X-Shopify-Topic":        topic,
		"X-Shopify-Hmac-Sha256":  connect.Sign(body, secret),
		"X-Shopify-Shop-Domain":  "crumb-and-crust.myshopify.com",
		"X-Shopify-API-Version":  "2024-01",
		"X-Shopify-Webhook-Id":   deliveryID,
		"X-Shopify-Triggered-At": "2024-03-08T15:15:44.123456789Z",
		"X-Shopify-Event-Id":     "evt-" + deliveryID,
	})
	if code != http.StatusOK {
		h.t.Fatalf("%s %s: status %d", topic, file, code)
	}
	return r
}

// counts is what the store holds: events, rejected events, deliveries recorded.
func counts(t *testing.T, db *store.DB) [3]int {
	t.Helper()
	var c [3]int
	for i, q := range []string{`SELECT COUNT(*) FROM events`, `SELECT COUNT(*) FROM rejected_events`, `SELECT COUNT(*) FROM connector_deliveries`} {
		if err := db.QueryRow(context.Background(), q).Scan(&c[i]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

type orderView struct {
	Revenue  int64
	Currency string
	Channel  string
	Location string
	Campaign string
	Refunded int64
	UserID   string
	Email    string
}

// orders reads the derived orders with their channel, campaign and who bought.
func orders(t *testing.T, db *store.DB) map[string]orderView {
	t.Helper()
	ctx := context.Background()
	os, err := commerce.Orders(ctx, db, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]orderView{}
	for _, o := range os {
		v := orderView{Revenue: o.RevenueMinor, Currency: o.Currency, Channel: o.Channel, Location: o.Location, Refunded: o.RefundedMinor}
		if err := db.QueryRow(ctx, `SELECT campaign FROM activity WHERE seq = ?`, o.Seq).Scan(&v.Campaign); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT user_id, email FROM customers WHERE id = ?`, o.CustomerID).Scan(&v.UserID, &v.Email); err != nil {
			t.Fatal(err)
		}
		out[o.OrderID] = v
	}
	return out
}

func TestShopifyWebhooks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const secret = "4f1c8e2b9d7a6035e1f4b2c8d9a7e6f5"
		src, _, got, err := connect.Create(ctx, db, "crumb and crust", connect.KindShopify, secret)
		if err != nil || got != secret {
			t.Fatalf("create: %v", err)
		}
		h := newHookServer(t, db)
		body := fixture(t, "shopify/order-web-utm.json")

		// Refused, and nothing of them stored: no signature, a wrong one, one made with
		// another secret, one over a changed body, and the hex form some senders use.
		for name, hdr := range map[string]string{
			"missing":      "",
			"garbage":      "not-base64!",
			"other secret": connect.Sign(body, "0000000000000000000000000000000"),
			"other body":   connect.Sign(append([]byte(" "), body...), secret),
			"hex digest":   fmt.Sprintf("%x", []byte(connect.Sign(body, secret))),
		} {
			code, _ := h.post(src, body, map[string]string{"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": hdr})
			if code != http.StatusUnauthorized {
				t.Errorf("%s signature: status %d, want 401", name, code)
			}
		}
		// Another connector's secret does not open this one's route, nor does the other platform's path.
		other, _, otherSecret, err := connect.Create(ctx, db, "other shop", connect.KindShopify, "")
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := h.post(src, body, map[string]string{"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": connect.Sign(body, otherSecret)}); code != http.StatusUnauthorized {
			t.Errorf("another connector's secret: %d", code)
		}
		wrongKind := src
		wrongKind.Kind = connect.KindWooCommerce
		if code, _ := h.post(wrongKind, body, map[string]string{"X-WC-Webhook-Signature": connect.Sign(body, secret)}); code != http.StatusNotFound {
			t.Errorf("shopify source on the woocommerce path: %d", code)
		}
		if c := counts(t, db); c != [3]int{} {
			t.Fatalf("refused deliveries left rows: events, rejected, deliveries = %v", c)
		}
		_ = other

		steps := []struct {
			topic, file, id string
			events          int
			outcome         string
		}{
			{"orders/create", "order-web-utm.json", "d1", 1, "order #1001"},
			{"orders/create", "order-web-gclid.json", "d2", 1, "order #1002"},
			{"orders/create", "order-pos.json", "d3", 1, "order #1003"},
			{"orders/create", "order-web-utm.json", "d1", 0, "a repeated delivery"},  // Shopify retried
			{"orders/updated", "order-web-utm.json", "d4", 0, "a repeated delivery"}, // the same order again
			{"orders/updated", "order-updated-refunded.json", "d5", 1, "refund 1013398634674 of 30.00 USD on order #1001"},
			{"refunds/create", "refund.json", "d6", 0, "a repeated delivery"}, // the same refund, by its own topic
			{"customers/update", "customer-update.json", "d7", 1, "customer record"},
			{"customers/update", "customer-update.json", "d8", 0, "a repeated delivery"},
			{"orders/create", "order-pending.json", "d9", 0, "order #1004 is not paid (yet)"},
			{"orders/updated", "order-pending-paid.json", "d10", 1, "order #1004"},
			{"orders/create", "order-test.json", "d11", 0, "test order #1005: not counted"},
			{"carts/update", "order-pos.json", "d12", 0, `topic "carts/update" is not one omniroi reads`},
		}
		for _, s := range steps {
			r := h.shopify(src, secret, s.topic, s.file, s.id)
			if r.Events != s.events || !strings.Contains(r.Outcome, s.outcome) {
				t.Errorf("%s %s: %d events, %q; want %d, %q", s.topic, s.file, r.Events, r.Outcome, s.events, s.outcome)
			}
		}
		identitytest.CatchUp(t, db)
		want := map[string]orderView{
			// UTM in the landing page (Facebook ad): Paid Social, its campaign; the refund of
			// the starter kit (30.00 of a 58.00 order before tax and shipping).
			"#1001": {Revenue: 5800, Currency: "USD", Channel: "Paid Social", Location: "web", Campaign: "spring_launch", Refunded: 3000, UserID: "shopify-7390218739890", Email: "maya.chen@example.com"},
			// gclid in the landing page: Paid Search; a guest known by email.
			"#1002": {Revenue: 2400, Currency: "USD", Channel: "Paid Search", Location: "web", Campaign: "(none)", Email: "jordan.p@example.net"},
			// the till (source_name pos): In-store.
			"#1003": {Revenue: 950, Currency: "USD", Channel: "In-store", Location: "store", Campaign: "(none)", UserID: "shopify-7390218805426"},
			// paid a day later by bank transfer: counted once, when paid; no referrer, no UTM.
			"#1004": {Revenue: 2400, Currency: "USD", Channel: "Direct", Location: "web", Campaign: "(none)", Email: "sam.k@example.org"},
		}
		got1 := orders(t, db)
		if !equalOrders(got1, want) {
			t.Fatalf("orders:\n got %+v\nwant %+v", got1, want)
		}
		// The customer update added a verified phone and SMS consent.
		var phone, traits string
		if err := db.QueryRow(ctx, `SELECT phone, traits FROM customers WHERE user_id = ?`, "shopify-7390218739890").Scan(&phone, &traits); err != nil {
			t.Fatal(err)
		}
		if phone != "+15125550123" || !strings.Contains(traits, `"consent.sms.marketing":{"v":true`) {
			t.Fatalf("customer after customers/update: phone %q traits %s", phone, traits)
		}
		// The events are the source of truth: a rebuild derives the same orders.
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if got2 := orders(t, db); !equalOrders(got2, got1) {
			t.Fatalf("after rebuild:\n got %+v\nwant %+v", got2, got1)
		}
		// Every accepted delivery is recorded with what was done; refused ones are not.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM connector_deliveries WHERE source_id = ?`, src.ID).Scan(&n); err != nil || n != len(steps) {
			t.Fatalf("%d deliveries recorded, want %d (%v)", n, len(steps), err)
		}
	})
}

func equalOrders(a, b map[string]orderView) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestShopifyRefundBeforeOrder: a refund whose order never arrived is kept as a rejected
// event with the reason, and the order's update later brings it in.
func TestShopifyRefundBeforeOrder(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	src, _, secret, err := connect.Create(ctx, db, "shop", connect.KindShopify, "")
	if err != nil {
		t.Fatal(err)
	}
	h := newHookServer(t, db)
	r := h.shopify(src, secret, "refunds/create", "refund.json", "r1")
	if r.Events != 0 || !strings.Contains(r.Outcome, "has not been received") {
		t.Fatalf("refund first: %+v", r)
	}
	if c := counts(t, db); c != [3]int{0, 1, 1} {
		t.Fatalf("events, rejected, deliveries = %v", c)
	}
	r = h.shopify(src, secret, "orders/updated", "order-updated-refunded.json", "r2")
	if r.Events != 2 {
		t.Fatalf("order with its refund: %+v", r)
	}
	identitytest.CatchUp(t, db)
	if o := orders(t, db)["#1001"]; o.Revenue != 5800 || o.Refunded != 3000 {
		t.Fatalf("order: %+v", o)
	}
}

func TestWooCommerceWebhooks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		src, _, secret, err := connect.Create(ctx, db, "brotzeit", connect.KindWooCommerce, "")
		if err != nil {
			t.Fatal(err)
		}
		h := newHookServer(t, db)
		wc := func(topic, file string) (int, connect.Result) {
			body := fixture(t, "woocommerce/"+file)
			return h.post(src, body, map[string]string{
				"User-Agent":               "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)",
				"X-WC-Webhook-Source":      "https://brotzeit-shop.de/",
				"X-WC-Webhook-Topic":       topic,
				"X-WC-Webhook-Resource":    "order",
				"X-WC-Webhook-Event":       strings.TrimPrefix(topic, "order."),
				"X-WC-Webhook-Signature":   connect.Sign(body, secret),
				"X-WC-Webhook-ID":          "3",
				"X-WC-Webhook-Delivery-ID": "b3f0c9a1d2e84f67a5c1e9d08b7a6f54",
			})
		}
		// WooCommerce pings a new webhook unsigned, form-encoded: 200, nothing stored.
		req, _ := http.NewRequest(http.MethodPost, h.url+connect.WebhookPath(src), strings.NewReader("webhook_id=3"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("ping: %d", res.StatusCode)
		}
		// An unsigned order, or one signed with another secret: 401, nothing stored.
		body := fixture(t, "woocommerce/order-utm.json")
		for _, sig := range []string{"", connect.Sign(body, "another-secret-0123456789")} {
			if code, _ := h.post(src, body, map[string]string{"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": sig}); code != http.StatusUnauthorized {
				t.Fatalf("signature %q: %d", sig, code)
			}
		}
		if c := counts(t, db); c != [3]int{} {
			t.Fatalf("refused deliveries left rows: %v", c)
		}
		for _, s := range []struct {
			topic, file string
			events      int
			outcome     string
		}{
			{"order.created", "order-utm.json", 1, "order 4127"},
			{"order.created", "order-organic.json", 1, "order 4131"},
			{"order.updated", "order-utm.json", 0, "a repeated delivery"},
			{"order.updated", "order-refunded.json", 1, "refund 4135 of 20.00 EUR on order 4127"},
			{"order.updated", "order-refunded.json", 0, "a repeated delivery"},
			{"order.created", "order-on-hold.json", 0, "order 4140 is not paid (yet)"},
		} {
			code, r := wc(s.topic, s.file)
			if code != http.StatusOK || r.Events != s.events || !strings.Contains(r.Outcome, s.outcome) {
				t.Errorf("%s %s: %d, %d events, %q; want %d, %q", s.topic, s.file, code, r.Events, r.Outcome, s.events, s.outcome)
			}
		}
		identitytest.CatchUp(t, db)
		want := map[string]orderView{
			// _wc_order_attribution_*: google / cpc, campaign brand_search_de.
			"4127": {Revenue: 2802, Currency: "EUR", Channel: "Paid Search", Location: "web", Campaign: "brand_search_de", Refunded: 2000, UserID: "wc-58", Email: "lena.vogel@example.de"},
			// organic: google with WooCommerce's source type organic.
			"4131": {Revenue: 561, Currency: "EUR", Channel: "Organic Search", Location: "web", Campaign: "(none)", Email: "jonas.brandt@example.com"},
		}
		got := orders(t, db)
		if !equalOrders(got, want) {
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Fatalf("orders %v:\n got %+v\nwant %+v", keys, got, want)
		}
	})
}

// TestWebhooksAfterErasure: once a buyer is erased, the shop's repeated deliveries about
// them store nothing, and the connector's own tables never held their identifiers.
func TestWebhooksAfterErasure(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		src, _, secret, err := connect.Create(ctx, db, "shop", connect.KindShopify, "")
		if err != nil {
			t.Fatal(err)
		}
		h := newHookServer(t, db)
		h.shopify(src, secret, "orders/create", "order-web-utm.json", "e1")
		h.shopify(src, secret, "customers/update", "customer-update.json", "e2")
		identitytest.CatchUp(t, db)
		if _, err := privacy.Erase(ctx, db, privacy.Query{Email: "maya.chen@example.com"}, privacy.EraseOptions{Actor: "test", Reason: "asked"}); err != nil {
			t.Fatal(err)
		}
		before := counts(t, db)
		for _, s := range []struct{ topic, file string }{
			{"orders/updated", "order-web-utm.json"},
			{"customers/update", "customer-update.json"},
			{"refunds/create", "refund.json"},
		} {
			r := h.shopify(src, secret, s.topic, s.file, "after-"+s.file)
			if r.Events != 0 {
				t.Errorf("%s after the erasure stored %d events (%s)", s.topic, r.Events, r.Outcome)
			}
		}
		after := counts(t, db)
		if after[0] != before[0] {
			t.Fatalf("events %d → %d after the erasure", before[0], after[0])
		}
		for _, q := range []string{`SELECT COUNT(*) FROM connector_orders WHERE order_id LIKE '%maya%' OR total LIKE '%maya%'`,
			`SELECT COUNT(*) FROM connector_deliveries WHERE outcome LIKE '%maya%' OR outcome LIKE '%7390218739890%'`,
			`SELECT COUNT(*) FROM rejected_events WHERE body LIKE '%maya%'`} {
			var n int
			if err := db.QueryRow(ctx, q).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: %d %v", q, n, err)
			}
		}
	})
}
