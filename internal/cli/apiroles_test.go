package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/mix"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/goals"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/workspace"
)

// apiScenario is what one API route must do (PocketBase's ApiScenario, per route): the
// request, the status and body for a token whose role has the permission.
type apiScenario struct {
	perm   auth.Permission // the permission the route must declare in apiRoutes
	method string          // default: the pattern's
	path   func(role auth.Role) string
	body   func(role auth.Role) string
	ok     int      // status for roles with the permission (default 200)
	has    []string // the body of an allowed request contains these
	// shown: text the body contains exactly when the token's role has perm.
	shown []struct {
		perm auth.Permission
		text string
	}
}

func at(p string) func(auth.Role) string { return func(auth.Role) string { return p } }

var apiScenarios = map[string]apiScenario{
	"GET /api/v1/stats":                {perm: auth.PermReadReports, path: at("/api/v1/stats"), has: []string{`"processor_lag"`}},
	"GET /api/v1/customers":            {perm: auth.PermReadPersonal, path: at("/api/v1/customers?q=cleo"), has: []string{"Cleo Baker"}},
	"GET /api/v1/customers/{id}":       {perm: auth.PermReadPersonal, path: at("/api/v1/customers/u1"), has: []string{"Cleo Baker", "cleo@shop.example"}},
	"GET /api/v1/customers/{id}/value": {perm: auth.PermReadPersonal, path: at("/api/v1/customers/100000/value"), has: []string{`"p_alive"`}},
	// Staff tokens (and every role that reads personal data) look up one customer at a time.
	"GET /api/v1/clienteling/search": {perm: auth.PermClienteling, path: at("/api/v1/clienteling/search?q=cleo"),
		has: []string{`"name": "Cleo Baker"`, `"email": "cleo@shop.example"`, `"more": false`}},
	"GET /api/v1/clienteling/customers/{id}": {perm: auth.PermClienteling, path: at("/api/v1/clienteling/customers/100000"),
		has: []string{`"customer_id": 100000`, `"name": "Person 0"`, `"consent"`, `"orders"`}},
	"GET /api/v1/attribution":        {perm: auth.PermReadReports, path: at("/api/v1/attribution?from=2025-01-01"), has: []string{`"last_touch"`}},
	"GET /api/v1/attribution/models": {perm: auth.PermReadReports, path: at("/api/v1/attribution/models"), has: []string{`"markov"`}},
	"GET /api/v1/roi":                {perm: auth.PermReadReports, path: at("/api/v1/roi?from=2025-01-01"), has: []string{`"channels"`}},
	"GET /api/v1/clv":                {perm: auth.PermReadPersonal, path: at("/api/v1/clv?limit=3"), has: []string{`"top_customers"`}},
	"GET /api/v1/segments":           {perm: auth.PermReadReports, path: at("/api/v1/segments"), has: []string{`"segments"`}},
	"GET /api/v1/cohorts":            {perm: auth.PermReadReports, path: at("/api/v1/cohorts"), has: []string{`"cohorts"`}},
	"GET /api/v1/economics":          {perm: auth.PermReadReports, path: at("/api/v1/economics"), has: []string{`"channels"`}},
	"GET /api/v1/journeys":           {perm: auth.PermReadReports, path: at("/api/v1/journeys"), has: []string{`"abandoned-cart"`}},
	// Each role applies a journey of its own, so that each apply is a new one (201).
	"POST /api/v1/journeys":          {perm: auth.PermEditJourneys, path: at("/api/v1/journeys"), body: cartDoc, ok: http.StatusCreated, has: []string{`"changed": true`}},
	"POST /api/v1/journeys/validate": {perm: auth.PermEditJourneys, path: at("/api/v1/journeys/validate"), body: cartDoc, has: []string{`"plan"`}},
	"GET /api/v1/journeys/templates": {perm: auth.PermReadReports, path: at("/api/v1/journeys/templates"), has: []string{"win-back"}},
	"GET /api/v1/journeys/policy":    {perm: auth.PermReadReports, path: at("/api/v1/journeys/policy")},
	"PUT /api/v1/journeys/policy": {perm: auth.PermEditJourneys, path: at("/api/v1/journeys/policy"),
		body: func(r auth.Role) string { return "timezone: Europe/Berlin\n" }, has: []string{"Europe/Berlin"}},
	// The plan and counts are for every reader; the decisions name customers.
	"GET /api/v1/journeys/{name}": {perm: auth.PermReadReports, path: at("/api/v1/journeys/abandoned-cart"), has: []string{`"steps"`},
		shown: []struct {
			perm auth.Permission
			text string
		}{{auth.PermReadPersonal, `"customer_id"`}}},
	"POST /api/v1/journeys/{name}/enable":   {perm: auth.PermEditJourneys, path: at("/api/v1/journeys/abandoned-cart/enable"), has: []string{`"enabled": true`}},
	"POST /api/v1/journeys/{name}/disable":  {perm: auth.PermEditJourneys, path: at("/api/v1/journeys/abandoned-cart/disable"), has: []string{`"enabled": false`}},
	"GET /api/v1/journeys/{name}/report":    {perm: auth.PermReadReports, path: at("/api/v1/journeys/abandoned-cart/report"), has: []string{`"holdout"`}},
	"GET /api/v1/journeys/{name}/decisions": {perm: auth.PermReadPersonal, path: at("/api/v1/journeys/abandoned-cart/decisions"), has: []string{`"customer_id": 100001`}},
	"GET /api/v1/audit":                     {perm: auth.PermReadAudit, path: at("/api/v1/audit?action=token&limit=2"), has: []string{`"token.add"`, `"next_before"`}},
	"GET /api/v1/privacy/export":            {perm: auth.PermPrivacy, path: at("/api/v1/privacy/export?user_id=u1"), has: []string{`"omniroi.privacy.export/1"`, "cleo@shop.example"}},

	"GET /api/v1/goals": {perm: auth.PermReadReports, path: at("/api/v1/goals"), has: []string{`"name": "spring revenue"`, `"probability"`, `"status"`}},
	// Each role adds and removes a goal of its own.
	"POST /api/v1/goals": {perm: auth.PermEditJourneys, path: at("/api/v1/goals"), ok: http.StatusCreated,
		body: func(r auth.Role) string {
			return `{"name":"goal-` + string(r) + `","metric":"orders","target":100,"from":"2026-01-01","by":"2026-12-31"}`
		}, has: []string{`"status"`, `"target": 100`}},
	"DELETE /api/v1/goals/{name}": {perm: auth.PermEditJourneys, path: func(r auth.Role) string { return "/api/v1/goals/goal-" + string(r) },
		has: []string{`"removed"`}},
	"GET /api/v1/goals/resilience": {perm: auth.PermReadReports, path: at("/api/v1/goals/resilience"), has: []string{`"diversification"`, `"benchmarks"`, "Mailchimp"}},
	"GET /api/v1/settings":         {perm: auth.PermReadReports, path: at("/api/v1/settings"), has: []string{`"name": "currency"`, `"name": "margin.default"`}},
	"GET /api/v1/settings/{key}":   {perm: auth.PermReadReports, path: at("/api/v1/settings/timezone"), has: []string{`"default": "UTC"`}},
	// Each role names the business after itself; the answer is the stored setting.
	"PUT /api/v1/settings/{key}": {perm: auth.PermSettings, path: at("/api/v1/settings/business_name"),
		body: func(r auth.Role) string { return `{"value": "Shop of ` + string(r) + `"}` }, has: []string{`"value": "Shop of`, `"set": true`}},
	// Each role erases an identifier of its own (no customer has it: the erasure still
	// runs, and suppresses it).
	"POST /api/v1/privacy/erase": {perm: auth.PermPrivacy, path: func(r auth.Role) string { return "/api/v1/privacy/erase?user_id=gone-" + string(r) },
		has: []string{`"erasure_id"`, `"identifiers_suppressed": 1`}},

	// The seeded shop has orders but no ad spend: the budget model answers 422 with the
	// reason in plain words (the fit itself is tested in internal/mix).
	"GET /api/v1/budget/fit": {perm: auth.PermReadReports, path: at("/api/v1/budget/fit"), ok: http.StatusUnprocessableEntity,
		has: []string{`"error"`, "spend"}},
	"GET /api/v1/budget/plan": {perm: auth.PermReadReports, path: at("/api/v1/budget/plan?total=1000"), ok: http.StatusUnprocessableEntity,
		has: []string{`"error"`, "spend"}},

	// "hero" is seeded and running; each role creates, starts and stops one of its own.
	"GET /api/v1/experiments": {perm: auth.PermReadReports, path: at("/api/v1/experiments"), has: []string{`"name": "hero"`, `"status": "running"`}},
	"POST /api/v1/experiments": {perm: auth.PermEditJourneys, path: at("/api/v1/experiments"), ok: http.StatusCreated,
		body: func(r auth.Role) string { return experimentDoc("exp-" + string(r)) }, has: []string{`"name": "exp-`, `"status": "draft"`}},
	"GET /api/v1/experiments/{name}":        {perm: auth.PermReadReports, path: at("/api/v1/experiments/hero"), has: []string{`"name": "hero"`, `"variants"`}},
	"GET /api/v1/experiments/{name}/report": {perm: auth.PermReadReports, path: at("/api/v1/experiments/hero/report"), has: []string{`"verdict"`, `"primary"`}},
	"POST /api/v1/experiments/{name}/start": {perm: auth.PermEditJourneys, path: func(r auth.Role) string { return "/api/v1/experiments/exp-" + string(r) + "/start" },
		has: []string{`"status": "running"`}},
	"POST /api/v1/experiments/{name}/stop": {perm: auth.PermEditJourneys, path: func(r auth.Role) string { return "/api/v1/experiments/exp-" + string(r) + "/stop" },
		has: []string{`"status": "stopped"`}},
}

// experimentDoc is a two-variant conversion test named name, as POST /api/v1/experiments reads it.
func experimentDoc(name string) string {
	return `{"name":"` + name + `","hypothesis":"warmer words","unit":"anonymous","variants":[{"key":"control","weight":1},{"key":"b","name":"Warm","weight":1}],"metric":"conversion","guardrails":["revenue"]}`
}

// cartDoc is the abandoned-cart template under a name of the role's own.
func cartDoc(r auth.Role) string {
	src, err := journey.TemplateSource("abandoned-cart")
	if err != nil {
		panic(err)
	}
	return strings.Replace(string(src), "name: abandoned-cart", "name: cart-"+string(r), 1)
}

// seedAPI loads a customer through the event pipeline and a population with a year of
// orders (for the value models), a journey and one of its decisions.
func seedAPI(t *testing.T, db *store.DB) {
	ctx := context.Background()
	identitytest.Load(t, db, "web", time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		`{"type":"page","anonymousId":"a1","timestamp":"2026-04-01T09:00:00Z","context":{"campaign":{"source":"google","medium":"cpc"}}}`,
		`{"type":"identify","anonymousId":"a1","userId":"u1","traits":{"name":"Cleo Baker","email":"cleo@shop.example"}}`,
		`{"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-04-01T10:00:00Z","properties":{"order_id":"o1","revenue":"9.90"}}`,
	)
	// Heterogeneous rates, dropout and spend, as the value models assume (value's own
	// store tests seed the same way): with one rate for everyone the fits degenerate.
	r := rand.New(rand.NewPCG(9, 9))
	base := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	err := db.Write(ctx, func(tx *store.Tx) error {
		seq := 1_000_000
		for c := range 300 {
			cust := 100000 + c
			if _, err := tx.Exec(ctx, `INSERT INTO customers (id, first_seen, last_seen, user_id, name, events) VALUES (?, ?, ?, ?, ?, 1)`,
				cust, base.UnixMilli(), base.UnixMilli(), fmt.Sprintf("pop-%d", c), fmt.Sprintf("Person %d", c)); err != nil {
				return err
			}
			day := float64(r.IntN(330))
			if c == 0 {
				day = 0
			}
			rate := []float64{1.0 / 5, 1.0 / 20, 1.0 / 60}[r.IntN(3)]
			drop := []float64{0.03, 0.15, 0.5}[r.IntN(3)]
			spend := []int64{800, 2000, 5000}[r.IntN(3)]
			for k := 0; day < 365; k++ {
				seq++
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', 'Direct', 1, ?)`,
					fmt.Sprintf("P-%d-%d", c, k), cust, base.Add(time.Duration(day*float64(24*time.Hour))).UnixMilli(), spend/2+r.Int64N(spend), seq); err != nil {
					return err
				}
				if r.Float64() < drop {
					break
				}
				day += r.ExpFloat64() / rate
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The order summaries the processor keeps, brought up to date with the orders above.
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { return commerce.RebuildSummaries(ctx, tx, loc) }); err != nil {
		t.Fatal(err)
	}
	if err := goals.Add(ctx, db, goals.Goal{Name: "spring revenue", Metric: goals.MetricRevenue, Target: 5_000_000, Currency: "EUR",
		From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), By: time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC)}, audit.ActorCLI); err != nil {
		t.Fatal(err)
	}
	src, err := journey.TemplateSource("abandoned-cart")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journey.Apply(ctx, db, src); err != nil {
		t.Fatal(err)
	}
	var hero experiment.Experiment
	if err := json.Unmarshal([]byte(experimentDoc("hero")), &hero); err != nil {
		t.Fatal(err)
	}
	if _, err := experiment.Create(ctx, db, audit.ActorCLI, hero); err != nil {
		t.Fatal(err)
	}
	if _, err := experiment.Start(ctx, db, audit.ActorCLI, "hero", base.AddDate(1, 0, 0), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO journey_decisions (run_id, step, kind, journey, customer_id, at, text) VALUES (1, 1, 'channel', 'abandoned-cart', 100001, ?, 'email: the only channel with consent')`,
		base.UnixMilli()); err != nil {
		t.Fatal(err)
	}
}

// TestAPIRoles calls every route of the API route table (apiRoutes) with a token of every
// role and without one: a role with the route's permission gets the answer (status,
// body), one without gets 403 naming the role it needs, no token gets 401. A route in the
// table without a scenario fails the test (and is still called for its 401 and 403), so
// every route's auth and response shape are checked here, in one place.
func TestAPIRoles(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := audit.WithActor(context.Background(), audit.ActorCLI)
		seedAPI(t, db)
		routes := apiRoutes(db, mix.NewService(db), attribution.NewService(db), value.NewService(db))
		router, err := api.NewRouter(db, routes)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(router)
		defer srv.Close()
		tokens := map[auth.Role]string{}
		for _, r := range auth.Roles {
			_, secret, err := api.CreateRoleToken(ctx, db, string(r), r)
			if err != nil {
				t.Fatal(err)
			}
			tokens[r] = secret
		}
		declared := map[string]bool{}
		for _, rt := range routes {
			declared[rt.Pattern] = true
		}
		for p := range apiScenarios {
			if !declared[p] {
				t.Errorf("a scenario for %s, which apiRoutes does not declare (renamed or removed?)", p)
			}
		}
		call := func(method, path, body, token string) (int, string) {
			req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		wild := regexp.MustCompile(`\{[^}]+\}`)
		for _, rt := range routes {
			sc, known := apiScenarios[rt.Pattern]
			if !known {
				t.Errorf("%s is in apiRoutes but has no scenario: add its request, status and response to apiScenarios", rt.Pattern)
			}
			if known && sc.perm != rt.Perm {
				t.Errorf("%s declares %q, its scenario expects %q: change both, on purpose", rt.Pattern, rt.Perm, sc.perm)
			}
			method, path, _ := strings.Cut(rt.Pattern, " ")
			path = wild.ReplaceAllString(path, "1")
			for _, role := range append([]auth.Role{""}, auth.Roles...) {
				p, body := path, ""
				if sc.path != nil {
					p = sc.path(role)
				}
				if sc.body != nil {
					body = sc.body(role)
				}
				name := fmt.Sprintf("%s with a %s token", rt.Pattern, role)
				code, out := call(method, p, body, tokens[role])
				switch {
				case role == "":
					if code != http.StatusUnauthorized || !strings.Contains(out, "missing API token") {
						t.Errorf("%s: %d %.200s, want 401", name, code, out)
					}
				case !role.Can(rt.Perm):
					if code != http.StatusForbidden || !strings.Contains(out, "role "+string(auth.LeastRole(rt.Perm))) {
						t.Errorf("%s: %d %.300s, want 403 naming the %s role", name, code, out, auth.LeastRole(rt.Perm))
					}
				case !known:
					// Reported once, above.
				default:
					want := sc.ok
					if want == 0 {
						want = http.StatusOK
					}
					if code != want {
						t.Errorf("%s: %d, want %d\n%.400s", name, code, want, out)
						continue
					}
					for _, h := range sc.has {
						if !strings.Contains(out, h) {
							t.Errorf("%s: body lacks %s\n%.400s", name, h, out)
						}
					}
					for _, sh := range sc.shown {
						if got, want := strings.Contains(out, sh.text), role.Can(sh.perm); got != want {
							t.Errorf("%s: shows %s = %v, want %v", name, sh.text, got, want)
						}
					}
				}
			}
		}

		// Clienteling through the API is audit-logged like the page: a search (without its
		// text) and a card view (the customer by number) per call of each allowed token.
		views, err := audit.List(ctx, db, audit.Filter{Action: "customer"})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range views {
			seen[e.Action+" by "+e.Actor+" "+e.Target]++
			if strings.Contains(fmt.Sprint(e.Detail), "cleo") {
				t.Errorf("an audit entry holds the search text: %+v", e)
			}
		}
		for _, r := range auth.Roles {
			want := 0
			if r.Can(auth.PermClienteling) {
				want = 1
			}
			if got := seen["customer.search by "+audit.TokenActor(string(r))+" "]; got != want {
				t.Errorf("customer.search by a %s token: recorded %d times, want %d", r, got, want)
			}
			if got := seen["customer.view by "+audit.TokenActor(string(r))+" customer:100000"]; got != want {
				t.Errorf("customer.view by a %s token: recorded %d times, want %d (%v)", r, got, want, seen)
			}
		}

		// Journey changes through the API are recorded with the token that made them.
		es, err := audit.List(ctx, db, audit.Filter{Action: "journey"})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range es {
			count[e.Action+" by "+e.Actor]++
		}
		for _, r := range auth.Roles {
			for _, a := range []string{"journey.apply", "journey.enable", "journey.disable", "journey.policy"} {
				want := 0
				if r.Can(auth.PermEditJourneys) {
					want = 1
				}
				if got := count[a+" by "+audit.TokenActor(string(r))]; got != want {
					t.Errorf("%s by a %s token: recorded %d times, want %d", a, r, got, want)
				}
			}
		}
	})
}
