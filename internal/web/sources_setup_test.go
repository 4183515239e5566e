package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// upload posts a file to the Sources page's upload form as a browser does (multipart).
func upload(t testing.TB, c *http.Client, base, csrf string, fields map[string]string, name string, content []byte) (*http.Response, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("csrf", csrf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/sources/upload", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func readTestdata(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var textareaRE = func(id string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)<textarea id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</textarea>`)
}

// TestSourcesSetup: the Sources page gives a new website source its snippets with the new
// key, a shop connector its webhook URL and secret (to owners and admins only), and
// imports uploaded files with the CLI's importers, showing the same row errors.
func TestSourcesSetup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := newTestServer(t, db, Options{})
		c, csrf := ts.loggedIn(t)

		// A website source: the three snippets carry its new key and this server's URL.
		resp, body := postForm(t, c, ts.URL+"/sources", url.Values{"csrf": {csrf}, "name": {"web shop"}, "kind": {"client"}}, nil)
		m := newKeyRE.FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("create: %d\n%.1500s", resp.StatusCode, body)
		}
		src, err := db.SourceByName(ctx, "web shop")
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{
			fmt.Sprintf("snippet-%d", src.ID): collect.Snippet(ts.URL, m[1]),
			fmt.Sprintf("npm-%d", src.ID):     collect.NPMSnippet(ts.URL, m[1]),
			fmt.Sprintf("pixel-%d", src.ID):   collect.ShopifyPixel(ts.URL, m[1]),
		} {
			got := textareaRE(id).FindStringSubmatch(body)
			if got == nil || html.UnescapeString(got[1]) != want {
				t.Fatalf("%s: got %v\nwant %s", id, got, want)
			}
		}
		// Later visits cannot show the key (it is stored hashed): the snippets say where it goes.
		_, body = get(t, c, ts.URL+"/sources")
		if got := textareaRE(fmt.Sprintf("snippet-%d", src.ID)).FindStringSubmatch(body); got == nil || !strings.Contains(got[1], `a._writeKey = &#34;WRITE_KEY&#34;`) {
			t.Fatalf("snippet on a later visit: %v", got)
		}

		// A Shopify connector made with Shopify's signing key.
		const shopifyKey = "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"
		resp, body = postForm(t, c, ts.URL+"/sources", url.Values{"csrf": {csrf}, "name": {"crumb and crust"}, "kind": {"shopify"}, "webhook_secret": {shopifyKey}}, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `id="connector-created"`) {
			t.Fatalf("create connector: %d\n%.2000s", resp.StatusCode, body)
		}
		conn, err := db.SourceByName(ctx, "crumb and crust")
		if err != nil || conn.Kind != "shopify" {
			t.Fatalf("connector source: %+v %v", conn, err)
		}
		hookURL := fmt.Sprintf(`value="%s/hooks/shopify/%d"`, ts.URL, conn.ID)
		if !strings.Contains(body, hookURL) || !strings.Contains(body, `value="`+shopifyKey+`"`) {
			t.Fatalf("connector page lacks %s or the secret\n%s", hookURL, body)
		}
		// Replacing the secret.
		resp, body = postForm(t, c, fmt.Sprintf("%s/sources/%d/secret", ts.URL, conn.ID), url.Values{"csrf": {csrf}, "secret": {"short"}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 16 characters") {
			t.Fatalf("short secret: %d", resp.StatusCode)
		}
		if s, _ := connect.Secret(ctx, db, conn.ID); s != shopifyKey {
			t.Fatalf("a refused secret replaced the key: %q", s)
		}
		// A marketer sees the sources, the snippets (with the placeholder), not the secret.
		if _, err := auth.CreateUserRole(ctx, db, "mark@example.com", testPassword, auth.RoleMarketer); err != nil {
			t.Fatal(err)
		}
		mc := ts.client(t)
		ts.login(t, mc, "mark@example.com", testPassword)
		_, mpage := get(t, mc, ts.URL+"/sources")
		if strings.Contains(mpage, shopifyKey) || strings.Contains(mpage, "/hooks/shopify/") || strings.Contains(mpage, `action="/sources/upload"`) || !strings.Contains(mpage, "Connect a website") {
			t.Fatalf("marketer's Sources page shows connector secrets or the upload form")
		}

		// Uploads: a Shopify export, as `omniroi import orders FILE --preset shopify`.
		resp, body = upload(t, c, ts.URL, csrf, map[string]string{"kind": "orders", "preset": "shopify"}, "orders_export.csv",
			readTestdata(t, "../importer/testdata/shopify_orders_export.csv"))
		if resp.StatusCode != 200 || !strings.Contains(body, `id="upload-result"`) || !strings.Contains(body, "orders_export.csv: 9 rows, ") {
			t.Fatalf("upload: %d\n%s", resp.StatusCode, body)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events e JOIN sources s ON s.id = e.source_id WHERE s.name = 'import' AND e.name = 'Order Completed'`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("no order events after the upload: %d %v", n, err)
		}
		// A bad file: nothing imported, each bad row named by line and column, as the CLI does.
		before := countEvents(t, db)
		resp, body = upload(t, c, ts.URL, csrf, map[string]string{"kind": "orders"}, "orders_bad.csv", readTestdata(t, "../importer/testdata/orders_bad.csv"))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="upload-errors"`) {
			t.Fatalf("bad upload: %d\n%s", resp.StatusCode, body)
		}
		for _, want := range []string{
			`<td class="num">3</td><td>total</td><td>&#34;12,3x&#34; is not a number</td>`,
			`<td class="num">4</td><td>timestamp</td>`,
			`<td class="num">5</td><td>currency</td>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("bad upload page lacks %s", want)
			}
		}
		if countEvents(t, db) != before {
			t.Fatal("a rejected file stored events")
		}
		// Exchange rates.
		resp, body = upload(t, c, ts.URL, csrf, map[string]string{"kind": "fx"}, "eurofxref-hist.csv", readTestdata(t, "../importer/testdata/fx/eurofxref-hist.csv"))
		if resp.StatusCode != 200 || !strings.Contains(body, "eurofxref-hist.csv: 6 rows, 180 imported") {
			t.Fatalf("fx upload: %d\n%s", resp.StatusCode, body)
		}
		if sum, err := commerce.RateSummary(ctx, db); err != nil || len(sum) != 30 {
			t.Fatalf("rates after upload: %d %v", len(sum), err)
		}
		// Over the size limit: refused before anything is read into the importer.
		resp, body = upload(t, c, ts.URL, csrf, map[string]string{"kind": "orders"}, "huge.csv", bytes.Repeat([]byte("x"), MaxUploadBytes+2<<20))
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "omniroi import") {
			t.Fatalf("huge upload: %d\n%.500s", resp.StatusCode, body)
		}
	})
}

func countEvents(t testing.TB, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
