package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestJourneyFormsCSRF: every journey and token action refuses a POST without the
// session's token, and changes nothing.
func TestJourneyFormsCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		seedAutomations(t, db)
		ts := newTestServer(t, db, Options{})
		c, token := ts.loggedIn(t)
		tok, _, err := api.CreateRoleToken(context.Background(), db, "kept", auth.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		posts := []struct {
			path string
			form url.Values
		}{
			{"/automations/abandoned-cart/disable", nil},
			{"/automations/abandoned-cart/costs", url.Values{"cost:sms": {"1"}}},
			{"/automations/templates", url.Values{"template": {"welcome"}}},
			{"/tokens", url.Values{"name": {"forged"}, "role": {"owner"}}},
			{fmt.Sprintf("/tokens/%d/revoke", tok.ID), url.Values{"confirm": {"yes"}}},
		}
		for _, p := range posts {
			for _, bad := range []string{"", "x" + token} {
				form := url.Values{}
				for k, v := range p.form {
					form[k] = v
				}
				if bad != "" {
					form.Set("csrf", bad)
				}
				if resp, _ := postForm(t, c, ts.URL+p.path, form, nil); resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s with csrf %q: %d, want 403", p.path, bad, resp.StatusCode)
				}
			}
		}
		ctx := context.Background()
		if d, _ := journey.Show(ctx, db, "abandoned-cart"); !d.Enabled {
			t.Error("a forged POST paused the journey")
		}
		if c, _ := journey.JourneyCosts(ctx, db, "abandoned-cart"); len(c) != 0 {
			t.Errorf("a forged POST set costs %v", c)
		}
		if _, err := journey.Show(ctx, db, "welcome"); err == nil {
			t.Error("a forged POST applied a journey")
		}
		if ts, _ := api.ListTokens(ctx, db); len(ts) != 1 || ts[0].Name != "kept" {
			t.Errorf("forged POSTs changed the tokens: %v", ts)
		}
	})
}

// TestJourneyPauseResume: the buttons pause and resume a journey, say so on its page,
// and are in the audit log as done by the user.
func TestJourneyPauseResume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		seedAutomations(t, db)
		ts := newTestServer(t, db, Options{})
		c, token := ts.loggedIn(t)
		_, page := get(t, c, ts.URL+"/automations")
		if !strings.Contains(page, `action="/automations/abandoned-cart/disable"`) || !strings.Contains(page, "Apply a built-in journey") {
			t.Fatal("the automations page offers no pause button or templates")
		}
		resp, _ := postForm(t, c, ts.URL+"/automations/abandoned-cart/disable", url.Values{"csrf": {token}, "back": {"list"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/automations" {
			t.Fatalf("pause: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, page = get(t, c, ts.URL+"/automations/abandoned-cart")
		if !strings.Contains(page, "<strong>Paused</strong>") || !strings.Contains(page, `action="/automations/abandoned-cart/enable"`) {
			t.Errorf("the journey's page does not show it paused")
		}
		if resp, _ := postForm(t, c, ts.URL+"/automations/abandoned-cart/enable", url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("resume: %d", resp.StatusCode)
		}
		if d, _ := journey.Show(context.Background(), db, "abandoned-cart"); !d.Enabled {
			t.Error("not resumed")
		}
		if resp, _ := postForm(t, c, ts.URL+"/automations/nothing/enable", url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown journey: %d, want 404", resp.StatusCode)
		}
		es, err := audit.List(context.Background(), db, audit.Filter{Action: "journey"})
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, e := range es {
			if e.Actor == audit.UserActor(testEmail) {
				acts = append(acts, e.Action)
			}
		}
		if strings.Join(acts, ",") != "journey.enable,journey.disable" && strings.Join(acts, ",") != "journey.disable,journey.enable" {
			t.Errorf("audit by the user: %v", acts)
		}
	})
}

// TestApplyTemplateForm: the form lists a template's settings with their defaults;
// refused values are shown beside their fields with what was typed (422) and nothing is
// applied; accepted ones apply the journey `omniroi journey apply NAME --set` would.
func TestApplyTemplateForm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, token := ts.loggedIn(t)
		resp, page := get(t, c, ts.URL+"/automations/templates?template=abandoned-cart")
		for _, want := range []string{`name="name" value="abandoned-cart"`, `name="holdout" value="10%"`, `name="steps[0].wait.timeout" value="1h"`, `name="steps[2].wait" value="24h"`, "longest wait for Order Completed"} {
			if resp.StatusCode != 200 || !strings.Contains(page, want) {
				t.Errorf("form lacks %s", want)
			}
		}
		if resp, _ := get(t, c, ts.URL+"/automations/templates?template=nope"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown template: %d", resp.StatusCode)
		}
		resp, page = postForm(t, c, ts.URL+"/automations/templates", url.Values{"csrf": {token}, "template": {"abandoned-cart"},
			"name": {"cart-2"}, "holdout": {"150%"}, "steps[2].wait": {"a while"}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bad values: %d", resp.StatusCode)
		}
		for _, want := range []string{`id="err-holdout">&#34;150%&#34; must be from 0% to below 100%`, `id="err-steps[2].wait">&#34;a while&#34; is not a duration`, `name="holdout" value="150%"`, `name="name" value="cart-2"`} {
			if !strings.Contains(page, want) {
				t.Errorf("refused form lacks %s", want)
			}
		}
		if _, err := journey.Show(context.Background(), db, "cart-2"); err == nil {
			t.Fatal("a refused form applied the journey")
		}
		resp, _ = postForm(t, c, ts.URL+"/automations/templates", url.Values{"csrf": {token}, "template": {"abandoned-cart"},
			"name": {"cart-2"}, "holdout": {"20%"}, "steps[2].wait": {"2d"}, "steps[0].wait.timeout": {"1h"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/automations/cart-2?") {
			t.Fatalf("apply: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		d, err := journey.Show(context.Background(), db, "cart-2")
		if err != nil {
			t.Fatal(err)
		}
		doc, _, err := journey.TemplateDocument("abandoned-cart", map[string]string{"name": "cart-2", "holdout": "20%", "steps[2].wait": "2d"})
		if err != nil {
			t.Fatal(err)
		}
		if a, err := journey.Apply(context.Background(), db, doc); err != nil || a.Changed || d.Plan.Holdout != 0.2 {
			t.Errorf("the form's journey differs from the CLI's: %+v %v holdout %v", a, err, d.Plan.Holdout)
		}
		_, page = get(t, c, ts.URL+resp.Header.Get("Location"))
		if !strings.Contains(page, "Version 1 of cart-2 is applied") || !strings.Contains(page, "Wait 2 days, then go on.") || strings.Contains(page, "{{") {
			t.Errorf("the journey's page after applying: no notice, no steps in words, or template syntax shown")
		}
		es, _ := audit.List(context.Background(), db, audit.Filter{Action: "journey.apply"})
		if len(es) != 1 || es[0].Actor != audit.UserActor(testEmail) {
			t.Errorf("audit: %+v", es)
		}
	})
}

// TestJourneyPreviewPage: a step's email as one customer would see it: their name in the
// subject and text, the HTML in a sandboxed frame (escaped into srcdoc), never raw
// template syntax; an unknown customer or a step without a message is 404.
func TestJourneyPreviewPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		seedAutomations(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		_, page := get(t, c, ts.URL+"/automations/abandoned-cart")
		if !strings.Contains(page, `href="/automations/abandoned-cart/preview?step=2"`) || strings.Contains(page, "{{") {
			t.Fatalf("the steps table has no preview link, or shows template syntax")
		}
		resp, page := get(t, c, ts.URL+"/automations/abandoned-cart/preview?step=2&customer=anna@example.com")
		if resp.StatusCode != 200 {
			t.Fatalf("preview: %d\n%.800s", resp.StatusCode, page)
		}
		for _, want := range []string{"Anna, you left something in your cart", "Hi Anna,", `sandbox=""`, `src="/automations/abandoned-cart/preview?customer=anna%40example.com&amp;part=html&amp;step=2"`, "to anna@example.com"} {
			if !strings.Contains(page, want) {
				t.Errorf("preview lacks %q", want)
			}
		}
		if strings.Contains(page, "{{") || strings.Contains(page, "<p>Hi Anna") {
			t.Errorf("preview shows template syntax or unsandboxed HTML")
		}
		// The frame's document: the email's HTML alone, sandboxed by its own CSP.
		resp, html := get(t, c, ts.URL+"/automations/abandoned-cart/preview?customer=anna%40example.com&part=html&step=2")
		if resp.StatusCode != 200 || !strings.HasPrefix(html, "<p>Hi Anna,</p>") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") ||
			strings.Contains(html, "<nav") {
			t.Errorf("frame: %d %q, CSP %q", resp.StatusCode, html, resp.Header.Get("Content-Security-Policy"))
		}
		if resp, _ := get(t, c, ts.URL+"/automations/abandoned-cart/preview?step=2&customer=nobody@example.com"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown customer: %d", resp.StatusCode)
		}
		if resp, _ := get(t, c, ts.URL+"/automations/abandoned-cart/preview?step=1&customer=anna@example.com"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a wait step: %d", resp.StatusCode)
		}
	})
}

// TestJourneyCostsForm: a journey's own message cost is saved, audited and used by its
// ROI; a refused value is shown beside its field with what was typed, and saves nothing.
func TestJourneyCostsForm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		seedAutomations(t, db)
		ts := newTestServer(t, db, Options{})
		c, token := ts.loggedIn(t)
		resp, page := postForm(t, c, ts.URL+"/automations/abandoned-cart/costs", url.Values{"csrf": {token}, "cost:email": {"0.5"}, "cost:sms": {"lots"}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="cost-sms-error">&#34;lots&#34; is not an amount`) || !strings.Contains(page, `value="lots"`) {
			t.Fatalf("bad cost: %d", resp.StatusCode)
		}
		if cs, _ := journey.JourneyCosts(context.Background(), db, "abandoned-cart"); len(cs) != 0 {
			t.Fatalf("a refused form saved %v", cs)
		}
		resp, _ = postForm(t, c, ts.URL+"/automations/abandoned-cart/costs", url.Values{"csrf": {token}, "cost:email": {"0.5"}, "cost:sms": {""}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d", resp.StatusCode)
		}
		r, err := journey.Measure(context.Background(), db, "abandoned-cart", journey.ReportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.CostFrom != "journey" || r.Cost != 50*r.Sends || r.Sends == 0 {
			t.Errorf("report: %d sends cost %d from %q, want 50 each from the journey", r.Sends, r.Cost, r.CostFrom)
		}
		_, page = get(t, c, ts.URL+"/automations/abandoned-cart?range=all")
		if !strings.Contains(page, `id="cost-email" name="cost:email" inputmode="decimal" value="0.5"`) {
			t.Errorf("the page does not show the saved cost")
		}
		es, _ := audit.List(context.Background(), db, audit.Filter{Action: "journey.cost"})
		if len(es) != 2 {
			t.Errorf("audit: %d entries", len(es))
		}
	})
}

// TestTokensPageRules: a token's secret is shown once; an admin neither creates nor
// revokes an owner token; a token's name is required and unique; all is audited.
func TestTokensPageRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := newTestServer(t, db, Options{})
		c, token := ts.loggedIn(t)
		resp, page := postForm(t, c, ts.URL+"/tokens", url.Values{"csrf": {token}, "name": {"board"}, "role": {"viewer"}}, nil)
		m := secretRE.FindString(page)
		if resp.StatusCode != 200 || m == "" {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		if tk, err := api.CheckToken(ctx, db, m); err != nil || tk.Role != auth.RoleViewer {
			t.Fatalf("the shown secret: %v %v", tk, err)
		}
		if _, again := get(t, c, ts.URL+"/tokens"); strings.Contains(again, m) {
			t.Fatal("the secret is shown again")
		}
		if resp, page := postForm(t, c, ts.URL+"/tokens", url.Values{"csrf": {token}, "name": {"board"}, "role": {"viewer"}}, nil); resp.StatusCode != http.StatusConflict || !strings.Contains(page, `value="board"`) {
			t.Errorf("duplicate: %d", resp.StatusCode)
		}
		if resp, _ := postForm(t, c, ts.URL+"/tokens", url.Values{"csrf": {token}, "name": {" "}, "role": {"viewer"}}, nil); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("no name: %d", resp.StatusCode)
		}
		owner, _, err := api.CreateRoleToken(ctx, db, "root", auth.RoleOwner)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := auth.CreateUserRole(ctx, db, "admin@example.com", testPassword, auth.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		ac := ts.client(t)
		if resp, _ := ts.login(t, ac, "admin@example.com", testPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatal("admin login")
		}
		_, page = get(t, ac, ts.URL+"/tokens")
		at := csrfOf(t, page)
		if strings.Contains(page, `<option value="owner"`) {
			t.Error("an admin is offered the owner role")
		}
		if resp, _ := postForm(t, ac, ts.URL+"/tokens", url.Values{"csrf": {at}, "name": {"sneaky"}, "role": {"owner"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("admin creates an owner token: %d", resp.StatusCode)
		}
		if resp, _ := postForm(t, ac, ts.URL+fmt.Sprintf("/tokens/%d/revoke", owner.ID), url.Values{"csrf": {at}, "confirm": {"yes"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("admin revokes an owner token: %d", resp.StatusCode)
		}
		if resp, _ := postForm(t, c, ts.URL+fmt.Sprintf("/tokens/%d/revoke", owner.ID), url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("revoke without confirming: %d", resp.StatusCode)
		}
		if resp, _ := postForm(t, c, ts.URL+fmt.Sprintf("/tokens/%d/revoke", owner.ID), url.Values{"csrf": {token}, "confirm": {"yes"}}, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("owner revokes: %d", resp.StatusCode)
		}
		if _, err := api.CheckToken(ctx, db, m); err != nil {
			t.Errorf("the other token went too: %v", err)
		}
		es, _ := audit.List(ctx, db, audit.Filter{Action: "token"})
		var mine []string
		for _, e := range es {
			if e.Actor == audit.UserActor(testEmail) {
				mine = append(mine, e.Action)
			}
		}
		if len(mine) != 2 {
			t.Errorf("audit by the owner: %v", mine)
		}
	})
}

var secretRE = regexp.MustCompile(`ot_[A-Za-z0-9_-]+`)
