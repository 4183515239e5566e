package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestSettingsAPI: PUT validates in words (422), stores, audits under the token's name,
// and a null value resets; GET lists and reads one.
func TestSettingsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := audit.WithActor(context.Background(), audit.ActorCLI)
		h := SettingsHandler(db)
		router, err := NewRouter(db, []Route{
			{Pattern: "GET /api/v1/settings", Perm: auth.PermReadReports, Handler: h},
			{Pattern: "GET /api/v1/settings/{key}", Perm: auth.PermReadReports, Handler: h},
			{Pattern: "PUT /api/v1/settings/{key}", Perm: auth.PermSettings, Handler: h},
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(router)
		defer srv.Close()
		_, secret, err := CreateRoleToken(ctx, db, "setup-script", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		call := func(method, path, body string) (int, string) {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := call("PUT", "/api/v1/settings/timezone", `{"value": "Mars/Olympus"}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, "is not a time zone name") {
			t.Fatalf("bad zone: %d %s", code, body)
		}
		if code, body := call("PUT", "/api/v1/settings/nope", `{"value": "1"}`); code != http.StatusNotFound {
			t.Fatalf("unknown key: %d %s", code, body)
		}
		if code, body := call("PUT", "/api/v1/settings/timezone", "America/Chicago"); code != http.StatusOK || !strings.Contains(body, `"value": "America/Chicago"`) {
			t.Fatalf("text body: %d %s", code, body)
		}
		if code, body := call("GET", "/api/v1/settings/timezone", ""); code != http.StatusOK || !strings.Contains(body, `"set": true`) {
			t.Fatalf("get: %d %s", code, body)
		}
		es, err := audit.List(ctx, db, audit.Filter{Action: "settings."})
		if err != nil || len(es) != 1 || es[0].Actor != audit.TokenActor("setup-script") {
			t.Fatalf("audit: %+v %v", es, err)
		}
		if code, body := call("PUT", "/api/v1/settings/timezone", `{"value": null}`); code != http.StatusOK || !strings.Contains(body, `"value": "UTC"`) {
			t.Fatalf("reset: %d %s", code, body)
		}
		if code, body := call("GET", "/api/v1/settings", ""); code != http.StatusOK || !strings.Contains(body, `"name": "journeys.cost.email"`) {
			t.Fatalf("list: %d %.300s", code, body)
		}
	})
}
