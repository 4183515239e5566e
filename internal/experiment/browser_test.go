package experiment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// Segment's analytics.js build that the collection API's browser test loads.
const ajsBundle = "../collect/testdata/analytics-next/analytics-next-1.84.3.umd.js"

// TestScriptInBrowser loads a shop page from one origin with the experiments script from
// omniroi on another, in headless Chromium: the script must fetch the visitor's variant,
// show it and hide the others, and send "Experiment Viewed" — through analytics.js when
// the page has it, straight to /v1/track when not — so that the report counts the visitor
// in the variant the server assigned.
func TestScriptInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browsertest.Need(t)
	for _, mode := range []string{"direct", "analytics.js"} {
		t.Run(mode, func(t *testing.T) { runScript(t, mode) })
	}
}

func runScript(t *testing.T, mode string) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	_, key, err := db.CreateSource(ctx, "bakery site")
	if err != nil {
		t.Fatal(err)
	}
	e := mustCreate(t, db, "hero", experiment.UnitAnonymous, "control=1,b=1")
	if _, err := experiment.Start(ctx, db, audit.ActorCLI, "hero", time.Now().Add(-time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(db, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	experiment.NewServer(db, experiment.ServeOptions{}).Register(srv.Mux)
	api := httptest.NewServer(srv.Mux)
	defer api.Close()
	defer srv.Close(context.Background())

	var loader string
	if mode == "analytics.js" {
		loader = fmt.Sprintf(`<script src="/analytics.js"></script>
<script>
AnalyticsNext.AnalyticsBrowser.load({writeKey: %q, cdnURL: %q}).then(([a]) => {
  window.analytics = a;
  const s = document.createElement("script");
  s.src = %q; s.dataset.writeKey = %q;
  document.body.appendChild(s);
});
</script>`, key, api.URL, api.URL+"/v1/experiments.js", key)
	} else {
		loader = fmt.Sprintf(`<script src="%s/v1/experiments.js" data-write-key="%s" async></script>`, api.URL, key)
	}
	page := `<!doctype html><html><head><title>Bakery</title></head><body>
<h1 id="c" data-omniroi-experiment="hero" data-variant="control">Fresh bread daily</h1>
<h1 id="b" data-omniroi-experiment="hero" data-variant="b" hidden>Baked at 5 am, on your table by 8</h1>
` + loader + `</body></html>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, page)
		case "/analytics.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, ajsBundle)
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()

	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, cctx, t.TempDir(), 1280, 900)
	bctx := br.Ctx

	visit := func() (anon string, shown [2]bool) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(site.URL+"/")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`!!window.omniroiExperiments`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("the script did not load: %v", err)
		}
		applied, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.omniroiExperiments.ready.then(a => JSON.stringify({a, error: window.omniroiExperiments.error || ""}))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			A     []experiment.Assignment `json:"a"`
			Error string                  `json:"error"`
		}
		if err := json.Unmarshal([]byte(applied), &got); err != nil || got.Error != "" || len(got.A) != 1 {
			t.Fatalf("applied %s (%v)", applied, err)
		}
		idJS := `localStorage.getItem("omniroi_anonymous_id")`
		if mode == "analytics.js" {
			idJS = `window.analytics.user().anonymousId()`
		}
		anon, err = chromedp.Run(bctx, chromedp.Evaluate[string](idJS))
		if err != nil || anon == "" {
			t.Fatalf("anonymous id %q: %v", anon, err)
		}
		if want := e.Variants[e.Assign(anon)].Key; got.A[0].Variation != want {
			t.Fatalf("browser applied %q, the server assigns %q to %s", got.A[0].Variation, want, anon)
		}
		vis, err := chromedp.Run(bctx, chromedp.Evaluate[[]bool](`["c","b"].map(id => !document.getElementById(id).hidden)`))
		if err != nil {
			t.Fatal(err)
		}
		return anon, [2]bool{vis[0], vis[1]}
	}
	anon, shown := visit()
	arm := e.Assign(anon)
	if shown[arm] != true || shown[1-arm] != false {
		t.Fatalf("visitor %s in %s sees control=%v b=%v", anon, e.Variants[arm].Key, shown[0], shown[1])
	}
	// A second visit: same id, same variant, a second exposure event.
	again, shown2 := visit()
	if again != anon || shown2 != shown {
		t.Fatalf("second visit: %s %v, first %s %v", again, shown2, anon, shown)
	}

	// The exposures arrive in the log as Segment track events from the right library.
	library := "omniroi-experiments.js"
	if mode == "analytics.js" {
		library = "analytics.js"
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		bodies := exposures(t, db, anon)
		if len(bodies) == 2 {
			for _, b := range bodies {
				if !strings.Contains(b, `"experiment_id":"hero"`) || !strings.Contains(b, `"variation_id":"`+e.Variants[arm].Key+`"`) ||
					!strings.Contains(b, `"library":{"name":"`+library+`"`) {
					t.Fatalf("exposure event %s", b)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d exposure events stored for %s, want 2", len(bodies), anon)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The report counts the visitor once, in the assigned variant.
	identitytest.CatchUp(t, db)
	r, err := experiment.BuildReport(ctx, db, "hero", experiment.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Units != 1 || r.Primary.Result.Variants[arm].N != 1 || r.Crossovers != 0 {
		t.Fatalf("report: %d units, %+v", r.Units, r.Primary.Result.Variants)
	}
	for _, m := range br.Messages() {
		if m.Type != chromedp.ConsoleWarning {
			t.Errorf("browser console: %s", m)
		}
	}
}

func exposures(t *testing.T, db *store.DB, anon string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT body FROM events WHERE name = ? AND anonymous_id = ?`, experiment.ExposureEvent, anon)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
