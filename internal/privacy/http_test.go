package privacy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestAPI: export and erase need a token with the owner or admin role; exactly one of id,
// email, phone, user_id names the person; both are audited under the token's name.
func TestAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		identitytest.Load(t, db, "web", now,
			`{"type":"page","anonymousId":"a-1","name":"Home"}`,
			`{"type":"identify","userId":"u-1","anonymousId":"a-1","traits":{"email":"ida@example.com","phone":"+44 7700 900123"}}`,
			`{"type":"track","userId":"u-1","event":"Order Completed","properties":{"order_id":"o-1","revenue":12,"currency":"EUR"}}`)
		// An analyst reads profiles, a marketer changes journeys; neither may export or
		// erase a person: that is the owner's and admin's.
		var read string
		for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAnalyst, auth.RoleMarketer} {
			_, secret, err := api.CreateRoleToken(ctx, db, "t-"+string(role), role)
			if err != nil {
				t.Fatal(err)
			}
			read += secret + " "
		}
		_, write, err := api.CreateRoleToken(ctx, db, "dpo", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		pr := privacy.NewHTTPHandler(db)
		router, err := api.NewRouter(db, []api.Route{
			{Pattern: "GET /api/v1/privacy/export", Perm: auth.PermPrivacy, Handler: pr},
			{Pattern: "POST /api/v1/privacy/erase", Perm: auth.PermPrivacy, Handler: pr},
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(router)
		defer srv.Close()
		do := func(method, path, token, ctype, body string) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			return res.StatusCode, m
		}
		for _, tok := range strings.Fields(read) {
			if code, m := do("GET", "/api/v1/privacy/export?email=ida@example.com", tok, "", ""); code != 403 {
				t.Errorf("export with a %v token: %d", m, code)
			}
			if code, m := do("POST", "/api/v1/privacy/erase", tok, "application/json", `{"email":"ida@example.com"}`); code != 403 {
				t.Errorf("erase with a %v token: %d", m, code)
			}
		}
		for _, c := range []struct {
			method, path, token, ctype, body string
			want                             int
		}{
			{"GET", "/api/v1/privacy/export?email=ida@example.com", "", "", "", 401},
			{"GET", "/api/v1/privacy/export", write, "", "", 400},
			{"GET", "/api/v1/privacy/export?email=ida@example.com&user_id=u-1", write, "", "", 400},
			{"GET", "/api/v1/privacy/export?email=not-an-email", write, "", "", 400},
			{"GET", "/api/v1/privacy/export?id=99999", write, "", "", 404},
			{"GET", "/api/v1/privacy/erase", write, "", "", 404},
		} {
			if code, m := do(c.method, c.path, c.token, c.ctype, c.body); code != c.want {
				t.Errorf("%s %s: %d %v, want %d", c.method, c.path, code, m, c.want)
			}
		}
		for _, q := range []string{"email=IDA%40example.com", "phone=%2B447700900123", "user_id=u-1", "id=1"} {
			code, m := do("GET", "/api/v1/privacy/export?"+q, write, "", "")
			if code != 200 || m["customer_id"] != float64(1) || len(m["events"].([]any)) != 3 {
				t.Fatalf("export ?%s: %d %v", q, code, m)
			}
		}
		// Someone the shop never saw: an empty document says so.
		if code, m := do("GET", "/api/v1/privacy/export?email=nobody@example.com", write, "", ""); code != 200 || m["customer_id"] != nil || len(m["events"].([]any)) != 0 {
			t.Fatalf("export of a stranger: %d %v", code, m)
		}
		code, m := do("POST", "/api/v1/privacy/erase", write, "application/x-www-form-urlencoded", url.Values{"user_id": {"u-1"}, "reason": {"ticket 7"}}.Encode())
		if code != 200 || m["customer_id"] != float64(1) {
			t.Fatalf("erase: %d %v", code, m)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM events WHERE user_id = 'u-1' OR anonymous_id = 'a-1'`); n != 0 {
			t.Fatalf("%d events left", n)
		}
		es, err := audit.List(ctx, db, audit.Filter{Action: "privacy."})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			if e.Actor != "token:dpo" {
				t.Errorf("audit actor %q", e.Actor)
			}
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "privacy.erase,privacy.export,privacy.export,privacy.export,privacy.export,privacy.export" {
			t.Fatalf("audit: %v", actions)
		}
		if es[0].Detail["reason"] != "ticket 7" {
			t.Fatalf("reason: %v", es[0].Detail)
		}
		if code, _ := do("POST", "/api/v1/privacy/erase", write, "application/json", `{"id": 1}`); code != 404 {
			t.Fatalf("erase again: %d, want 404 (nobody left)", code)
		}
	})
}
