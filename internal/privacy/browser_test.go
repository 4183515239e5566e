package privacy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestAnalyticsJSConsent runs Segment's analytics.js in headless Chromium with a source
// middleware that stamps context.consent the way Segment's consent tools do
// (createConsentStampingMiddleware): a visitor who declined analytics is stored without
// identifiers, and the consent change event keeps them, as the record of the choice.
func TestAnalyticsJSConsent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browsertest.Need(t)
	chromium := browsertest.Path()
	db := storetest.SQLite(t)
	ctx := context.Background()
	_, key, err := db.CreateSource(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	h := collect.NewHandler(db, collect.Options{})
	defer h.Close(ctx)
	api := httptest.NewServer(h)
	defer api.Close()
	page := fmt.Sprintf(`<!doctype html><html><body><div id="out">loading</div>
<script src="/analytics.js"></script>
<script>
(async () => {
  try {
    const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({writeKey: %q, cdnURL: %q});
    await analytics.addSourceMiddleware(({payload, next}) => {
      payload.obj.context.consent = {...payload.obj.context.consent,
        categoryPreferences: {Analytics: false, Advertising: true}};
      next(payload);
    });
    await analytics.identify("u-declined", {email: "declined@example.com"});
    await analytics.track("Product Viewed", {product_id: "rye"});
    await analytics.page("Home");
    await analytics.track(%q);
    document.getElementById("out").textContent = "sent";
  } catch (e) { document.getElementById("out").textContent = "error " + e; }
})();
</script></body></html>`, key, api.URL, consent.ChangeEvent)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, page)
		case "/analytics.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, "../collect/testdata/analytics-next/analytics-next-1.84.3.umd.js")
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=20000", "--dump-dom", site.URL+"/")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `<div id="out">sent</div>`) {
		t.Fatalf("analytics.js did not finish sending:\n%s", out)
	}
	rows, err := db.Query(ctx, `SELECT type, name, user_id, anonymous_id, body FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var typ, name, uid, aid, body string
		if err := rows.Scan(&typ, &name, &uid, &aid, &body); err != nil {
			t.Fatal(err)
		}
		who := "anonymous"
		if uid != "" || aid != "" {
			who = "identified"
		}
		got[typ+" "+name] = who
		if !strings.Contains(body, `"categoryPreferences":{"Analytics":false,"Advertising":true}`) {
			t.Errorf("%s %s: consent not stored with the event: %s", typ, name, body)
		}
		if strings.Contains(body, "declined@example.com") || strings.Contains(body, "userAgent") || who == "anonymous" && strings.Contains(body, "u-declined") {
			t.Errorf("%s %s stored with personal data: %s", typ, name, body)
		}
	}
	want := map[string]string{"identify ": "anonymous", "track Product Viewed": "anonymous", "page Home": "anonymous", "track " + consent.ChangeEvent: "identified"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}
