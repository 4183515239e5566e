package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/goals"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// roleEnv is what a scenario's request builder may use.
type roleEnv struct {
	t    *testing.T
	db   *store.DB
	role auth.Role // "" for a visitor without a session
	anna int64     // a customer of the fixture
}

// shownIf is a text a page shows exactly to the roles with a permission.
type shownIf struct {
	perm auth.Permission
	text string
	html bool // a link or form: checked on the page, not in its JSON or CSV
}

// scenario is what one dashboard route must do (PocketBase's ApiScenario, per route): the
// request, the status and body for a role that may use the route, and the side effect
// that must not happen for a role that may not. A route without a scenario still gets
// every role: defaults below.
type scenario struct {
	// perm is the permission the route must declare: a change in the route table that
	// gives a route to other roles fails here until the scenario agrees.
	perm auth.Permission
	// req returns the path (with query) and, for POST, the form. Called once per role, so
	// a route that changes something gets a fresh target each time.
	req func(e *roleEnv) (string, url.Values)
	// ok is the status for roles with the permission (default 200); anon the status for a
	// visitor without a session on a public route (default ok).
	ok, anon int
	has      []string  // the body of an allowed request contains these
	shown    []shownIf // the body contains text exactly when the role has perm
	// also lists query strings (format=json, format=csv&table=...) requested too, with the
	// same status and shown checks.
	also []string
	// done reports, after the request, whether the route's change happened; it must
	// happen exactly for the roles with the permission.
	done func(e *roleEnv) bool
	// fresh logs in a client of its own for this route (log out ends the session).
	fresh bool
}

func fixed(path string) func(*roleEnv) (string, url.Values) {
	return func(*roleEnv) (string, url.Values) { return path, nil }
}

// roleEmail is the login of the test user with role r.
func roleEmail(r auth.Role) string { return string(r) + "@roles.example" }

func (e *roleEnv) tag() string {
	if e.role == "" {
		return "anon"
	}
	return string(e.role)
}

// fresh things for a scenario to act on, one per role.
func (e *roleEnv) newUser(kind string, r auth.Role) auth.User {
	u, err := auth.CreateUserRole(context.Background(), e.db, kind+"-"+e.tag()+"@target.example", "a long password", r)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *roleEnv) newInvite(kind string) (auth.Invite, string) {
	inv, tok, err := auth.CreateInvite(context.Background(), e.db, auth.CLIActing, kind+"-"+e.tag()+"@target.example", auth.RoleViewer, testNow)
	if err != nil {
		e.t.Fatal(err)
	}
	return inv, tok
}

// newExperiment stores an experiment kind-TAG, started when running, and returns its name.
func (e *roleEnv) newExperiment(kind string, running bool) string {
	ctx := context.Background()
	name := kind + "-" + e.tag()
	vs, _ := experiment.ParseVariants("control=50,b=50")
	if _, err := experiment.Create(ctx, e.db, audit.ActorCLI, experiment.Experiment{Name: name, Variants: vs, Metric: experiment.Metric{Kind: experiment.MetricRevenue}}); err != nil {
		e.t.Fatal(err)
	}
	if running {
		if _, err := experiment.Start(ctx, e.db, audit.ActorCLI, name, testNow.Add(-time.Hour), 0); err != nil {
			e.t.Fatal(err)
		}
	}
	return name
}

// newGoal stores a revenue goal kind-TAG and returns its name.
func (e *roleEnv) newGoal(kind string) string {
	name := kind + "-" + e.tag()
	g := goals.Goal{Name: name, Metric: goals.MetricRevenue, Target: 100000, Currency: "EUR",
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), By: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}
	if err := goals.Add(context.Background(), e.db, g, audit.ActorCLI); err != nil {
		e.t.Fatal(err)
	}
	return name
}

func (e *roleEnv) hasGoal(name string) bool {
	_, err := goals.Get(context.Background(), e.db, name)
	return err == nil
}

func (e *roleEnv) experimentStatus(name string) string {
	x, err := experiment.Get(context.Background(), e.db, name)
	if err != nil {
		return ""
	}
	return x.Status
}

// newCustomer adds a customer known by the userId kind-TAG and returns its id.
func (e *roleEnv) newCustomer(kind string) int64 {
	id := int64(500000)
	for i, r := range auth.Roles {
		if r == e.role {
			id += int64(i + 1) // one customer per role; the visitor's is 500000
		}
	}
	err := e.db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(context.Background(), `INSERT INTO customers (id, first_seen, last_seen, user_id, name) VALUES (?, 0, 0, ?, 'Erasable')`, id, kind+"-"+e.tag()); err != nil {
			return err
		}
		_, err := tx.Exec(context.Background(), `INSERT INTO identities (kind, value, customer_id, first_seen, seq) VALUES ('user_id', ?, ?, 0, 0)`, kind+"-"+e.tag(), id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *roleEnv) userRole(email string) auth.Role {
	u, err := auth.UserByEmail(context.Background(), e.db, email)
	if err != nil {
		return ""
	}
	return u.Role
}

// newJourney applies a copy of the welcome journey named kind-tag, on or off.
func (e *roleEnv) newJourney(kind string, on bool) string {
	ctx := context.Background()
	name := kind + "-" + e.tag()
	if _, fields, err := journey.ApplyTemplate(ctx, e.db, "welcome", map[string]string{"name": name}); err != nil || fields != nil {
		e.t.Fatal(fields, err)
	}
	if err := journey.SetEnabled(ctx, e.db, name, on); err != nil {
		e.t.Fatal(err)
	}
	return name
}

func (e *roleEnv) journeyEnabled(name string) bool {
	d, err := journey.Show(context.Background(), e.db, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Enabled
}

func (e *roleEnv) newToken(kind string) int64 {
	t, _, err := api.CreateRoleToken(context.Background(), e.db, kind+"-"+e.tag(), auth.RoleAnalyst)
	if err != nil {
		e.t.Fatal(err)
	}
	return t.ID
}

func (e *roleEnv) hasToken(name string) bool {
	ts, err := api.ListTokens(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (e *roleEnv) pendingInvite(email string) bool {
	is, err := auth.Invites(context.Background(), e.db, testNow)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, i := range is {
		if i.Email == email {
			return true
		}
	}
	return false
}

// dashboardScenarios: requests and checks for the routes of routes(), by pattern.
var dashboardScenarios = map[string]scenario{
	"GET /static/": {perm: permPublic, req: fixed("/static/app.css"), has: []string{"--accent"}},
	"GET /login":   {perm: permPublic, req: fixed("/login"), ok: http.StatusSeeOther, anon: http.StatusOK}, // logged in: on to the overview
	"POST /login": {perm: permPublic, req: func(*roleEnv) (string, url.Values) {
		return "/login", url.Values{"email": {"x@roles.example"}, "password": {"wrong password"}}
	}, ok: http.StatusForbidden, has: []string{"login form expired"}}, // no login CSRF cookie
	"GET /invite/{token}": {perm: permPublic, req: func(e *roleEnv) (string, url.Values) {
		_, tok := e.newInvite("open")
		return InvitePath + tok, nil
	}, has: []string{"You were invited", "open-"}},
	"POST /invite/{token}": {perm: permPublic, req: func(e *roleEnv) (string, url.Values) {
		_, tok := e.newInvite("accept")
		return InvitePath + tok, url.Values{"password": {"my new password"}, "password2": {"my new password"}}
	}, has: []string{"Your account is ready"}},
	"POST /logout": {perm: permSession, req: fixed("/logout"), ok: http.StatusSeeOther, fresh: true},

	"GET /{$}":         {perm: auth.PermReadReports, req: fixed("/"), has: []string{"Revenue"}, also: []string{"format=json"}},
	"GET /attribution": {perm: auth.PermReadReports, req: fixed("/attribution"), has: []string{"Attribution"}},
	"GET /paths":       {perm: auth.PermReadReports, req: fixed("/paths"), has: []string{"Paths"}},
	"GET /journeys":    {perm: auth.PermReadReports, req: fixed("/journeys?range=7d"), ok: http.StatusMovedPermanently},
	"GET /automations": {perm: auth.PermReadReports, req: fixed("/automations"), has: []string{"abandoned-cart"}},
	"GET /spend":       {perm: auth.PermReadReports, req: fixed("/spend"), has: []string{"Paid Search"}},
	// Journeys in the browser (automations_edit.go): marketers and above turn them on and
	// off, apply templates and set costs; roles that read personal data preview messages.
	"POST /automations/{name}/enable": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/automations/" + e.newJourney("on", false) + "/enable", nil
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return e.journeyEnabled("on-" + e.tag()) }},
	"POST /automations/{name}/disable": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/automations/" + e.newJourney("off", true) + "/disable", nil
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return !e.journeyEnabled("off-" + e.tag()) }},
	"POST /automations/{name}/costs": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/automations/" + e.newJourney("cost", true) + "/costs", url.Values{"cost:sms": {"0.07"}}
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool {
		c, err := journey.JourneyCosts(context.Background(), e.db, "cost-"+e.tag())
		if err != nil {
			e.t.Fatal(err)
		}
		return c["sms"] == "0.07"
	}},
	"GET /automations/{name}/preview": {perm: auth.PermReadPersonal, req: func(e *roleEnv) (string, url.Values) {
		return fmt.Sprintf("/automations/abandoned-cart/preview?step=2&customer=%d", e.anna), nil
	}, has: []string{"left something in your cart", "anna@example.com", `sandbox=""`}, also: []string{"format=json"}},
	"GET /automations/templates": {perm: auth.PermEditJourneys, req: fixed("/automations/templates?template=win-back"), has: []string{`name="holdout"`, `value="14d"`}},
	"POST /automations/templates": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/automations/templates", url.Values{"template": {"welcome"}, "name": {"welcome-" + e.tag()}, "holdout": {"15%"}}
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool {
		d, err := journey.Show(context.Background(), e.db, "welcome-"+e.tag())
		return err == nil && d.Plan.Holdout == 0.15
	}},
	// API tokens (tokens.go): owners and admins.
	"GET /tokens": {perm: auth.PermManageSources, req: func(e *roleEnv) (string, url.Values) {
		e.newToken("listed")
		return "/tokens", nil
	}, has: []string{"listed-", "New API token"}},
	"POST /tokens": {perm: auth.PermManageSources, req: func(e *roleEnv) (string, url.Values) {
		return "/tokens", url.Values{"name": {"new-" + e.tag()}, "role": {"viewer"}}
	}, has: []string{"shown <strong>only this once</strong>", "ot_"}, done: func(e *roleEnv) bool { return e.hasToken("new-" + e.tag()) }},
	"POST /tokens/{id}/revoke": {perm: auth.PermManageSources, req: func(e *roleEnv) (string, url.Values) {
		return fmt.Sprintf("/tokens/%d/revoke", e.newToken("revoke")), url.Values{"confirm": {"yes"}}
	}, has: []string{"was revoked"}, done: func(e *roleEnv) bool { return !e.hasToken("revoke-" + e.tag()) }},
	"GET /automations/{name}": {perm: auth.PermReadReports, req: fixed("/automations/abandoned-cart"), has: []string{"Latest sending decisions"}},
	"GET /customers": {perm: auth.PermReadPersonal, req: fixed("/customers?q=anna&range=all"), has: []string{"Anna Berger"},
		also: []string{"format=json", "format=csv"}},
	"GET /customers/{id}": {perm: auth.PermReadPersonal, req: func(e *roleEnv) (string, url.Values) { return fmt.Sprintf("/customers/%d", e.anna), nil },
		has: []string{"Anna Berger", "anna@example.com"}, also: []string{"format=json"},
		shown: []shownIf{{auth.PermPrivacy, "Erase this person", true}}},
	// A person's export and erasure (privacy.go): owners and admins only; the customer
	// page offers them to those roles alone.
	"GET /customers/{id}/export": {perm: auth.PermPrivacy, req: func(e *roleEnv) (string, url.Values) { return fmt.Sprintf("/customers/%d/export", e.anna), nil },
		has: []string{`"format": "omniroi.privacy.export/1"`, "anna@example.com"}},
	"GET /customers/{id}/erase": {perm: auth.PermPrivacy, req: func(e *roleEnv) (string, url.Values) { return fmt.Sprintf("/customers/%d/erase", e.anna), nil },
		has: []string{"Type the customer number"}},
	"POST /customers/{id}/erase": {perm: auth.PermPrivacy, req: func(e *roleEnv) (string, url.Values) {
		id := e.newCustomer("erase")
		return fmt.Sprintf("/customers/%d/erase", id), url.Values{"confirm": {fmt.Sprint(id)}}
	}, has: []string{"Erased"}, done: func(e *roleEnv) bool {
		var n int
		if err := e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM identities WHERE value = ?`, "erase-"+e.tag()).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		return n == 0
	}},
	// Clienteling (clienteling.go): staff and every role that reads personal data;
	// viewers do not. Many matches list; one match opens the card.
	"GET /clienteling": {perm: auth.PermClienteling, req: fixed("/clienteling?q=person"), has: []string{"Person ", "More customers match"},
		also: []string{"format=json"}},
	"GET /clienteling/{id}": {perm: auth.PermClienteling, req: func(e *roleEnv) (string, url.Values) { return fmt.Sprintf("/clienteling/%d", e.anna), nil },
		has: []string{"Anna Berger", "anna@example.com", "Recommend", "Personal recommendations"}, also: []string{"format=json"}},
	"GET /leads":           {perm: auth.PermReadPersonal, req: fixed("/leads"), has: []string{"have not bought yet"}},
	"GET /personalisation": {perm: auth.PermReadReports, req: fixed("/personalisation"), has: []string{"for you", "Never uses"}},
	// Viewers see the at-risk figures but not who the customers are.
	"GET /segments": {perm: auth.PermReadReports, req: fixed("/segments"), has: []string{"at-risk"},
		shown: []shownIf{{auth.PermReadPersonal, `href="/customers/`, true}, {auth.PermReadPersonal, "Person ", false}},
		also:  []string{"format=json", "format=csv&table=at-risk"}},
	"GET /sources": {perm: auth.PermReadReports, req: fixed("/sources?range=all"), has: []string{"web shop"},
		shown: []shownIf{{auth.PermReadPersonal, "yesterday", false}, {auth.PermManageSources, "Create source", true}},
		also:  []string{"format=json"}},
	"POST /sources": {perm: auth.PermManageSources, req: func(e *roleEnv) (string, url.Values) {
		return "/sources", url.Values{"name": {"src-" + e.tag()}}
	}, has: []string{"created"}, done: func(e *roleEnv) bool {
		srcs, err := e.db.Sources(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range srcs {
			if s.Name == "src-"+e.tag() {
				return true
			}
		}
		return false
	}},
	"POST /sources/{id}/secret": {perm: auth.PermManageSources, req: func(e *roleEnv) (string, url.Values) {
		src, _, _, err := connect.Create(context.Background(), e.db, "conn-"+e.tag(), connect.KindWooCommerce, "")
		if err != nil {
			e.t.Fatal(err)
		}
		return fmt.Sprintf("/sources/%d/secret", src.ID), url.Values{"secret": {"replaced-secret-" + e.tag() + "-0123456789"}}
	}, has: []string{"is replaced"}, done: func(e *roleEnv) bool {
		src, err := e.db.SourceByName(context.Background(), "conn-"+e.tag())
		if err != nil {
			e.t.Fatal(err)
		}
		got, err := connect.Secret(context.Background(), e.db, src.ID)
		return err == nil && got == "replaced-secret-"+e.tag()+"-0123456789"
	}},
	// A form without a file: the real uploads are in sources_upload_test.go and the browser test.
	"POST /sources/upload": {perm: auth.PermManageSources, req: func(e *roleEnv) (string, url.Values) {
		return "/sources/upload", url.Values{"kind": {"orders"}}
	}, ok: http.StatusUnprocessableEntity, has: []string{"Choose a file to upload."}},

	// Experiments (experiments.go): everyone who reads reports sees them; marketers and
	// above create, start and stop them.
	"GET /experiments": {perm: auth.PermReadReports, req: func(e *roleEnv) (string, url.Values) {
		e.newExperiment("listed", false)
		return "/experiments", nil
	}, has: []string{"listed-"}, shown: []shownIf{{auth.PermEditJourneys, "New experiment", true}}, also: []string{"format=json", "format=csv"}},
	"POST /experiments": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/experiments", url.Values{"name": {"new-" + e.tag()}, "variants": {"control=50,b=50"}, "metric": {"revenue"}, "unit": {"anonymous"}}
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return e.experimentStatus("new-"+e.tag()) == experiment.StatusDraft }},
	"GET /experiments/{name}": {perm: auth.PermReadReports, req: func(e *roleEnv) (string, url.Values) {
		return "/experiments/" + e.newExperiment("view", true), nil
	}, has: []string{"not enough data yet"}, shown: []shownIf{{auth.PermEditJourneys, `id="exp-stop"`, true}}},
	"POST /experiments/{name}/start": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/experiments/" + e.newExperiment("start", false) + "/start", nil
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return e.experimentStatus("start-"+e.tag()) == experiment.StatusRunning }},
	"POST /experiments/{name}/stop": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/experiments/" + e.newExperiment("stop", true) + "/stop", url.Values{"confirm": {"yes"}}
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return e.experimentStatus("stop-"+e.tag()) == experiment.StatusStopped }},

	// Goals (goals.go): everyone who reads reports sees them; marketers and above add and
	// remove them.
	"GET /goals": {perm: auth.PermReadReports, req: func(e *roleEnv) (string, url.Values) {
		e.newGoal("listed")
		return "/goals", nil
	}, has: []string{"listed-", "Industry benchmarks", "Mailchimp"}, shown: []shownIf{{auth.PermEditJourneys, "New goal", true}}, also: []string{"format=json", "format=csv&table=benchmarks"}},
	"POST /goals": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/goals", url.Values{"name": {"new-" + e.tag()}, "metric": {"orders"}, "target": {"100"}, "from": {"2026-01-01"}, "by": {"2026-12-31"}}
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return e.hasGoal("new-" + e.tag()) }},
	"POST /goals/{name}/remove": {perm: auth.PermEditJourneys, req: func(e *roleEnv) (string, url.Values) {
		return "/goals/" + e.newGoal("remove") + "/remove", nil
	}, ok: http.StatusSeeOther, done: func(e *roleEnv) bool { return !e.hasGoal("remove-" + e.tag()) }},

	"GET /users": {perm: auth.PermManageUsers, req: fixed("/users"), has: []string{"Invite someone", roleEmail(auth.RoleViewer)}},
	"POST /users/invite": {perm: auth.PermManageUsers, req: func(e *roleEnv) (string, url.Values) {
		return "/users/invite", url.Values{"email": {"new-" + e.tag() + "@target.example"}, "role": {"viewer"}}
	}, has: []string{InvitePath}, done: func(e *roleEnv) bool { return e.pendingInvite("new-" + e.tag() + "@target.example") }},
	"POST /users/{id}/role": {perm: auth.PermManageUsers, req: func(e *roleEnv) (string, url.Values) {
		u := e.newUser("role", auth.RoleMarketer)
		return fmt.Sprintf("/users/%d/role", u.ID), url.Values{"role": {"analyst"}}
	}, has: []string{"is now analyst"}, done: func(e *roleEnv) bool {
		return e.userRole("role-"+e.tag()+"@target.example") == auth.RoleAnalyst
	}},
	"POST /users/{id}/remove": {perm: auth.PermManageUsers, req: func(e *roleEnv) (string, url.Values) {
		u := e.newUser("remove", auth.RoleAnalyst)
		return fmt.Sprintf("/users/%d/remove", u.ID), url.Values{"confirm": {"yes"}}
	}, has: []string{"was removed"}, done: func(e *roleEnv) bool { return e.userRole("remove-"+e.tag()+"@target.example") == "" }},
	"POST /users/invites/{id}/revoke": {perm: auth.PermManageUsers, req: func(e *roleEnv) (string, url.Values) {
		inv, _ := e.newInvite("revoke")
		return fmt.Sprintf("/users/invites/%d/revoke", inv.ID), nil
	}, has: []string{"withdrawn"}, done: func(e *roleEnv) bool { return !e.pendingInvite("revoke-" + e.tag() + "@target.example") }},
	"GET /audit": {perm: auth.PermReadAudit, req: fixed("/audit"), has: []string{"Who did what", "user.invite"}, also: []string{"format=json", "action=user&format=csv"}},

	"GET /settings": {perm: auth.PermSettings, req: fixed("/settings"), has: []string{"business_name", "margin.default", "journeys.cost.sms", "Gross margin per product category"}, also: []string{"format=json"}},
	"POST /settings": {perm: auth.PermSettings, req: func(e *roleEnv) (string, url.Values) {
		return "/settings", url.Values{"key": {"business_name"}, "value": {"Shop of " + e.tag()}, "action": {"set"}}
	}, has: []string{"business_name is now Shop of"}, done: func(e *roleEnv) bool {
		v, _, _ := e.db.Setting(context.Background(), "business_name")
		return v == "Shop of "+e.tag()
	}},
	"POST /settings/margins": {perm: auth.PermSettings, req: func(e *roleEnv) (string, url.Values) {
		return "/settings/margins", url.Values{"margin:Cat-" + e.tag(): {"30"}}
	}, has: []string{"Margins per category are now"}, done: func(e *roleEnv) bool {
		v, _, _ := e.db.Setting(context.Background(), "margin.categories")
		return strings.Contains(v, "Cat-"+e.tag()+"=30")
	}},

	"/": {perm: permSession, req: fixed("/no-such-page"), ok: http.StatusNotFound, has: []string{"There is nothing at this address"}},
}

// defaultRequest fills a pattern's wildcards: a route added without a scenario is still
// requested with every role.
func defaultRequest(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "1")
	return method, path
}

// seedPopulation adds customers with a year of orders, so that the value models have an
// at-risk band whose names the Segments page lists.
func seedPopulation(t *testing.T, db *store.DB) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 5))
	base := testNow.AddDate(-1, 0, -5)
	type order struct {
		cust int64
		ts   int64
		amt  int64
	}
	var orders []order
	const n = 240
	for c := range n {
		cust := int64(100000 + c)
		day := float64(r.IntN(300))
		rate := []float64{1.0 / 5, 1.0 / 20, 1.0 / 60}[r.IntN(3)]
		drop := []float64{0.03, 0.15, 0.5}[r.IntN(3)]
		for day < 360 {
			orders = append(orders, order{cust, base.Add(time.Duration(day * float64(24*time.Hour))).UnixMilli(), 1000 + r.Int64N(4000)})
			if r.Float64() < drop {
				break
			}
			day += r.ExpFloat64() / rate
		}
	}
	if err := bulkInsert(ctx, db, "customers", "id, first_seen, last_seen, user_id, email, name, events", 7, n, func(i int) []any {
		return []any{100000 + i, base.UnixMilli(), testNow.UnixMilli(), fmt.Sprintf("pop-%d", i), fmt.Sprintf("person%d@example.com", i), fmt.Sprintf("Person %d", i), 1}
	}); err != nil {
		t.Fatal(err)
	}
	if err := bulkInsert(ctx, db, "orders", "order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq", 9, len(orders), func(i int) []any {
		o := orders[i]
		return []any{fmt.Sprintf("P-%d", i), o.cust, o.ts, o.amt, "EUR", "web", "Direct", 1, 1000000 + i}
	}); err != nil {
		t.Fatal(err)
	}
	rebuildSummaries(t, db)
}

// rebuildSummaries brings the per-customer order summaries (which the processor keeps as
// it writes orders) up to date with orders a test inserted directly.
func rebuildSummaries(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { return commerce.RebuildSummaries(ctx, tx, loc) }); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardRoles requests every route of the dashboard's route table with every role
// and without a session: a role with the route's permission gets the page (status, body),
// a role without it gets 403 and changes nothing, a visitor is sent to log in; pages that
// list people show them only to roles that may read personal data.
func TestDashboardRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		seedAutomations(t, db)
		seedPopulation(t, db)
		ts := newTestServer(t, db, Options{})
		ctx := context.Background()
		// Something in the audit log for the owner's page.
		if _, _, err := auth.CreateInvite(ctx, db, auth.CLIActing, "audited@target.example", auth.RoleViewer, testNow); err != nil {
			t.Fatal(err)
		}
		var anna int64
		if err := db.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = 'user_id' AND value = 'u-anna'`).Scan(&anna); err != nil {
			t.Fatal(err)
		}
		login := func(r auth.Role) (*http.Client, string) {
			c := ts.client(t)
			if resp, body := ts.login(t, c, roleEmail(r), testPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login as %s: %d\n%.300s", r, resp.StatusCode, body)
			}
			_, page := get(t, c, ts.URL+"/no-such-page") // any page carries the session's CSRF token
			return c, csrfOf(t, page)
		}
		type client struct {
			c    *http.Client
			csrf string
		}
		clients := map[auth.Role]client{}
		for _, r := range auth.Roles {
			if _, err := auth.CreateUserRole(ctx, db, roleEmail(r), testPassword, r); err != nil {
				t.Fatal(err)
			}
			c, csrf := login(r)
			clients[r] = client{c, csrf}
		}

		s, _, err := newServer(db, Options{})
		if err != nil {
			t.Fatal(err)
		}
		table := s.routes()
		declared := map[string]bool{}
		for _, rt := range table {
			declared[rt.pattern] = true
		}
		var stale []string
		for p := range dashboardScenarios {
			if !declared[p] {
				stale = append(stale, p)
			}
		}
		sort.Strings(stale)
		if len(stale) > 0 {
			t.Errorf("scenarios for routes the table does not declare (renamed or removed?): %v", stale)
		}

		do := func(c *http.Client, method, path string, form url.Values, csrf string) (*http.Response, string) {
			if method == http.MethodGet {
				return get(t, c, ts.URL+path)
			}
			if form == nil {
				form = url.Values{}
			}
			if csrf != "" {
				form.Set("csrf", csrf)
			}
			return postForm(t, c, ts.URL+path, form, nil)
		}
		withQuery := func(path, q string) string {
			if strings.Contains(path, "?") {
				return path + "&" + q
			}
			return path + "?" + q
		}

		for _, rt := range table {
			sc, known := dashboardScenarios[rt.pattern]
			if known && sc.perm != rt.perm {
				t.Errorf("%s declares %q, its scenario expects %q: change both, on purpose", rt.pattern, rt.perm, sc.perm)
			}
			method, path := defaultRequest(rt.pattern)
			for _, role := range append([]auth.Role{""}, auth.Roles...) {
				e := &roleEnv{t: t, db: db, role: role, anna: anna}
				name := fmt.Sprintf("%s as %s", rt.pattern, e.tag())
				var form url.Values
				if sc.req != nil {
					path, form = sc.req(e)
				}
				var c *http.Client
				csrf := ""
				switch {
				case role == "":
					c = ts.client(t)
				case sc.fresh:
					c, csrf = login(role)
				default:
					c, csrf = clients[role].c, clients[role].csrf
				}
				allowed := rt.perm == permPublic || (role != "" && (rt.perm == permSession || role.Can(rt.perm)))
				paths := []string{path}
				for _, q := range sc.also {
					paths = append(paths, withQuery(path, q))
				}
				for i, p := range paths {
					if i > 0 && method != http.MethodGet {
						break
					}
					resp, body := do(c, method, p, form, csrf)
					where := name
					if i > 0 {
						where += " (" + p + ")"
					}
					switch {
					case allowed:
						want := sc.ok
						if role == "" && sc.anon != 0 {
							want = sc.anon
						}
						if want == 0 {
							want = http.StatusOK
						}
						if !known {
							// A route without a scenario: the role check passes and the handler answers.
							if resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500 ||
								strings.HasPrefix(resp.Header.Get("Location"), "/login") {
								t.Errorf("%s: %d %s, want the route's own answer (it has no scenario in roles_test.go)", where, resp.StatusCode, resp.Header.Get("Location"))
							}
							continue
						}
						if resp.StatusCode != want {
							t.Errorf("%s: %d, want %d\n%.400s", where, resp.StatusCode, want, body)
							continue
						}
						if i == 0 {
							for _, h := range sc.has {
								if !strings.Contains(body, h) {
									t.Errorf("%s: body lacks %q", where, h)
								}
							}
						}
						for _, sh := range sc.shown {
							if sh.html && i > 0 {
								continue
							}
							if got, want := strings.Contains(body, sh.text), role.Can(sh.perm); got != want {
								t.Errorf("%s: shows %q = %v, want %v (only roles with %s see it)", where, sh.text, got, want, sh.perm)
							}
						}
					case role == "":
						if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
							if !(strings.Contains(p, "format=json") && resp.StatusCode == http.StatusUnauthorized) {
								t.Errorf("%s: %d %q, want the login redirect", where, resp.StatusCode, resp.Header.Get("Location"))
							}
						}
					default:
						if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "does not allow") {
							t.Errorf("%s: %d, want 403 saying the role does not allow it\n%.300s", where, resp.StatusCode, body)
						}
						for _, sh := range sc.shown {
							if strings.Contains(body, sh.text) {
								t.Errorf("%s: the refusal shows %q", where, sh.text)
							}
						}
					}
				}
				if sc.done != nil {
					if got := sc.done(e); got != allowed {
						t.Errorf("%s: change made = %v, want %v", name, got, allowed)
					}
				}
			}
		}

		// The navigation bar offers each role what it may open, and no more.
		for _, r := range auth.Roles {
			_, body := get(t, clients[r].c, ts.URL+"/")
			for _, n := range navPages {
				linked := strings.Contains(body, `<a href="`+n.Path+`"`) || strings.Contains(body, `<a href="`+n.Path+`?`)
				if want := s.canOpen(r, n.Path); linked != want {
					t.Errorf("navigation of %s: link to %s = %v, want %v", r, n.Path, linked, want)
				}
			}
		}
		// Every change above was recorded with who made it.
		es, err := audit.List(ctx, db, audit.Filter{Action: "user.role"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Actor != audit.UserActor(roleEmail(auth.RoleOwner)) && e.Actor != audit.UserActor(roleEmail(auth.RoleAdmin)) {
				t.Errorf("role change recorded as done by %q", e.Actor)
			}
		}
		if len(es) != 2 {
			t.Errorf("%d role changes recorded, want 2 (owner and admin)", len(es))
		}
	})
}
