package connect_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkShopifyOrderWebhook: one signed orders/create delivery (a new order each time)
// through the real HTTP handler into SQLite: verify, convert, commit.
func BenchmarkShopifyOrderWebhook(b *testing.B) {
	db := storetest.SQLite(b)
	src, _, secret, err := connect.Create(context.Background(), db, "shop", connect.KindShopify, "")
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	connect.NewHandler(db, connect.Options{}).Register(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	tmpl := fixtureB(b, "shopify/order-web-utm.json")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body := bytes.Replace(tmpl, []byte(`"name": "#1001"`), []byte(fmt.Sprintf(`"name": "#B%d"`, i)), 1)
		body = bytes.Replace(body, []byte(`"id": 5821934518450`), []byte(fmt.Sprintf(`"id": %d`, 9000000+i)), 1)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+connect.WebhookPath(src), bytes.NewReader(body))
		req.Header.Set("X-Shopify-Topic", "orders/create")
		req.Header.Set("X-Shopify-Hmac-Sha256", connect.Sign(body, secret))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

func fixtureB(b *testing.B, path string) []byte {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		b.Fatal(err)
	}
	return body
}
