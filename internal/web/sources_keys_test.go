package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var newKeyRE = regexp.MustCompile(`id="new-key" class="key" readonly value="(wk_[a-z0-9]+)"`)

// TestRotateRevokeOnSourcesPage: owners and admins rotate and revoke write keys on the
// Sources page (CSRF-protected forms, recorded in the audit log); other roles cannot.
func TestRotateRevokeOnSourcesPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := newTestServer(t, db, Options{})
		src, oldKey, err := db.CreateSource(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		c, token := ts.loggedIn(t)
		_, page := get(t, c, ts.URL+"/sources")
		if !strings.Contains(page, fmt.Sprintf(`action="/sources/%d/rotate"`, src.ID)) || !strings.Contains(page, "<td>client</td>") {
			t.Fatalf("no key management for the owner:\n%.2000s", page)
		}
		rotate := fmt.Sprintf("%s/sources/%d/rotate", ts.URL, src.ID)
		revoke := fmt.Sprintf("%s/sources/%d/revoke", ts.URL, src.ID)
		if resp, _ := postForm(t, c, rotate, url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("rotate without the CSRF token: %d", resp.StatusCode)
		}
		resp, body := postForm(t, c, rotate, url.Values{"csrf": {token}}, nil)
		m := newKeyRE.FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil || m[1] == oldKey || !strings.Contains(body, "the old key no longer works") {
			t.Fatalf("rotate: %d\n%.1500s", resp.StatusCode, body)
		}
		if _, err := db.SourceByKey(ctx, oldKey); err == nil {
			t.Fatal("the old key still works after rotating")
		}
		if got, err := db.SourceByKey(ctx, m[1]); err != nil || got.ID != src.ID {
			t.Fatalf("the shown key: %+v %v", got, err)
		}
		if resp, body := postForm(t, c, revoke, url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "tick the box") {
			t.Fatalf("revoke without confirming: %d", resp.StatusCode)
		}
		if resp, body := postForm(t, c, revoke, url.Values{"csrf": {token}, "confirm": {"yes"}}, nil); resp.StatusCode != 200 || !strings.Contains(body, "is revoked") {
			t.Fatalf("revoke: %d %.500s", resp.StatusCode, body)
		}
		if _, err := db.SourceByKey(ctx, m[1]); err == nil {
			t.Fatal("the revoked key still works")
		}
		es, err := audit.List(ctx, db, audit.Filter{Action: "source."})
		if err != nil || len(es) != 2 || es[0].Action != "source.revoke" || es[1].Action != "source.rotate" || es[0].Actor != audit.UserActor(testEmail) {
			t.Fatalf("audit %+v %v", es, err)
		}

		// A marketer sees the sources but may not change keys.
		if _, err := auth.CreateUserRole(ctx, db, "mark@example.com", testPassword, auth.RoleMarketer); err != nil {
			t.Fatal(err)
		}
		mc := ts.client(t)
		if resp, _ := ts.login(t, mc, "mark@example.com", testPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("marketer login: %d", resp.StatusCode)
		}
		_, page = get(t, mc, ts.URL+"/sources")
		if strings.Contains(page, "/rotate\"") {
			t.Fatal("the marketer is offered the rotate form")
		}
		if resp, _ := postForm(t, mc, rotate, url.Values{"csrf": {csrfOf(t, page)}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("marketer rotate: %d, want 403", resp.StatusCode)
		}
		if got, _ := db.SourceByName(ctx, "web"); !got.Revoked() {
			t.Fatal("the marketer's request changed the key")
		}
	})
}

// TestHeldAndGroupsShown: the Sources page says how many messages the new-recipient
// limits held per source; the customer page names the customer's groups and marks
// unverified contact points.
func TestHeldAndGroupsShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := newTestServer(t, db, Options{})
		web, _, err := db.CreateSource(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := db.Exec(ctx, `INSERT INTO journey_confirmations (channel, address, customer_id, source_id, status, reason, created_at) VALUES ('email', ?, 1, ?, 'held', 'over the new-recipient limit', ?)`,
				fmt.Sprintf("v%d@example.com", i), web.ID, testNow.Add(-1e9).UnixMilli()); err != nil {
				t.Fatal(err)
			}
		}
		identitytest.Load(t, db, "web", testNow,
			map[string]any{"type": "identify", "userId": "cy", "traits": map[string]any{"email": "cy@example.net", "name": "Cy"}},
			map[string]any{"type": "group", "userId": "cy", "groupId": "acme", "traits": map[string]any{"name": "Acme Ltd", "email": "billing@acme.example"}})
		c, _ := ts.loggedIn(t)
		_, page := get(t, c, ts.URL+"/sources")
		if !strings.Contains(page, "3 messages held in the last 24 hours: over the new-recipient limit for source “web”") {
			t.Fatalf("no held notice:\n%.2000s", page)
		}
		var id int64
		if err := db.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = 'user_id' AND value = 'cy'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		_, page = get(t, c, fmt.Sprintf("%s/customers/%d", ts.URL, id))
		if !strings.Contains(page, "<dt>Member of</dt><dd>Acme Ltd</dd>") || !strings.Contains(page, "cy@example.net <span class=\"hint\">(unverified") {
			t.Fatalf("customer page:\n%.3000s", page)
		}
		if strings.Contains(page, "billing@acme.example") {
			t.Fatal("the group's email shows as the person's")
		}
	})
}
