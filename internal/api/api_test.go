package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestReadAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		identitytest.Load(t, db, "web", time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
			`{"type":"page","anonymousId":"a1","timestamp":"2026-05-01T09:00:00Z"}`,
			`{"type":"identify","anonymousId":"a1","userId":"u1","traits":{"name":"Cleo Baker","email":"cleo@shop.example"}}`,
			`{"type":"track","event":"Order Completed","userId":"u1","properties":{"order_id":"o1","revenue":"9.90"}}`,
		)
		_, secret, err := api.CreateToken(ctx, db, "reporting")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := api.CreateToken(ctx, db, "reporting"); err == nil {
			t.Error("duplicate token name accepted")
		}
		read := api.ReadHandler(db)
		h, err := api.NewRouter(db, []api.Route{
			{Pattern: "GET /api/v1/stats", Perm: auth.PermReadReports, Handler: read},
			{Pattern: "GET /api/v1/customers", Perm: auth.PermReadPersonal, Handler: read},
			{Pattern: "GET /api/v1/customers/{id}", Perm: auth.PermReadPersonal, Handler: read},
		})
		if err != nil {
			t.Fatal(err)
		}
		get := func(path, token string) (int, map[string]any) {
			req := httptest.NewRequest("GET", path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s: not JSON: %s", path, rec.Body)
			}
			return rec.Code, body
		}
		if code, body := get("/api/v1/stats", ""); code != http.StatusUnauthorized || body["error"] == nil {
			t.Errorf("no token: %d %v", code, body)
		}
		if code, _ := get("/api/v1/stats", secret+"x"); code != http.StatusUnauthorized {
			t.Errorf("wrong token: %d", code)
		}
		code, body := get("/api/v1/stats", secret)
		if code != 200 || body["customers"].(float64) != 1 || body["orders"].(float64) != 1 || body["processor_lag"].(float64) != 0 {
			t.Errorf("stats: %d %v", code, body)
		}
		for _, q := range []string{"u1", "cleo@shop.example", "a1"} {
			code, body = get("/api/v1/customers/"+q, secret)
			if code != 200 || body["name"] != "Cleo Baker" || len(body["orders"].([]any)) != 1 || len(body["touchpoints"].([]any)) != 2 {
				t.Errorf("customer %s: %d %v", q, code, body)
			}
		}
		if code, _ = get("/api/v1/customers/nobody", secret); code != 404 {
			t.Errorf("unknown customer: %d", code)
		}
		code, body = get("/api/v1/customers?q=cle", secret)
		if cs, _ := body["customers"].([]any); code != 200 || len(cs) != 1 {
			t.Errorf("search: %d %v", code, body)
		}
		code, body = get("/api/v1/customers?q=zzz", secret)
		if cs, ok := body["customers"].([]any); code != 200 || !ok || len(cs) != 0 {
			t.Errorf("empty search: %d %v", code, body)
		}
		if err := api.RevokeToken(ctx, db, "reporting"); err != nil {
			t.Fatal(err)
		}
		if code, _ := get("/api/v1/stats", secret); code != http.StatusUnauthorized {
			t.Errorf("revoked token: %d", code)
		}
	})
}
