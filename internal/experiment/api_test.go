package experiment_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestExperimentAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, read, err := api.CreateScopedToken(ctx, db, "dash", api.ScopeRead)
		if err != nil {
			t.Fatal(err)
		}
		_, write, err := api.CreateScopedToken(ctx, db, "ops", api.ScopeWrite)
		if err != nil {
			t.Fatal(err)
		}
		// The routes as the API's route table declares them (internal/cli/apiroutes.go).
		ex := experiment.NewAPIHandler(db, nil)
		router, err := api.NewRouter(db, []api.Route{
			{Pattern: "GET /api/v1/experiments", Perm: auth.PermReadReports, Handler: ex},
			{Pattern: "POST /api/v1/experiments", Perm: auth.PermEditJourneys, Handler: ex},
			{Pattern: "GET /api/v1/experiments/{name}", Perm: auth.PermReadReports, Handler: ex},
			{Pattern: "GET /api/v1/experiments/{name}/report", Perm: auth.PermReadReports, Handler: ex},
			{Pattern: "POST /api/v1/experiments/{name}/start", Perm: auth.PermEditJourneys, Handler: ex},
			{Pattern: "POST /api/v1/experiments/{name}/stop", Perm: auth.PermEditJourneys, Handler: ex},
		})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(router)
		defer ts.Close()
		do := func(method, path, token, body string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		doc := `{"name":"hero","hypothesis":"warmer words","unit":"anonymous","variants":[{"key":"control","weight":1},{"key":"b","name":"Warm","weight":1}],"metric":"conversion","guardrails":["revenue"]}`
		for _, c := range []struct {
			method, path, token, body string
			code                      int
			want                      string
		}{
			{"GET", "/api/v1/experiments", "", "", 401, "missing API token"},
			{"POST", "/api/v1/experiments", read, doc, 403, "analyst role"},
			{"POST", "/api/v1/experiments", write, `{"name":"x","variants":[]`, 400, "experiment JSON"},
			{"POST", "/api/v1/experiments", write, `{"name":"x","colour":"red"}`, 400, `unknown field \"colour`},
			{"POST", "/api/v1/experiments", write, `{"name":"x","variants":[{"key":"a","weight":1}],"metric":"revenue"}`, 400, "at least two variants"},
			{"POST", "/api/v1/experiments", write, doc, 201, `"status": "draft"`},
			{"POST", "/api/v1/experiments", write, doc, 400, "exists already"},
			{"GET", "/api/v1/experiments", read, "", 200, `"name": "hero"`},
			{"GET", "/api/v1/experiments/hero", read, "", 200, `"plan_error": "not enough history to plan`},
			{"GET", "/api/v1/experiments/nope", read, "", 404, "no such experiment"},
			{"GET", "/api/v1/experiments/hero/report", read, "", 400, "has not started"},
			{"POST", "/api/v1/experiments/hero/start", read, "", 403, "analyst role"},
			{"POST", "/api/v1/experiments/hero/start", write, "", 200, `"status": "running"`},
			{"POST", "/api/v1/experiments/hero/start", write, "", 400, "only a draft can start"},
			{"GET", "/api/v1/experiments/hero/report", read, "", 200, `"verdict": "not enough data yet`},
			{"POST", "/api/v1/experiments/hero/stop", write, "", 200, `"status": "stopped"`},
			{"GET", "/api/v1/experiments/hero/other", read, "", 404, "no such API endpoint"},
		} {
			code, body := do(c.method, c.path, c.token, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Errorf("%s %s: %d %s\nwant %d containing %q", c.method, c.path, code, body, c.code, c.want)
			}
		}
		_, body := do("GET", "/api/v1/experiments/hero/report", read, "")
		var rep experiment.Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("report JSON: %v", err)
		}
		if rep.Experiment.Variants[1].Name != "Warm" || rep.Primary.Label != "conversion" || len(rep.Guardrails) != 1 {
			t.Fatalf("report %+v", rep)
		}
		entries, _ := audit.List(ctx, db, audit.Filter{Action: "experiment."})
		if len(entries) != 3 {
			t.Fatalf("audit entries %+v", entries)
		}
		for _, e := range entries {
			if e.Actor != "token:ops" {
				t.Errorf("audit actor %q, want token:ops", e.Actor)
			}
		}
	})
}
