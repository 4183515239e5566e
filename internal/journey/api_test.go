package journey

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// testRoutes mounts the journey routes the way the API route table does (reads need
// read_reports, changes edit_journeys, decisions read_personal); the table itself, in
// internal/cli/apiroutes.go, is tested with every role by TestAPIRoles.
func testRoutes(h http.Handler) []api.Route {
	var out []api.Route
	for _, p := range []string{"GET /api/v1/journeys", "POST /api/v1/journeys", "POST /api/v1/journeys/validate", "GET /api/v1/journeys/templates",
		"GET /api/v1/journeys/policy", "PUT /api/v1/journeys/policy", "GET /api/v1/journeys/{name}", "POST /api/v1/journeys/{name}/enable",
		"POST /api/v1/journeys/{name}/disable", "GET /api/v1/journeys/{name}/report", "GET /api/v1/journeys/{name}/decisions"} {
		perm := auth.PermEditJourneys
		switch {
		case strings.HasSuffix(p, "/decisions"):
			perm = auth.PermReadPersonal
		case strings.HasPrefix(p, "GET "):
			perm = auth.PermReadReports
		}
		out = append(out, api.Route{Pattern: p, Perm: perm, Handler: h})
	}
	return out
}

// TestJourneyAPI drives the journeys API behind the token check: a read token lists and
// reads, only a write token applies and disables; bad documents and parameters say why.
func TestJourneyAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		router, err := api.NewRouter(db, testRoutes(NewAPIHandler(db)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(router)
		defer srv.Close()
		_, read, err := api.CreateToken(ctx, db, "dashboard")
		if err != nil {
			t.Fatal(err)
		}
		_, write, err := api.CreateScopedToken(ctx, db, "ops", api.ScopeWrite)
		if err != nil {
			t.Fatal(err)
		}
		call := func(tok, method, path, body string) (int, string) {
			t.Helper()
			req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, _ := call("", "GET", "/api/v1/journeys", ""); code != 401 {
			t.Errorf("no token: %d", code)
		}
		if code, body := call(read, "GET", "/api/v1/journeys", ""); code != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("empty list: %d %s", code, body)
		}
		// A read token cannot apply.
		if code, body := call(read, "POST", "/api/v1/journeys?template=abandoned-cart", ""); code != 403 || !strings.Contains(body, "may not change journeys") {
			t.Errorf("apply with a read token: %d %s", code, body)
		}
		code, body := call(write, "POST", "/api/v1/journeys?template=abandoned-cart", "")
		var applied Applied
		if code != 201 || json.Unmarshal([]byte(body), &applied) != nil || applied.Name != "abandoned-cart" || applied.Version != 1 || !applied.Changed {
			t.Fatalf("apply template: %d %s", code, body)
		}
		// Applying the same document again is a no-op: 200, not a new version.
		if code, body := call(write, "POST", "/api/v1/journeys?template=abandoned-cart", ""); code != 200 || !strings.Contains(body, `"changed": false`) {
			t.Errorf("re-apply: %d %s", code, body)
		}
		doc := "name: thanks\nentry: {event: Order Completed, key: order_id}\nsteps:\n  - wait: 2d\n  - email: {subject: Thanks, text: Thanks for your order}\n"
		if code, body := call(write, "POST", "/api/v1/journeys", doc); code != 201 || !strings.Contains(body, `"version": 1`) {
			t.Errorf("apply document: %d %s", code, body)
		}
		// A bad document: 400 naming the field; nothing stored.
		code, body = call(write, "POST", "/api/v1/journeys", "name: broken\nentry: {event: X}\nsteps:\n  - wait: soon\n")
		if code != 400 || !strings.Contains(body, "steps[0].wait") {
			t.Errorf("bad document: %d %s", code, body)
		}
		if code, body := call(write, "POST", "/api/v1/journeys/validate", doc); code != 200 || !strings.Contains(body, "wait 2d") {
			t.Errorf("validate: %d %s", code, body)
		}
		if code, body := call(write, "POST", "/api/v1/journeys", ""); code != 400 || !strings.Contains(body, "empty body") {
			t.Errorf("empty body: %d %s", code, body)
		}
		if code, body := call(write, "POST", "/api/v1/journeys?template=nope", ""); code != 404 {
			t.Errorf("unknown template: %d %s", code, body)
		}
		var list []Summary
		code, body = call(read, "GET", "/api/v1/journeys", "")
		if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 2 {
			t.Fatalf("list: %d %s", code, body)
		}
		if code, body := call(read, "GET", "/api/v1/journeys/abandoned-cart", ""); code != 200 || !strings.Contains(body, "wait-for-order") {
			t.Errorf("show: %d %s", code, body)
		}
		if code, _ := call(read, "GET", "/api/v1/journeys/nope", ""); code != 404 {
			t.Errorf("show unknown: %d", code)
		}
		if code, body := call(read, "GET", "/api/v1/journeys/templates", ""); code != 200 || !strings.Contains(body, `"win-back"`) {
			t.Errorf("templates: %d %s", code, body)
		}
		if code, body := call(read, "GET", "/api/v1/journeys/abandoned-cart/report?from=2026-03-01&to=2026-03-31&cost=email=1&window=3d", ""); code != 200 || !strings.Contains(body, `"runs": "reached a message"`) || !strings.Contains(body, `"window": "3d"`) {
			t.Errorf("report: %d %s", code, body)
		}
		for _, q := range []string{"from=2026-13-01", "window=soon", "cost=email", "all_runs=maybe", "from=2026-03-31&to=2026-03-01"} {
			if code, body := call(read, "GET", "/api/v1/journeys/abandoned-cart/report?"+q, ""); code != 400 || !strings.Contains(body, "error") {
				t.Errorf("report ?%s: %d %s", q, code, body)
			}
		}
		if code, _ := call(read, "GET", "/api/v1/journeys/nope/report", ""); code != 404 {
			t.Errorf("report of an unknown journey: %d", code)
		}
		if code, body := call(read, "GET", "/api/v1/journeys/abandoned-cart/decisions?limit=5", ""); code != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("decisions: %d %s", code, body)
		}
		// The workspace policy: read with any token, replaced with a write token.
		pol := "frequency_caps:\n  email: {max: 2, per: 7d, over: skip}\nquiet_hours: {from: \"21:00\", to: \"08:00\"}\ntimezone: Europe/Berlin\n"
		if code, _ := call(read, "PUT", "/api/v1/journeys/policy", pol); code != 403 {
			t.Errorf("policy with a read token: %d", code)
		}
		if code, body := call(write, "PUT", "/api/v1/journeys/policy", pol); code != 200 || !strings.Contains(body, "Europe/Berlin") {
			t.Errorf("put policy: %d %s", code, body)
		}
		if code, body := call(read, "GET", "/api/v1/journeys/policy", ""); code != 200 || !strings.Contains(body, "Europe/Berlin") || !strings.Contains(body, `"max": 2`) {
			t.Errorf("get policy: %d %s", code, body)
		}
		if code, body := call(write, "PUT", "/api/v1/journeys/policy", "quiet_hours: {from: late}\n"); code != 400 {
			t.Errorf("bad policy: %d %s", code, body)
		}
		if code, body := call(write, "POST", "/api/v1/journeys", "name: policy\nentry: {event: X}\nsteps:\n  - wait: 1d\n"); code != 400 || !strings.Contains(body, "reserved") {
			t.Errorf("reserved name: %d %s", code, body)
		}
		if code, _ := call(read, "POST", "/api/v1/journeys/thanks/disable", ""); code != 403 {
			t.Errorf("disable with a read token: %d", code)
		}
		if code, body := call(write, "POST", "/api/v1/journeys/thanks/disable", ""); code != 200 || !strings.Contains(body, `"enabled": false`) {
			t.Errorf("disable: %d %s", code, body)
		}
		l, err := List(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l {
			if s.Name == "thanks" && s.Enabled {
				t.Error("thanks still enabled after disable")
			}
		}
		// Latest is List without the run counts.
		lt, err := Latest(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if len(lt) != len(l) || len(l) == 0 {
			t.Fatalf("Latest: %d journeys, List: %d", len(lt), len(l))
		}
		for i := range l {
			want := l[i]
			want.Active, want.Total, want.Sent = 0, 0, 0
			if lt[i] != want {
				t.Errorf("Latest[%d] = %+v, want %+v", i, lt[i], want)
			}
		}
	})
}

// TestPolicyReloads: an engine without a fixed policy picks up a saved workspace policy
// when it next reloads its plans, without a restart.
func TestPolicyReloads(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := t.Context()
	eng, err := NewEngine(ctx, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q := eng.quietFor(&Plan{}); q != nil {
		t.Fatalf("quiet hours before any policy: %+v", q)
	}
	if err := SavePolicy(ctx, db, WorkspacePolicy{Quiet: &Quiet{From: 21 * 60, To: 8 * 60}, Timezone: "Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	if err := eng.loadPlans(ctx); err != nil {
		t.Fatal(err)
	}
	if q := eng.quietFor(&Plan{}); q != nil {
		t.Fatalf("policy reloaded before 30 s: %+v", q)
	}
	eng.mu.Lock()
	eng.policyAt = time.Time{} // 30 s later
	eng.mu.Unlock()
	if err := eng.loadPlans(ctx); err != nil {
		t.Fatal(err)
	}
	if q := eng.quietFor(&Plan{}); q == nil || q.From != 21*60 {
		t.Fatalf("quiet hours after the reload: %+v", q)
	}
}
