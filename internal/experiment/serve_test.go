package experiment_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustCreate(t *testing.T, db *store.DB, name string, unit experiment.Unit, variants string) experiment.Experiment {
	t.Helper()
	vs, err := experiment.ParseVariants(variants)
	if err != nil {
		t.Fatal(err)
	}
	e, err := experiment.Create(context.Background(), db, audit.ActorCLI, experiment.Experiment{Name: name, Unit: unit, Variants: vs, Metric: experiment.Metric{Kind: "orders"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type assignResp struct {
	Experiments []experiment.Assignment `json:"experiments"`
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestAssignmentEndpoint(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, key, err := db.CreateSource(ctx, "site")
		if err != nil {
			t.Fatal(err)
		}
		clk := &clock{t: time.Now()}
		hero := mustCreate(t, db, "hero", experiment.UnitAnonymous, "control=1,b=1")
		mustCreate(t, db, "loyal", experiment.UnitCustomer, "control,double-points")
		mustCreate(t, db, "draft-only", experiment.UnitAnonymous, "a,b")
		mustCreate(t, db, "switch", experiment.UnitDay, "off,on")
		for _, n := range []string{"hero", "loyal", "switch"} {
			if _, err := experiment.Start(ctx, db, audit.ActorCLI, n, clk.Now(), 0); err != nil {
				t.Fatal(err)
			}
		}
		srv := experiment.NewServer(db, experiment.ServeOptions{Now: clk.Now, Refresh: time.Minute})
		mux := http.NewServeMux()
		srv.Register(mux)
		ts := httptest.NewServer(mux)
		defer ts.Close()

		for _, c := range []struct {
			query string
			code  int
			want  string
		}{
			{"?anonymousId=a1", 401, "missing write key"},
			{"?writeKey=wk_nope&anonymousId=a1", 401, "unknown write key"},
			{"?writeKey=" + key, 400, "anonymousId is required"},
		} {
			res, body := get(t, ts.URL+"/v1/experiments"+c.query, nil)
			if res.StatusCode != c.code || !strings.Contains(string(body), c.want) {
				t.Errorf("%s: %d %s", c.query, res.StatusCode, body)
			}
		}

		res, body := get(t, ts.URL+"/v1/experiments?writeKey="+key+"&anonymousId=a1", map[string]string{"Origin": "https://shop.example"})
		var ar assignResp
		if err := json.Unmarshal(body, &ar); err != nil || res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		// Only the running visitor experiment: no userId for "loyal", drafts and
		// switchbacks are not assigned per visitor.
		if len(ar.Experiments) != 1 || ar.Experiments[0].Experiment != "hero" || ar.Experiments[0].Variation != hero.Variants[hero.Assign("a1")].Key {
			t.Fatalf("assignments %s", body)
		}
		if h := res.Header; h.Get("Cache-Control") != "private, max-age=60" || h.Get("ETag") == "" ||
			h.Get("Access-Control-Allow-Origin") != "https://shop.example" || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("headers %v", h)
		}
		etag := res.Header.Get("ETag")
		res, _ = get(t, ts.URL+"/v1/experiments?writeKey="+key+"&anonymousId=a1", map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", res.StatusCode)
		}
		// The write key as basic auth, and a userId: the customer experiment joins.
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/experiments?anonymousId=a1&userId=u-7", nil)
		req.SetBasicAuth(key, "")
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		var ar2 assignResp
		_ = json.Unmarshal(b2, &ar2)
		if len(ar2.Experiments) != 2 || ar2.Experiments[1].Experiment != "loyal" || r2.Header.Get("ETag") == etag {
			t.Fatalf("with userId: %s", b2)
		}

		// Stopping shows after the refresh interval: the stale list is served while one
		// request reloads it.
		if _, err := experiment.Stop(ctx, db, audit.ActorCLI, "hero", clk.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Minute)
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, body := get(t, ts.URL+"/v1/experiments?writeKey="+key+"&anonymousId=a1", nil)
			if strings.Contains(string(body), `{"experiments":[]}`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stopped experiment still served: %s", body)
			}
			time.Sleep(10 * time.Millisecond)
		}

		res, body = get(t, ts.URL+"/v1/experiments.js", nil)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(string(body), "Experiment Viewed") {
			t.Fatalf("script: %d %v", res.StatusCode, res.Header)
		}
	})
}
