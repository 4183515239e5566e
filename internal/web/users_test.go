package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestUsersPageRules: on the Users page an admin cannot touch the owner, nobody demotes the
// last owner, removal needs the confirmation, removing oneself logs out, and the invitation
// page refuses unknown links and mismatched passwords.
func TestUsersPageRules(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{})
	ctx := context.Background()
	owner, err := auth.UserByEmail(ctx, db, testEmail)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.CreateUserRole(ctx, db, "admin@example.com", testPassword, auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.client(t)
	if resp, _ := ts.login(t, c, admin.Email, testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin login: %d", resp.StatusCode)
	}
	_, page := get(t, c, ts.URL+"/users")
	csrf := csrfOf(t, page)
	if strings.Contains(page, fmt.Sprintf(`action="/users/%d/role"`, owner.ID)) || !strings.Contains(page, "only an owner can change an owner") {
		t.Error("the admin's Users page offers to change the owner")
	}
	if strings.Contains(page, `<option value="owner"`) {
		t.Error("the admin's Users page offers the owner role")
	}
	post := func(path string, form url.Values) (*http.Response, string) {
		form.Set("csrf", csrf)
		return postForm(t, c, ts.URL+path, form, nil)
	}
	if resp, body := post(fmt.Sprintf("/users/%d/role", owner.ID), url.Values{"role": {"viewer"}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "only an owner") {
		t.Errorf("admin demotes the owner: %d", resp.StatusCode)
	}
	if resp, _ := post("/users/invite", url.Values{"email": {"boss@example.com"}, "role": {"owner"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("admin invites an owner: %d", resp.StatusCode)
	}
	if resp, body := post("/users/invite", url.Values{"email": {testEmail}, "role": {"viewer"}}); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "has an account already") {
		t.Errorf("inviting an existing user: %d", resp.StatusCode)
	}
	if resp, body := post(fmt.Sprintf("/users/%d/remove", admin.ID), url.Values{}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Tick the box") {
		t.Errorf("remove without confirmation: %d", resp.StatusCode)
	}
	if resp, _ := post("/users/999/role", url.Values{"role": {"viewer"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}
	// Removing oneself ends the session.
	if resp, _ := post(fmt.Sprintf("/users/%d/remove", admin.ID), url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("removing oneself: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, c, ts.URL+"/users"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after removing oneself: %d, want the login", resp.StatusCode)
	}

	// The owner is the last one: the page refuses to demote them.
	oc, ocsrf := ts.loggedIn(t)
	resp, body := postForm(t, oc, ts.URL+fmt.Sprintf("/users/%d/role", owner.ID), url.Values{"role": {"admin"}, "csrf": {ocsrf}}, nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "last owner") {
		t.Errorf("demoting the last owner: %d", resp.StatusCode)
	}

	// Invitation links: unknown, and two passwords that differ.
	if resp, body := get(t, ts.client(t), ts.URL+InvitePath+"no-such-token"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not valid") {
		t.Errorf("unknown invitation: %d", resp.StatusCode)
	}
	_, tok, err := auth.CreateInvite(ctx, db, auth.CLIActing, "new@example.com", auth.RoleAnalyst, testNow)
	if err != nil {
		t.Fatal(err)
	}
	anon := ts.client(t)
	if resp, body := postForm(t, anon, ts.URL+InvitePath+tok, url.Values{"password": {"one password"}, "password2": {"another one"}}, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "differ") {
		t.Errorf("passwords that differ: %d", resp.StatusCode)
	}
	if resp, body := postForm(t, anon, ts.URL+InvitePath+tok, url.Values{"password": {"short"}, "password2": {"short"}}, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 8") {
		t.Errorf("short password: %d", resp.StatusCode)
	}
	if resp, body := postForm(t, anon, ts.URL+InvitePath+tok, url.Values{"password": {"a good password"}, "password2": {"a good password"}}, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "ready") {
		t.Errorf("accept: %d", resp.StatusCode)
	}
	if resp, _ := postForm(t, anon, ts.URL+InvitePath+tok, url.Values{"password": {"a good password"}, "password2": {"a good password"}}, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("accept twice: %d", resp.StatusCode)
	}
}
