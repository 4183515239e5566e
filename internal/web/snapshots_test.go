package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/quality"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// restartedServer is another dashboard on db (its user exists already), as after a
// restart of omniroi serve.
func restartedServer(t *testing.T, db *store.DB, opt Options) (*testServer, *server) {
	t.Helper()
	ts := &testServer{db: db, now: testNow}
	opt.Now = ts.Now
	if opt.computeWait == 0 {
		opt.computeWait = time.Minute
	}
	srv, h, err := newServer(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, srv
}

// storedPages are pages whose analyses are all of stored kinds (attribution, customer
// value, coverage): their JSON (the figures) and their HTML (the notices).
var storedPages = []string{"/attribution?format=json", "/customers?format=json", "/segments?format=json", "/attribution", "/customers", "/segments"}

// pagesOf reads storedPages; the HTML pages must not say "computing".
func pagesOf(t *testing.T, ts *testServer) map[string]string {
	t.Helper()
	c, _ := ts.loggedIn(t)
	out := map[string]string{}
	for _, p := range storedPages {
		resp, body := get(t, c, ts.URL+p)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d\n%.500s", p, resp.StatusCode, body)
		}
		if strings.Contains(body, "This page reloads itself") || strings.Contains(body, "working out these numbers") {
			t.Errorf("%s says it is computing on the first request:\n%.2000s", p, body)
		}
		out[p] = body
	}
	return out
}

// TestStoredAnalysesServeAfterRestart: a restarted dashboard shows the attribution,
// customer value and coverage that were computed before the restart on its first
// requests, without computing them again, and the same figures (the stored forms
// round-trip through the pages).
func TestStoredAnalysesServeAfterRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts, srv := newTestServerOf(t, db, Options{noWarm: true})
		before := pagesOf(t, ts)
		srv.compute.writes.Wait()
		if srv.compute.storedFills.Load() == 0 {
			t.Fatal("the first server computed nothing")
		}
		ts.Close()

		ts2, srv2 := restartedServer(t, db, Options{noWarm: true, computeWait: 5 * time.Second})
		after := pagesOf(t, ts2)
		if n := srv2.compute.storedFills.Load(); n != 0 {
			t.Errorf("the restarted server computed %d analyses, want 0 (all stored)", n)
		}
		for _, p := range storedPages {
			if !strings.HasSuffix(p, "json") {
				continue
			}
			if before[p] != after[p] {
				t.Errorf("%s differs after the restart:\nbefore %s\nafter  %s", p, before[p], after[p])
			}
		}
		if !strings.Contains(after["/attribution"], "Models computed") || strings.Contains(after["/attribution"], "newer data has arrived") {
			t.Errorf("attribution after restart: no time computed, or marked stale:\n%.3000s", after["/attribution"])
		}
	})
}

// TestStoredAnalysesStaleAfterRestart: when the data changed while the dashboard was
// down, the restarted dashboard's first request shows the stored result marked with
// its age while the new one is built, then the new one.
func TestStoredAnalysesStaleAfterRestart(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ts, srv := newTestServerOf(t, db, Options{noWarm: true})
	c, _ := ts.loggedIn(t)
	_, before := get(t, c, ts.URL+"/attribution?format=json")
	srv.compute.writes.Wait()
	ts.Close()

	// A new order while the server is down.
	identitytest.Load(t, db, "web shop", testNow.Add(-time.Hour), map[string]any{"type": "track", "userId": "u-ben", "event": "Order Completed",
		"timestamp": testNow.Add(-2 * time.Hour).Format(time.RFC3339), "messageId": "late-1", "properties": map[string]any{"order_id": "B-2", "revenue": 80.0, "currency": "EUR"}})

	ts2, srv2 := restartedServer(t, db, Options{noWarm: true, computeWait: 5 * time.Second})
	c2, _ := ts2.loggedIn(t)
	_, page := get(t, c2, ts2.URL+"/attribution")
	if !strings.Contains(page, "newer data has arrived") {
		t.Fatalf("first request after the restart does not show the stored result as stale:\n%.3000s", page)
	}
	_, stale := get(t, c2, ts2.URL+"/attribution?format=json")
	// The stored result was computed seconds ago (younger than minAge): it is served
	// until minAge passes, then the next request builds the new one.
	if stale != before {
		t.Errorf("stale JSON differs from the stored result:\nbefore %s\nnow    %s", before, stale)
	}
	srv2.compute.mu.Lock()
	srv2.compute.minAge, srv2.compute.wait = 0, time.Minute
	srv2.compute.mu.Unlock()
	_, fresh := get(t, c2, ts2.URL+"/attribution?format=json")
	if fresh == before {
		t.Errorf("after minAge the new order does not show: %s", fresh)
	}
	if n := srv2.compute.storedFills.Load(); n == 0 {
		t.Error("the new data was not computed")
	}
}

// TestErasureDeletesStoredAnalyses: an erasure deletes every stored analysis in its
// transaction, so that a restarted dashboard cannot show the erased person from a
// result computed before (the segments counted her, the customer value listed her).
func TestErasureDeletesStoredAnalyses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		ts, srv := newTestServerOf(t, db, Options{noWarm: true})
		pagesOf(t, ts)
		srv.compute.writes.Wait()
		ts.Close()
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM analysis_snapshots`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("%d stored analyses before the erasure (%v)", n, err)
		}
		if _, err := privacy.Erase(ctx, db, privacy.Query{Email: "anna@example.com"}, privacy.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM analysis_snapshots`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d stored analyses after the erasure (%v)", n, err)
		}
		ts2, _ := restartedServer(t, db, Options{noWarm: true})
		after := pagesOf(t, ts2)
		// What a dashboard that never stored anything shows now.
		ts3, _ := restartedServer(t, db, Options{noWarm: true, noStoredResults: true})
		fresh := pagesOf(t, ts3)
		for _, p := range storedPages[:3] {
			if after[p] != fresh[p] {
				t.Errorf("%s after the erasure and a restart differs from a fresh computation:\n%s\nfresh %s", p, after[p], fresh[p])
			}
		}
		if !strings.Contains(fresh["/segments?format=json"], "tables") {
			t.Fatalf("segments: %s", fresh["/segments?format=json"])
		}
	})
}

// TestSnapshotNotKeptAcrossErasure: a result whose build started before an erasure is
// not stored (the guard moved), so it cannot bring the person back after a restart.
func TestSnapshotNotKeptAcrossErasure(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	seed(t, db)
	snaps := dbSnapshots{db}
	guard, err := snaps.guard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := privacy.Erase(ctx, db, privacy.Query{Email: "anna@example.com"}, privacy.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	err = snaps.save(ctx, store.AnalysisSnapshot{Key: "value", Version: "v", Format: "f", At: time.Now(), Body: []byte("{}")}, guard)
	if err != store.ErrGuardMoved {
		t.Fatalf("save across an erasure: %v, want ErrGuardMoved", err)
	}
	if _, ok, err := snaps.load(ctx, "value"); err != nil || ok {
		t.Fatalf("stored across an erasure: %v %v", ok, err)
	}
}

// roundTrip encodes v as key's kind is stored and decodes it again.
func roundTrip[T any](t *testing.T, key string, v T) T {
	t.Helper()
	c, ok := newComputeCache(time.Second).codecFor(key)
	if !ok {
		t.Fatalf("%s is not stored", key)
	}
	b, err := c.encode(v)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return d.(T)
}

// TestStoredFormsRoundTrip: each stored kind reads back equal to what was written (the
// attribution in its stored form, whose JSON is deterministic; the customer value and
// the coverage as they are), including what the pages look up (Markov removal effects,
// predictions and RFM scores by customer, the time zone).
func TestStoredFormsRoundTrip(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ctx := context.Background()
	_, srv := newTestServerOf(t, db, Options{noWarm: true, noStoredResults: true})
	rg, err := srv.parseRange(ctx, nil, srv.location(ctx))
	if err != nil {
		t.Fatal(err)
	}

	a, err := srv.buildAttr(ctx, rg)
	if err != nil {
		t.Fatal(err)
	}
	a2 := roundTrip(t, "attr|x", a)
	f1, err := attrSnapOf(a)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := attrSnapOf(a2)
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := json.Marshal(f1)
	j2, _ := json.Marshal(f2)
	if string(j1) != string(j2) {
		t.Errorf("attribution changed:\n%s\n%s", j1, j2)
	}
	if !reflect.DeepEqual(a.Cur.roi, a2.Cur.roi) || (a.Prev == nil) != (a2.Prev == nil) {
		t.Errorf("ROI or previous period changed")
	}
	if m := a.result("markov"); m != nil {
		d1, _ := m.Details.(*attribution.MarkovDetails)
		d2, _ := a2.result("markov").Details.(*attribution.MarkovDetails)
		if d1 == nil || d2 == nil || len(d1.RemovalEffects) == 0 {
			t.Fatalf("markov details %v %v", d1, d2)
		}
		for _, e := range d1.RemovalEffects {
			if d2.RemovalEffect(e.Key) != d1.RemovalEffect(e.Key) {
				t.Errorf("removal effect of %s: %v, want %v", e.Key, d2.RemovalEffect(e.Key), d1.RemovalEffect(e.Key))
			}
		}
	} else {
		t.Fatal("no markov result in the fixture")
	}

	v, err := srv.value.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v2 := roundTrip(t, "value", v)
	if !v2.BuiltAt.Equal(v.BuiltAt) {
		t.Errorf("built at %v, want %v", v2.BuiltAt, v.BuiltAt)
	}
	vc := *v2
	vc.BuiltAt = v.BuiltAt // the same instant without the monotonic clock reading
	if d := fieldsDiffer(*v, vc); len(d) > 0 {
		t.Errorf("customer value changed in %v", d)
	}

	cov, err := quality.Measure(ctx, db, rg.From, rg.To)
	if err != nil {
		t.Fatal(err)
	}
	if cov2 := roundTrip(t, "coverage|x", cov); !reflect.DeepEqual(cov, cov2) {
		t.Errorf("coverage changed:\n%+v\n%+v", cov, cov2)
	}
}

// fieldsDiffer names the fields of two structs that are not deeply equal.
func fieldsDiffer[T any](a, b T) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		if !va.Field(i).CanInterface() {
			if fmt.Sprint(va.Field(i)) != fmt.Sprint(vb.Field(i)) {
				out = append(out, va.Type().Field(i).Name)
			}
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

// TestStoredAnalysesPreloadedAtStart: a restarted dashboard reads the stored analyses at
// start, before any request, without computing them.
func TestStoredAnalysesPreloadedAtStart(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ts, srv := newTestServerOf(t, db, Options{noWarm: true})
	pagesOf(t, ts)
	srv.compute.writes.Wait()
	ts.Close()

	_, srv2 := restartedServer(t, db, Options{})
	loaded := func() bool {
		srv2.compute.mu.Lock()
		defer srv2.compute.mu.Unlock()
		n := 0
		for k, e := range srv2.compute.entries {
			if _, ok := srv2.compute.codecFor(k); ok && e.val != nil && e.done == nil {
				n++
			}
		}
		return n == 3
	}
	deadline := time.Now().Add(30 * time.Second)
	for !loaded() {
		if time.Now().After(deadline) {
			t.Fatal("the stored attribution, customer value and coverage were not read at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv2.compute.storedFills.Load(); n != 0 {
		t.Errorf("%d analyses computed at start, want 0", n)
	}
}

// TestStoredBudgetServesAfterRestart: a restarted dashboard shows the budget model
// fitted before the restart on the first request to the Budget page, without fitting
// it again, with the same figures.
func TestStoredBudgetServesAfterRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seedBudget(t, db, 240)
		read := func(ts *testServer) (string, string) {
			c, _ := ts.loggedIn(t)
			code, page := getBody(t, c, ts.URL+"/budget")
			if code != 200 || !strings.Contains(page, "Where the next euro should go") {
				t.Fatalf("budget page: %d\n%.3000s", code, page)
			}
			_, csv := getBody(t, c, ts.URL+"/budget?format=csv&table=budget-effects")
			return page, csv
		}
		ts, srv := newTestServerOf(t, db, Options{noWarm: true})
		_, before := read(ts)
		srv.compute.writes.Wait()
		ts.Close()
		closed := time.Now()

		ts2, srv2 := restartedServer(t, db, Options{noWarm: true, computeWait: 5 * time.Second})
		page, after := read(ts2)
		srv2.compute.mu.Lock()
		e := srv2.compute.entries[budgetKey(mix.TargetRevenue)]
		if e == nil || e.val == nil || e.at.After(closed) {
			t.Errorf("the restarted server fitted the budget model again, or has none")
		}
		srv2.compute.mu.Unlock()
		if strings.Contains(page, "This page reloads itself") || strings.Contains(page, "working out these numbers") || strings.Contains(page, "newer data has arrived") {
			t.Errorf("budget page after the restart is computing or stale:\n%.3000s", page)
		}
		if before != after {
			t.Errorf("budget effects differ after the restart:\nbefore %s\nafter  %s", before, after)
		}
		if n := srv2.compute.storedFills.Load(); n != 0 {
			t.Errorf("the restarted server computed %d stored analyses, want 0", n)
		}
	})
}
