package web

import (
	"context"
	"encoding/json"
	"github.com/omniroi/omniroi/internal/attribution"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/quality"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestSettingsEdit changes settings through the page: a refused value comes back in words
// next to its field with what was typed, a good one is stored, audited under the user,
// and the reports use it at once.
func TestSettingsEdit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, csrf := ts.loggedIn(t)
		resp, body := get(t, c, ts.URL+"/settings")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-setting="currency"`) || !strings.Contains(body, "Margins and message costs") {
			t.Fatalf("settings page: %d\n%.800s", resp.StatusCode, body)
		}
		resp, body = postForm(t, c, ts.URL+"/settings", url.Values{"csrf": {csrf}, "key": {"currency"}, "value": {"dollars"}, "action": {"set"}}, nil)
		body = html.UnescapeString(body)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `setting currency: currency "DOLLARS" is not a 3-letter ISO 4217 code`) ||
			!strings.Contains(body, `value="dollars" aria-invalid="true"`) {
			t.Fatalf("bad currency: %d\n%s", resp.StatusCode, body)
		}
		if v, set, _ := db.Setting(context.Background(), "currency"); set {
			t.Fatalf("a refused value was stored: %q", v)
		}
		resp, body = postForm(t, c, ts.URL+"/settings", url.Values{"csrf": {csrf}, "key": {"currency"}, "value": {"usd"}, "action": {"set"}}, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "currency is now USD") {
			t.Fatalf("set currency: %d\n%.800s", resp.StatusCode, body)
		}
		es, err := audit.List(context.Background(), db, audit.Filter{Action: "settings.set"})
		if err != nil || len(es) != 1 || es[0].Actor != audit.UserActor(testEmail) || es[0].Target != "setting:currency" {
			t.Fatalf("audit: %+v %v", es, err)
		}
		_, body = get(t, c, ts.URL+"/?format=json")
		var ov struct {
			Currency string `json:"currency"`
		}
		if err := json.Unmarshal([]byte(body), &ov); err != nil || ov.Currency != "USD" {
			t.Fatalf("overview after the change: %v %.300s", err, body)
		}
		// Reset brings the default back.
		resp, body = postForm(t, c, ts.URL+"/settings", url.Values{"csrf": {csrf}, "key": {"currency"}, "action": {"reset"}}, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "back to its default") {
			t.Fatalf("reset: %d\n%.500s", resp.StatusCode, body)
		}
		if _, set, _ := db.Setting(context.Background(), "currency"); set {
			t.Fatal("reset left the setting")
		}
		// An unknown key is refused in words.
		resp, body = postForm(t, c, ts.URL+"/settings", url.Values{"csrf": {csrf}, "key": {"no.such"}, "value": {"1"}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "There is no setting called") {
			t.Fatalf("unknown key: %d\n%.500s", resp.StatusCode, body)
		}
	})
}

// TestSettingsChangeRecomputes: a cached analysis is not served across a settings change
// (a stale one is, across new data).
func TestSettingsChangeRecomputes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _, err := newServer(db, Options{noWarm: true})
		if err != nil {
			t.Fatal(err)
		}
		v1, err := s.dataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "timezone", "America/New_York"); err != nil {
			t.Fatal(err)
		}
		v2, err := s.dataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v1 == v2 || sameSettings(v1, v2) {
			t.Fatalf("versions %q and %q: a time zone change must change the settings part", v1, v2)
		}
		// Internal state in the settings table (the processor's cursor) is not a setting.
		if err := db.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, "identity.cursor.test", "5") }); err != nil {
			t.Fatal(err)
		}
		v3, _ := s.dataVersion(ctx)
		if !sameSettings(v2, v3) {
			t.Fatalf("an internal key changed the settings version: %q, %q", v2, v3)
		}
		c := newComputeCache(time.Second)
		c.minAge = time.Hour
		builds := 0
		fill := func(context.Context) (int, error) { builds++; return builds, nil }
		if v, _, _, err := computed(c, "k", "d1"+settingsSep+"a", fill); err != nil || v != 1 {
			t.Fatalf("first build: %v %v", v, err)
		}
		// New data, same settings: the older value is served while young.
		if v, _, stale, _ := computed(c, "k", "d2"+settingsSep+"a", fill); v != 1 || !stale {
			t.Fatalf("new data: got %v stale=%v, want the old value, stale", v, stale)
		}
		// Other settings: rebuilt, never the old value.
		if v, _, stale, _ := computed(c, "k", "d1"+settingsSep+"b", fill); v != 2 || stale {
			t.Fatalf("new settings: got %v stale=%v, want a rebuild", v, stale)
		}
	})
}

// TestCoverageBanner: the fixture's March orders are half untracked (an in-store order,
// a direct one): the Overview's JSON carries the coverage, the ROI and attribution pages
// show the banner, and the headline names no best channel. With a margin set, the ROI
// table gains POAS.
func TestCoverageBanner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		_, body := get(t, c, ts.URL+"/?format=json")
		var ov struct {
			Coverage quality.Coverage               `json:"coverage"`
			Tables   map[string][]map[string]string `json:"tables"`
		}
		if err := json.Unmarshal([]byte(body), &ov); err != nil {
			t.Fatal(err)
		}
		if m := ov.Coverage.Marketing; m.Part != 2 || m.Total != 4 || !ov.Coverage.Low {
			t.Fatalf("coverage = %+v, want 2 of 4 orders with marketing data, low", ov.Coverage)
		}
		if ov.Coverage.Identified.Total != 3 || ov.Coverage.Rejected != 1 {
			t.Errorf("coverage = %+v", ov.Coverage)
		}
		for _, path := range []string{"/", "/attribution", "/paths"} {
			_, page := get(t, c, ts.URL+path)
			if !strings.Contains(page, `id="coverage-banner"`) || !strings.Contains(page, "50 % of orders carry no marketing data") {
				t.Errorf("%s: no coverage banner", path)
			}
		}
		_, page := get(t, c, ts.URL+"/?view=credit")
		if strings.Contains(page, "Most credit per unit of spend") || !strings.Contains(page, `id="no-best"`) {
			t.Errorf("the overview names a best channel on half-tracked data")
		}
		for _, row := range ov.Tables["channel-roi"] {
			if _, has := row["POAS (profit ÷ spend)"]; has {
				t.Errorf("POAS without a margin: %v", row)
			}
		}
		if _, page := get(t, c, ts.URL+"/attribution"); strings.Contains(page, "POAS") {
			t.Errorf("attribution: POAS without a margin")
		}
		_, page = get(t, c, ts.URL+"/sources")
		if !strings.Contains(page, "Data coverage in this period") || !strings.Contains(page, "50 % (2 of 4)") {
			t.Errorf("sources: no coverage panel")
		}

		if _, err := workspace.Set(context.Background(), db, audit.ActorCLI, "margin.default", "40"); err != nil {
			t.Fatal(err)
		}
		_, body = get(t, c, ts.URL+"/?format=json")
		ov.Tables = nil
		if err := json.Unmarshal([]byte(body), &ov); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, row := range ov.Tables["channel-roi"] {
			roas, poas := row["ROAS"], row["POAS (profit ÷ spend)"]
			if roas == "" {
				continue
			}
			found = true
			var r, p float64
			if err := json.Unmarshal([]byte(roas), &r); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(poas), &p); err != nil {
				t.Fatalf("POAS %q: %v", poas, err)
			}
			if d := p - 0.4*r; d > 1e-3 || d < -1e-3 {
				t.Errorf("%s: POAS %v, want 40 %% of ROAS %v", row["Channel"], p, r)
			}
		}
		if !found {
			t.Fatalf("no channel with ROAS: %v", ov.Tables["channel-roi"])
		}
		// The Attribution page shows the same POAS, under every model.
		var at struct {
			Tables map[string][]map[string]string `json:"tables"`
		}
		_, body = get(t, c, ts.URL+"/attribution?format=json")
		if err := json.Unmarshal([]byte(body), &at); err != nil {
			t.Fatal(err)
		}
		roasRows, poasRows := at.Tables["roas-by-model"], at.Tables["poas-by-model"]
		if len(roasRows) == 0 || len(poasRows) != len(roasRows) {
			t.Fatalf("attribution: ROAS rows %v, POAS rows %v", roasRows, poasRows)
		}
		checked := 0
		for i, row := range roasRows {
			for col, roas := range row {
				if col == "Channel" || col == "Spend" || roas == "" {
					continue
				}
				poas := poasRows[i]["POAS, "+col]
				var r, p float64
				if err := json.Unmarshal([]byte(roas), &r); err != nil {
					continue
				}
				if err := json.Unmarshal([]byte(poas), &p); err != nil {
					t.Fatalf("attribution POAS %s %q: %v (row %v)", col, poas, err, poasRows[i])
				}
				if d := p - 0.4*r; d > 1e-3 || d < -1e-3 {
					t.Errorf("attribution %s %s: POAS %v, want 40 %% of ROAS %v", row["Channel"], col, p, r)
				}
				checked++
			}
		}
		if checked == 0 {
			t.Errorf("attribution: no POAS compared: %v / %v", roasRows, poasRows)
		}
	})
}

// TestBestSupported: a best channel is named only beyond the noise of the attributed
// orders, with enough tracked orders, and with something to compare it with.
func TestBestSupported(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	good := quality.Coverage{}
	a := &attribution.ROIRow{Channel: "Paid Search", ROAS: f(4), Conversions: 200}
	b := &attribution.ROIRow{Channel: "Paid Social", ROAS: f(2), Conversions: 150}
	if ok, why := bestSupported(good, a, b); !ok {
		t.Errorf("4.0 on 200 orders vs 2.0 on 150: %s", why)
	}
	if ok, _ := bestSupported(good, &attribution.ROIRow{Channel: "A", ROAS: f(4), Conversions: 3}, &attribution.ROIRow{Channel: "B", ROAS: f(2), Conversions: 2}); ok {
		t.Error("4.0 on 3 orders vs 2.0 on 2 named a best")
	}
	if ok, _ := bestSupported(quality.Coverage{Low: true}, a, b); ok {
		t.Error("low coverage named a best")
	}
	if ok, _ := bestSupported(good, a, nil); ok {
		t.Error("one channel named a best")
	}
	if ok, _ := bestSupported(good, &attribution.ROIRow{Channel: "Cross-network", ROAS: f(0)}, nil); ok {
		t.Error("ROAS 0.00 named a best")
	}
}
