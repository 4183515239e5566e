package attribution_test

// The attribution service as the JSON API serves it (api.AttributionHandler), on the
// fixtures of package attribution.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	. "github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func handler(db *store.DB) http.Handler { return api.AttributionHandler(NewService(db)) }

func get(t *testing.T, h http.Handler, url string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %v: %s", url, rec.Code, err, rec.Body.String())
	}
	return rec, body
}

func TestHTTPHandler(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ROIFixture(t, db)
		h := handler(db)

		rec, body := get(t, h, "/api/v1/attribution/models")
		models, _ := body["models"].([]any)
		if rec.Code != 200 || len(models) != len(ModelNames) || !strings.Contains(rec.Body.String(), ModelConventions["markov"]) {
			t.Fatalf("models: %d %s", rec.Code, rec.Body.String())
		}

		url := "/api/v1/attribution?model=all&from=2026-03-01&to=2026-03-03&lookback=30d"
		rec, body = get(t, h, url)
		if rec.Code != 200 || rec.Header().Get("X-Cache") != "miss" {
			t.Fatalf("attribution: %d %q %s", rec.Code, rec.Header().Get("X-Cache"), rec.Body.String())
		}
		results, _ := body["results"].([]any)
		if len(results) != len(ModelNames) {
			t.Fatalf("%d results", len(results))
		}
		byModel := map[string]map[string]any{}
		for _, r := range results {
			m := r.(map[string]any)
			byModel[m["model"].(string)] = m
		}
		if byModel["markov"]["details"].(map[string]any)["removal_effects"] == nil ||
			byModel["shapley_cr"]["details"].(map[string]any)["shapley_values"] == nil ||
			byModel["last_touch"]["convention"] != ModelConventions["last_touch"] ||
			byModel["last_touch"]["total_conversions"].(float64) != 3 {
			t.Errorf("results %s", rec.Body.String())
		}
		if j := body["journeys"].(map[string]any); j["conversions"].(float64) != 3 || j["null_journeys"].(float64) != 1 {
			t.Errorf("journeys %v", j)
		}
		first := rec.Body.String()

		// Same query, parameters in another order: served from the cache.
		rec, _ = get(t, h, "/api/v1/attribution?lookback=30d&to=2026-03-03&from=2026-03-01&model=all")
		if rec.Header().Get("X-Cache") != "hit" || rec.Body.String() != first {
			t.Errorf("second request: %q", rec.Header().Get("X-Cache"))
		}
		// Processing a new event invalidates it.
		AdvanceCursor(t, db, 9000)
		if rec, _ = get(t, h, url); rec.Header().Get("X-Cache") != "miss" {
			t.Errorf("after a new event: %q", rec.Header().Get("X-Cache"))
		}
		// So does a spend import.
		AddSpend(t, db, "2026-03-02", "Email", "extra", 100)
		if rec, _ = get(t, h, url); rec.Header().Get("X-Cache") != "miss" {
			t.Errorf("after new spend: %q", rec.Header().Get("X-Cache"))
		}

		rec, body = get(t, h, "/api/v1/roi?model=last_touch&from=2026-03-01&to=2026-03-03")
		cur, _ := body["current"].(map[string]any)
		if rec.Code != 200 || cur == nil || cur["spend_minor"].(float64) != 8600 || body["previous"] == nil || body["convention"] == "" {
			t.Errorf("roi: %d %s", rec.Code, rec.Body.String())
		}

		for _, bad := range []string{
			"/api/v1/attribution?model=nope",
			"/api/v1/attribution?from=yesterday",
			"/api/v1/attribution?from=2026-03-03&to=2026-03-01",
			"/api/v1/attribution?lookback=-3d",
			"/api/v1/attribution?model=custom&weights=1,x",
			"/api/v1/roi?model=all",
		} {
			rec, body := get(t, h, bad)
			if rec.Code != http.StatusBadRequest || body["error"] == "" {
				t.Errorf("%s: %d %s", bad, rec.Code, rec.Body.String())
			}
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/attribution", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", rec.Code)
		}
	})
}

// Identical concurrent requests share one computation and get the same answer.
func TestHTTPConcurrent(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ROIFixture(t, db)
	h := handler(db)
	const n = 6
	bodies := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/roi?from=2026-03-01&to=2026-03-03", nil))
			bodies[i], codes[i] = rec.Body.String(), rec.Code
		})
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 200 || bodies[i] != bodies[0] {
			t.Fatalf("request %d: %d", i, codes[i])
		}
	}
}

// TestStoredImpossibleRowsIgnored: rows an older version derived from impossible events (a
// touch and an order dated 0001-01-01, an order in 9999, an order of math.MaxInt64 cents)
// must not fail or stretch the all-time attribution, ROI and default range.
func TestStoredImpossibleRowsIgnored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ROIFixture(t, db)
		h := handler(db)
		url := "/api/v1/attribution?model=all&lookback=30d"
		rec, before := get(t, h, url)
		if rec.Code != 200 {
			t.Fatalf("all time: %d %s", rec.Code, rec.Body)
		}
		AddImpossibleRows(t, db)

		rec, after := get(t, handler(db), url)
		if rec.Code != 200 {
			t.Fatalf("all time with impossible rows: %d %s", rec.Code, rec.Body)
		}
		jb, ja := before["journeys"].(map[string]any), after["journeys"].(map[string]any)
		if ja["conversions"].(float64) != jb["conversions"].(float64)+1 { // the MaxInt64 order is real-dated
			t.Fatalf("conversions %v → %v", jb["conversions"], ja["conversions"])
		}
		for _, r := range after["results"].([]any) {
			m := r.(map[string]any)
			if v, _ := m["total_value"].(float64); v < 0 {
				t.Errorf("%s: negative total value %v", m["model"], v)
			}
		}
		from, to, err := DefaultROIRange(t.Context(), db)
		if err != nil || to.Year() > time.Now().Year()+1 || from.Year() < 1990 {
			t.Fatalf("default ROI range %v to %v (%v)", from, to, err)
		}
	})
}
