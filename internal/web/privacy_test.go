package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestErasePage: the customer page offers export and erasure to owners and admins only;
// erasing takes a confirmation (the customer number typed), a CSRF token, and then the
// person is gone and the audit log names the user.
func TestErasePage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{noWarm: true})
		ctx := context.Background()
		anna, err := identity.FindCustomer(ctx, db, "u-anna")
		if err != nil {
			t.Fatal(err)
		}
		id := strconv.FormatInt(anna.ID, 10)
		page := ts.URL + "/customers/" + id
		for _, role := range auth.Roles {
			email := string(role) + "@shop.example"
			if _, err := auth.CreateUserRole(ctx, db, email, testPassword, role); err != nil {
				t.Fatal(err)
			}
			c := ts.client(t)
			if resp, body := ts.login(t, c, email, testPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s login: %d %.300s", role, resp.StatusCode, body)
			}
			allowed := role.Can(auth.PermPrivacy)
			resp, body := get(t, c, page)
			if role.Can(auth.PermReadPersonal) && resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: customer page %d", role, resp.StatusCode)
			}
			if shown := strings.Contains(body, `action="/customers/`+id+`/erase"`); resp.StatusCode == http.StatusOK && shown != allowed {
				t.Errorf("%s: erase button shown %v, want %v", role, shown, allowed)
			}
			want := http.StatusForbidden
			if allowed {
				want = http.StatusOK
			}
			for _, p := range []string{"/erase", "/export"} {
				if resp, _ := get(t, c, page+p); resp.StatusCode != want {
					t.Errorf("%s: GET %s: %d, want %d", role, p, resp.StatusCode, want)
				}
			}
			if !allowed {
				_, home := get(t, c, ts.URL+"/")
				if resp, _ := postForm(t, c, page+"/erase", url.Values{"csrf": {csrfOf(t, home)}, "confirm": {id}}, nil); resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: POST erase: %d, want 403", role, resp.StatusCode)
				}
			}
		}
		if _, err := identity.GetCustomer(ctx, db, anna.ID); err != nil {
			t.Fatalf("refused roles erased her: %v", err)
		}

		c, csrf := ts.loggedIn(t)
		resp, body := get(t, c, page+"/export")
		var doc struct {
			CustomerID int64             `json:"customer_id"`
			Events     []json.RawMessage `json:"events"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc.CustomerID != anna.ID || len(doc.Events) < 4 {
			t.Fatalf("export: %d %.300s", resp.StatusCode, body)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") {
			t.Fatalf("export is not a download: %q", cd)
		}
		_, confirm := get(t, c, page+"/erase")
		if !strings.Contains(confirm, "Anna Berger") || !strings.Contains(confirm, `name="confirm"`) {
			t.Fatalf("confirmation page:\n%.800s", confirm)
		}
		// Without the number typed, nothing happens; without the token, neither.
		if resp, body := postForm(t, c, page+"/erase", url.Values{"csrf": {csrf}, "confirm": {"yes"}}, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Type the customer number") {
			t.Fatalf("unconfirmed: %d", resp.StatusCode)
		}
		if resp, _ := postForm(t, c, page+"/erase", url.Values{"confirm": {id}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("without csrf: %d", resp.StatusCode)
		}
		if _, err := identity.GetCustomer(ctx, db, anna.ID); err != nil {
			t.Fatalf("erased before confirmation: %v", err)
		}
		resp, body = postForm(t, c, page+"/erase", url.Values{"csrf": {csrf}, "confirm": {id}, "reason": {"Anna Berger asked by phone"}}, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Erased") {
			t.Fatalf("erase: %d %.500s", resp.StatusCode, body)
		}
		if _, err := identity.FindCustomer(ctx, db, "anna@example.com"); err == nil {
			t.Fatal("she is still there")
		}
		if resp, _ := get(t, c, page); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("customer page after erasure: %d", resp.StatusCode)
		}
		es, err := audit.List(ctx, db, audit.Filter{Action: "privacy.erase"})
		if err != nil || len(es) != 1 || es[0].Actor != audit.UserActor(testEmail) || es[0].Detail["reason"] != "[erased] asked by phone" {
			t.Fatalf("audit: %+v %v", es, err)
		}
	})
}

// TestCustomerConsentSignals: the customer page shows the newest consent signal.
func TestCustomerConsentSignals(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	identitytest.Load(t, db, "web shop", testNow, `{"type":"track","userId":"u-anna","event":"Segment Consent Preference",
		"context":{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":false}}}}`)
	ts := newTestServer(t, db, Options{noWarm: true})
	anna, err := identity.FindCustomer(context.Background(), db, "u-anna")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ts.loggedIn(t)
	resp, body := get(t, c, ts.URL+"/customers/"+strconv.FormatInt(anna.ID, 10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Cookie and ad consent") ||
		!strings.Contains(body, "<dt>Analytics</dt><dd>granted</dd>") || !strings.Contains(body, "<dt>Ad personalisation</dt><dd>denied</dd>") {
		t.Fatalf("customer page: %d\n%s", resp.StatusCode, body[strings.Index(body, "consent-h"):][:1500])
	}
}
