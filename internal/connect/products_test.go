package connect_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// catalogueRows dumps the catalogue (products and stock) without the update times.
func catalogueRows(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rows, err := db.Query(ctx, `SELECT product_id, parent_id, sku, title, category, brand, price_minor, cost_minor, currency, url, image_url, availability, replenishable
		FROM catalogue_products ORDER BY product_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, sku, title, cat, brand, cur, url, img, avail string
		var price, cost, repl int64
		if err := rows.Scan(&id, &parent, &sku, &title, &cat, &brand, &price, &cost, &cur, &url, &img, &avail, &repl); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%d|%d|%s|%s|%s|%s|%d\n", id, parent, sku, title, cat, brand, price, cost, cur, url, img, avail, repl)
	}
	rows.Close()
	rows, err = db.Query(ctx, `SELECT product_id, location, quantity FROM catalogue_stock ORDER BY product_id, location`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, loc string
		var q int64
		if err := rows.Scan(&id, &loc, &q); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "stock %s@%s=%d\n", id, loc, q)
	}
	return b.String()
}

func availabilityOf(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	var a string
	if err := db.QueryRow(context.Background(), `SELECT availability FROM catalogue_products WHERE product_id = ?`, id).Scan(&a); err != nil {
		t.Fatalf("product %s: %v", id, err)
	}
	return a
}

// TestShopifyProductWebhooks: products/create stores the product, its variants and their
// stock exactly as `omniroi import products --preset shopify` stores the same product from
// the products export; products/update changes prices and stock; products/delete marks the
// product and its variants out of stock; a delivery with a bad signature changes nothing.
func TestShopifyProductWebhooks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for k, v := range map[string]string{"currency": "EUR", "shop_url": "https://crumbandcrust.example"} {
			if _, err := workspace.Set(ctx, db, "test", k, v); err != nil {
				t.Fatal(err)
			}
		}
		src, _, secret, err := connect.Create(ctx, db, "crumb and crust", connect.KindShopify, "")
		if err != nil {
			t.Fatal(err)
		}
		h := newHookServer(t, db)

		body := fixture(t, "shopify/product-create.json")
		for _, sig := range []string{"", connect.Sign(body, "another-secret-0123456789"), connect.Sign(append(body, ' '), secret)} {
			if code, _ := h.post(src, body, map[string]string{"X-Shopify-Topic": "products/create", "X-Shopify-Hmac-Sha256": sig}); code != http.StatusUnauthorized {
				t.Fatalf("signature %q: status %d, want 401", sig, code)
			}
		}
		if got := catalogueRows(t, db); got != "" {
			t.Fatalf("a refused delivery changed the catalogue:\n%s", got)
		}

		// The same product from the products export, imported into a store of its own.
		ref := storetest.SQLite(t)
		for k, v := range map[string]string{"currency": "EUR", "shop_url": "https://crumbandcrust.example"} {
			if _, err := workspace.Set(ctx, ref, "test", k, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := importer.Import(ctx, ref, bytes.NewReader(fixture(t, "shopify/products-export.csv")), "products_export.csv",
			importer.Options{Kind: importer.KindProducts, Preset: importer.PresetShopify}); err != nil {
			t.Fatal(err)
		}
		want := catalogueRows(t, ref)

		r := h.shopify(src, secret, "products/create", "product-create.json", "d-create")
		if !strings.Contains(r.Outcome, "product sourdough-loaf") {
			t.Fatalf("create: %+v", r)
		}
		got := catalogueRows(t, db)
		t.Logf("catalogue after products/create:\n%s", got)
		if got != want {
			t.Fatalf("the webhook stored\n%s\nthe export import stores\n%s", got, want)
		}
		for _, s := range []string{"sourdough-loaf|||Sourdough Loaf|Bread|Crumb & Crust|360|", "sourdough-loaf/SD-WHOLE|sourdough-loaf|SD-WHOLE|Sourdough Loaf (Whole)|Bread|Crumb & Crust|650|0|EUR|https://crumbandcrust.example/products/sourdough-loaf|https://cdn.shopify.com/s/files/1/0005/4838/0009/products/sourdough.jpg?v=1709910944|in_stock",
			"sourdough-half.jpg?v=1709910944|out_of_stock", "stock sourdough-loaf/SD-WHOLE@web=24", "stock sourdough-loaf/SD-HALF@web=0"} {
			if !strings.Contains(got, s) {
				t.Errorf("catalogue lacks %q:\n%s", s, got)
			}
		}

		// A repeated delivery changes nothing; an update moves price and stock.
		if r := h.shopify(src, secret, "products/create", "product-create.json", "d-create-again"); !strings.Contains(r.Outcome, "unchanged") {
			t.Errorf("repeated create: %+v", r)
		}
		h.shopify(src, secret, "products/update", "product-update.json", "d-update")
		got = catalogueRows(t, db)
		for _, s := range []string{"Sourdough Loaf (Whole)|Bread|Crumb & Crust|690|", "stock sourdough-loaf/SD-WHOLE@web=0", "stock sourdough-loaf/SD-HALF@web=15"} {
			if !strings.Contains(got, s) {
				t.Errorf("after the update the catalogue lacks %q:\n%s", s, got)
			}
		}
		if a := availabilityOf(t, db, "sourdough-loaf/SD-WHOLE"); a != "out_of_stock" {
			t.Errorf("the sold-out variant is %s", a)
		}
		if a := availabilityOf(t, db, "sourdough-loaf/SD-HALF"); a != "in_stock" {
			t.Errorf("the restocked variant is %s", a)
		}

		// Deleted: kept, out of stock with its variants.
		r = h.shopify(src, secret, "products/delete", "product-delete.json", "d-delete")
		if !strings.Contains(r.Outcome, "deleted: 2 catalogue rows") {
			t.Errorf("delete: %+v", r)
		}
		for _, id := range []string{"sourdough-loaf", "sourdough-loaf/SD-WHOLE", "sourdough-loaf/SD-HALF"} {
			if a := availabilityOf(t, db, id); a != "out_of_stock" {
				t.Errorf("after the delete %s is %s", id, a)
			}
		}
		// Product webhooks add no events.
		if c := counts(t, db); c[0] != 0 || c[1] != 0 || c[2] != 4 {
			t.Errorf("events, rejected, deliveries = %v, want [0 0 4]", c)
		}
	})
}

// TestWooCommerceProductWebhooks: product.created stores the product under WooCommerce's
// product id (the id its orders' line items carry), with price, category, image, link and
// stock; product.updated follows stock and price; product.deleted marks it out of stock; a
// bad signature is refused.
func TestWooCommerceProductWebhooks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := workspace.Set(ctx, db, "test", "currency", "EUR"); err != nil {
			t.Fatal(err)
		}
		src, _, secret, err := connect.Create(ctx, db, "brotzeit", connect.KindWooCommerce, "")
		if err != nil {
			t.Fatal(err)
		}
		h := newHookServer(t, db)
		wc := func(topic, file, sig string) (int, connect.Result) {
			body := fixture(t, "woocommerce/"+file)
			if sig == "" {
				sig = connect.Sign(body, secret)
			}
			return h.post(src, body, map[string]string{
				"User-Agent":               "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)",
				"X-WC-Webhook-Source":      "https://brotzeit-shop.de/",
				"X-WC-Webhook-Topic":       topic,
				"X-WC-Webhook-Resource":    "product",
				"X-WC-Webhook-Event":       strings.TrimPrefix(topic, "product."),
				"X-WC-Webhook-Signature":   sig,
				"X-WC-Webhook-ID":          "4",
				"X-WC-Webhook-Delivery-ID": "c1d2e3f4a5b60718293a4b5c6d7e8f90-" + topic,
			})
		}
		if code, _ := wc("product.created", "product-created.json", connect.Sign([]byte("{}"), secret)); code != http.StatusUnauthorized {
			t.Fatalf("bad signature: %d", code)
		}
		if got := catalogueRows(t, db); got != "" {
			t.Fatalf("a refused delivery changed the catalogue:\n%s", got)
		}
		if code, r := wc("product.created", "product-created.json", ""); code != http.StatusOK || !strings.Contains(r.Outcome, "product 799") {
			t.Fatalf("created: %d %+v", code, r)
		}
		want := "799||RB-1000|Roggenbrot|Brot||490|0|EUR|https://brotzeit-shop.de/produkt/roggenbrot/|https://brotzeit-shop.de/wp-content/uploads/2024/03/roggenbrot.jpg|in_stock|0\nstock 799@web=12\n"
		if got := catalogueRows(t, db); got != want {
			t.Fatalf("after product.created:\n%s\nwant\n%s", got, want)
		}
		wc("product.updated", "product-updated.json", "")
		want = "799||RB-1000|Roggenbrot|Brot||520|0|EUR|https://brotzeit-shop.de/produkt/roggenbrot/|https://brotzeit-shop.de/wp-content/uploads/2024/03/roggenbrot.jpg|out_of_stock|0\nstock 799@web=0\n"
		if got := catalogueRows(t, db); got != want {
			t.Fatalf("after product.updated:\n%s\nwant\n%s", got, want)
		}
		// Back in stock, then deleted.
		wc("product.created", "product-created.json", "")
		if code, r := wc("product.deleted", "product-deleted.json", ""); code != http.StatusOK || !strings.Contains(r.Outcome, "deleted: 1 catalogue rows") {
			t.Fatalf("deleted: %d %+v", code, r)
		}
		if a := availabilityOf(t, db, "799"); a != "out_of_stock" {
			t.Errorf("after product.deleted: %s", a)
		}
	})
}
