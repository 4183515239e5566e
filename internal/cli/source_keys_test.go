package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// storeArgs runs a test against SQLite (a data directory) and PostgreSQL (a DSN), each
// reachable from two processes' worth of connections: the CLI's and a collector's.
func eachStoreArgs(t *testing.T, fn func(t *testing.T, args []string, cfg store.Config)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, []string{"--data", dir}, store.Config{DataDir: dir})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		fn(t, []string{"--db", dsn}, store.Config{DSN: dsn, DataDir: t.TempDir()})
	})
}

func TestSourceKindRotateRevoke(t *testing.T) {
	t.Parallel()
	eachStoreArgs(t, func(t *testing.T, st []string, cfg store.Config) {
		cli := func(args ...string) (int, string, string) { return runCLI(t, append(args, st...)...) }
		code, out, errs := cli("source", "add", "back end", "--kind", "server", "--json")
		if code != 0 {
			t.Fatalf("source add --kind server: %d %s", code, errs)
		}
		var added struct {
			ID       int64  `json:"id"`
			Name     string `json:"name"`
			Kind     string `json:"kind"`
			WriteKey string `json:"write_key"`
		}
		if err := json.Unmarshal([]byte(out), &added); err != nil || added.Kind != "server" || added.WriteKey == "" {
			t.Fatalf("add --json: %v %s", err, out)
		}
		if code, out, _ = cli("source", "add", "web"); code != 0 || !strings.Contains(out, "client source") || !strings.Contains(out, "unverified") {
			t.Fatalf("default kind: %d %s", code, out)
		}
		if code, _, errs = cli("source", "add", "x", "--kind", "browser"); code != 1 || !strings.Contains(errs, "unknown source kind") {
			t.Fatalf("bad kind: %d %s", code, errs)
		}
		code, out, _ = cli("source", "rotate", "back end", "--json")
		var rot struct {
			WriteKey string `json:"write_key"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &rot) != nil || rot.WriteKey == "" || rot.WriteKey == added.WriteKey {
			t.Fatalf("rotate: %d %s", code, out)
		}
		if code, out, _ = cli("source", "revoke", "web"); code != 0 || !strings.Contains(out, "revoked") {
			t.Fatalf("revoke: %d %s", code, out)
		}
		if code, _, errs = cli("source", "revoke", "nope"); code != 1 || !strings.Contains(errs, "no source named") {
			t.Fatalf("revoke unknown: %d %s", code, errs)
		}
		if code, out, _ = cli("source", "kind", "web", "server"); code != 0 || !strings.Contains(out, "rebuild") {
			t.Fatalf("kind: %d %s", code, out)
		}
		code, out, _ = cli("source", "list", "--json")
		var list []sourceRow
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
			t.Fatalf("list: %d %s", code, out)
		}
		if list[0].Kind != "server" || list[0].Rotated == nil || list[0].Revoked != nil || list[1].Revoked == nil || list[1].Kind != "server" {
			t.Fatalf("listed %s", out)
		}
		if strings.Contains(out, rot.WriteKey) {
			t.Fatal("list shows a key")
		}
		// Each change is in the audit log, without the key.
		db, err := store.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		es, err := audit.List(context.Background(), db, audit.Filter{Action: "source."})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			if e.Actor != audit.ActorCLI {
				t.Errorf("actor %q", e.Actor)
			}
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), rot.WriteKey) || strings.Contains(string(b), added.WriteKey) {
				t.Errorf("audit entry holds a key: %s", b)
			}
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "source.kind,source.revoke,source.rotate" {
			t.Fatalf("audit actions %v", actions)
		}
	})
}

// TestRevokeFromCLIReachesRunningCollector: a collector caches write keys for 30 s; a
// revocation made by another process (the CLI) must still turn its key away within a
// few seconds, on every collection route.
func TestRevokeFromCLIReachesRunningCollector(t *testing.T) {
	t.Parallel()
	eachStoreArgs(t, func(t *testing.T, st []string, cfg store.Config) {
		ctx := context.Background()
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_, key, err := db.CreateSource(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		h := collect.NewHandler(db, collect.Options{KeyCacheTTL: 30 * time.Second})
		srv := httptest.NewServer(h)
		defer func() {
			srv.Close()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = h.Close(cctx)
		}()
		post := func(path string) int {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{"event":"Viewed","userId":"u1"}`))
			req.SetBasicAuth(key, "")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		get := func(path string) int {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if c := post("/v1/track"); c != 200 {
			t.Fatalf("before revoking: %d", c)
		}
		if c := get("/v1/projects/" + key + "/settings"); c != 200 {
			t.Fatalf("settings before revoking: %d", c)
		}
		if code, _, errs := runCLI(t, append([]string{"source", "revoke", "web"}, st...)...); code != 0 {
			t.Fatalf("revoke: %s", errs)
		}
		start := time.Now()
		deadline := start.Add(5 * time.Second)
		for post("/v1/track") != 401 {
			if time.Now().After(deadline) {
				t.Fatalf("the revoked key still works %s after the CLI revoked it", time.Since(start).Round(time.Millisecond))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("revoked key refused %s after the CLI revoked it", time.Since(start).Round(time.Millisecond))
		for _, p := range []string{"/v1/identify", "/v1/batch", "/v1/page", "/v1/group", "/v1/alias", "/v1/screen", "/v1/t"} {
			if c := post(p); c != 401 {
				t.Errorf("%s with the revoked key: %d, want 401", p, c)
			}
		}
		if c := get("/v1/projects/" + key + "/settings"); c != 401 {
			t.Errorf("settings with the revoked key: %d, want 401", c)
		}
	})
}

// TestCustomerShowGroupsAndUnverified: `customer show` names the customer's groups and
// the contact points a public key stated.
func TestCustomerShowGroupsAndUnverified(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateSource(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	identitytest.Load(t, db, "web", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		map[string]any{"type": "identify", "userId": "cy", "traits": map[string]any{"email": "cy@example.net"}},
		map[string]any{"type": "group", "userId": "cy", "groupId": "acme", "traits": map[string]any{"name": "Acme Ltd", "plan": "gold"}})
	db.Close()
	code, out, errs := runCLI(t, "customer", "show", "cy", "--data", dir)
	if code != 0 || !strings.Contains(out, "Member of: Acme Ltd") || !strings.Contains(out, "unverified (sent with a public key") || strings.Contains(out, "plan") {
		t.Fatalf("customer show: %d %s %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "customer", "show", "cy", "--json", "--data", dir)
	var p struct {
		Groups []struct {
			ID, Name string
		} `json:"groups"`
		Unverified []string `json:"unverified"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || len(p.Groups) != 1 || p.Groups[0].Name != "Acme Ltd" || len(p.Unverified) != 1 {
		t.Fatalf("customer show --json: %s", out)
	}
}
