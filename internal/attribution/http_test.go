package attribution

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

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
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		roiFixture(t, db)
		h := NewHTTPHandler(db)

		rec, body := get(t, h, "/api/v1/attribution/models")
		models, _ := body["models"].([]any)
		if rec.Code != 200 || len(models) != len(ModelNames) || !strings.Contains(rec.Body.String(), conventions["markov"]) {
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
			byModel["last_touch"]["convention"] != conventions["last_touch"] ||
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
		// A new event invalidates it.
		newFixture(t, db).event(9000, jt0, "Home", `{}`)
		if rec, _ = get(t, h, url); rec.Header().Get("X-Cache") != "miss" {
			t.Errorf("after a new event: %q", rec.Header().Get("X-Cache"))
		}
		// So does a spend import.
		newFixture(t, db).spend("2026-03-02", "Email", "extra", 100)
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

func TestCompareGroundTruth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ground_truth.json")
	// True incremental conversions 30 / 10 (shares 0.75 / 0.25), revenue 600 / 600 (0.5 / 0.5).
	gt := `{"currency":"EUR","channels":{
		"Email":{"incremental_conversions":30,"incremental_revenue_minor":600},
		"Paid Search":{"incremental_conversions":10,"incremental_revenue_minor":600}}}`
	if err := os.WriteFile(path, []byte(gt), 0o644); err != nil {
		t.Fatal(err)
	}
	// The model gives Email 20, Paid Search 20 (shares 0.5 / 0.5) and 100 to Direct, which
	// the truth does not list; revenue 4.00 / 12.00 EUR (shares 0.25 / 0.75).
	res := []Result{{Model: "m", ByChannel: []Credit{
		{Key: "Direct", Conversions: 100, Value: 50},
		{Key: "Email", Conversions: 20, Value: 4},
		{Key: "Paid Search", Conversions: 20, Value: 12},
	}}}
	rep, err := CompareGroundTruth(res, path)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Models[0]
	if len(m.Channels) != 2 || !approx(m.ShareMAE, 0.25) || !approx(m.RevenueMAE, 0.25) || !approx(m.ConversionsMAE, 10) {
		t.Fatalf("%+v", m)
	}
	e := m.Channels[0]
	if e.Channel != "Email" || !approx(e.TrueShare, 0.75) || !approx(e.ModelShare, 0.5) || !approx(e.ShareError, -0.25) ||
		!approx(e.CreditRatio, 20.0/30) || !approx(e.ModelRevenueMinor, 400) {
		t.Errorf("Email %+v", e)
	}
	var buf strings.Builder
	if err := rep.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "25.0 pp") || !strings.Contains(buf.String(), "75.0%") {
		t.Errorf("table %v:\n%s", err, buf.String())
	}
	if _, err := CompareGroundTruth(res, filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
	os.WriteFile(path, []byte(`{"channels":{}}`), 0o644)
	if _, err := CompareGroundTruth(res, path); err == nil {
		t.Error("file without channels accepted")
	}
}

func TestParseHelpers(t *testing.T) {
	for in, want := range map[string]string{"30d": "720h0m0s", "1.5d": "36h0m0s", "12h": "12h0m0s", "30m": "30m0s"} {
		if d, err := ParseDuration(in); err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "0", "abc"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	if d, err := ParseDate("2026-03-01"); err != nil || !d.Equal(jt0) {
		t.Errorf("ParseDate: %v %v", d, err)
	}
	if w, err := ParseWeights("0.4, 0.2,0.4"); err != nil || len(w) != 3 || w[1] != 0.2 {
		t.Errorf("ParseWeights: %v %v", w, err)
	}
	if _, err := ParseWeights("0,0"); err == nil {
		t.Error("all-zero weights accepted")
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * time.Minute: "30m", 720 * time.Hour: "30d", 36 * time.Hour: "36h", 90 * time.Second: "1m30s", 2*time.Hour + 30*time.Minute: "2h30m"} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

// Identical concurrent requests share one computation and get the same answer.
func TestHTTPConcurrent(t *testing.T) {
	db := storetest.SQLite(t)
	roiFixture(t, db)
	h := NewHTTPHandler(db)
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
