package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestSourcesCountsFollowNewEvents: the Sources page keeps its event counts for the
// event log's version, so events that arrive show on the next load, not a while later.
func TestSourcesCountsFollowNewEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := newTestServer(t, db, Options{})
		if _, _, err := db.CreateSource(ctx, "web"); err != nil {
			t.Fatal(err)
		}
		c, _ := ts.loggedIn(t)
		dayCount := func() string {
			t.Helper()
			_, body := get(t, c, ts.URL+"/sources?format=json")
			var js struct {
				Tables map[string][]map[string]string `json:"tables"`
			}
			if err := json.Unmarshal([]byte(body), &js); err != nil {
				t.Fatal(err)
			}
			for _, r := range js.Tables["sources"] {
				if r["Source"] == "web" {
					return r["Events, last 24 h"]
				}
			}
			t.Fatalf("no source web: %.500s", body)
			return ""
		}
		track := func(n int) {
			var evs []map[string]any
			for range n {
				evs = append(evs, map[string]any{"type": "track", "event": "Viewed", "userId": "u1"})
			}
			identitytest.Load(t, db, "web", testNow.Add(-time.Minute), evs...)
		}
		track(2)
		if got := dayCount(); got != "2" {
			t.Fatalf("%s events in the last 24 h, want 2", got)
		}
		track(3)
		if got := dayCount(); got != "5" {
			t.Errorf("after 3 more events the page says %s, want 5", got)
		}
	})
}

// TestBudgetPlanFollowsSpend: the Budget page keeps its plan with the model of a data
// version; new spend gives a new model and the page shows its plan, not the one kept.
// (Serving shows a result up to compute.minAge old while newer data waits, with the
// time it was computed; here minAge is 0 so the new version is built at once.)
func TestBudgetPlanFollowsSpend(t *testing.T) {
	db := storetest.SQLite(t)
	seedBudget(t, db, 240)
	ts, srv := newTestServerOf(t, db, Options{noWarm: true})
	srv.compute.mu.Lock()
	srv.compute.minAge = 0
	srv.compute.mu.Unlock()
	c, _ := ts.loggedIn(t)
	plan := func() map[string]string {
		t.Helper()
		_, body := getBody(t, c, ts.URL+"/budget?format=csv&table=budget-plan")
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%v: %.500s", err, body)
		}
		out := map[string]string{}
		for _, r := range recs[1:] {
			out[r[0]] = r[1] // spend per month now
		}
		return out
	}
	want := func() map[string]string {
		t.Helper()
		_, m, err := mix.NewService(db).Model(context.Background(), mix.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := m.Plan(mix.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, ch := range pl.Channels {
			out[ch.Channel] = money.Format(int64(math.Round(ch.Current*365.25/12/float64(m.WindowDays())*100)), "EUR")
		}
		return out
	}
	before := plan()
	if w := want(); !equalMaps(before, w) {
		t.Fatalf("plan %v, want %v", before, w)
	}
	plan() // a repeat load: served from the kept plan
	if _, err := db.Exec(context.Background(), `UPDATE spend SET amount_minor = amount_minor * 3 WHERE channel = 'Paid Search'`); err != nil {
		t.Fatal(err)
	}
	after := plan()
	if w := want(); !equalMaps(after, w) || equalMaps(after, before) {
		t.Errorf("after tripling Paid Search's spend the plan says %v (before %v), want %v", after, before, w)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestComputeWaitCountsFromBuildStart: while a long rebuild runs, a request that finds
// an older result is served it once the build has run longer than the wait, instead of
// waiting the whole wait again (repeat loads stay fast while new data is analysed).
func TestComputeWaitCountsFromBuildStart(t *testing.T) {
	c := newComputeCache(time.Hour)
	if v, _, _, err := computed(c, "k", "v1", func(context.Context) (int, error) { return 1, nil }); err != nil || v != 1 {
		t.Fatalf("v1: %v %v", v, err)
	}
	release := make(chan struct{})
	defer close(release)
	slow := func(context.Context) (int, error) { <-release; return 2, nil }
	c.wait = time.Millisecond
	if v, _, stale, err := computed(c, "k", "v2", slow); err != nil || v != 1 || !stale {
		t.Fatalf("while v2 builds: %v stale=%v %v", v, stale, err)
	}
	// The build has been running for longer than the wait.
	c.mu.Lock()
	c.entries["k"].since = time.Now().Add(-2 * time.Hour)
	c.wait = time.Hour
	c.mu.Unlock()
	got := make(chan int, 1)
	go func() {
		v, _, _, _ := computed(c, "k", "v2", slow)
		got <- v
	}()
	select {
	case v := <-got:
		if v != 1 {
			t.Errorf("served %d, want the older result 1", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request waits for a build that started longer than the wait ago")
	}
}

// TestComputePlaceholderWithoutWaitingAgain: while the first build of an analysis runs
// (nothing older to show), only the requests of its first wait wait for it; a repeat
// request that comes once the build has run longer than the wait gets the placeholder
// at once instead of waiting the whole budget again.
func TestComputePlaceholderWithoutWaitingAgain(t *testing.T) {
	c := newComputeCache(time.Millisecond)
	release := make(chan struct{})
	slow := func(context.Context) (int, error) { <-release; return 7, nil }
	if _, _, _, err := computed(c, "k", "v1", slow); !errors.Is(err, errComputing) {
		t.Fatalf("first request while building: %v, want errComputing", err)
	}
	// The build has been running for longer than the wait, which is now long.
	c.mu.Lock()
	c.entries["k"].since = time.Now().Add(-2 * time.Hour)
	c.wait = time.Hour
	c.mu.Unlock()
	got := make(chan error, 1)
	go func() {
		_, _, _, err := computed(c, "k", "v1", slow)
		got <- err
	}()
	select {
	case err := <-got:
		if !errors.Is(err, errComputing) {
			t.Errorf("repeat request: %v, want the placeholder (errComputing)", err)
		}
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("a repeat request waits the whole budget again for a build already running longer than it")
	}
	close(release)
	// Once the build ends, its result is served.
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, _, _, err := computed(c, "k", "v1", slow)
		if err == nil && v == 7 {
			break
		}
		if !errors.Is(err, errComputing) || time.Now().After(deadline) {
			t.Fatalf("after the build: %v %v", v, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestComputeFirstRequestWaitsForBuild: the request that starts a build waits up to the
// budget for it, so a build quicker than the budget is answered in the same request.
func TestComputeFirstRequestWaitsForBuild(t *testing.T) {
	c := newComputeCache(time.Hour)
	start := make(chan struct{})
	fill := func(context.Context) (int, error) { <-start; return 3, nil }
	got := make(chan int, 1)
	go func() {
		v, _, _, _ := computed(c, "k", "v1", fill)
		got <- v
	}()
	close(start)
	if v := <-got; v != 3 {
		t.Errorf("first request: %d, want the build's result 3", v)
	}
}

// TestComputeBuildStartedWithoutBudget: a request whose wait is spent (a page that looked
// up another analysis first) starts a build without waiting, and the next request does
// not wait for that build either: it gets the placeholder at once.
func TestComputeBuildStartedWithoutBudget(t *testing.T) {
	c := newComputeCache(time.Hour)
	release := make(chan struct{})
	defer close(release)
	slow := func(context.Context) (int, error) { <-release; return 7, nil }
	spent := context.WithValue(context.Background(), waitBudgetKey{}, time.Now().Add(-time.Second))
	if _, _, _, err := computedIn(spent, c, c.sem, "k", "v1", slow); !errors.Is(err, errComputing) {
		t.Fatalf("request without budget: %v, want errComputing", err)
	}
	got := make(chan error, 1)
	go func() {
		fresh := context.WithValue(context.Background(), waitBudgetKey{}, time.Now().Add(time.Hour))
		_, _, _, err := computedIn(fresh, c, c.sem, "k", "v1", slow)
		got <- err
	}()
	select {
	case err := <-got:
		if !errors.Is(err, errComputing) {
			t.Errorf("next request: %v, want the placeholder (errComputing)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the next request waits for a build whose first request had no wait left")
	}
}

// holdLane takes every slot of a build lane: builds queued on it wait until releaseLane.
func holdLane(lane chan struct{}) {
	for range cap(lane) {
		lane <- struct{}{}
	}
}

func releaseLane(lane chan struct{}) {
	for range cap(lane) {
		<-lane
	}
}

// TestComputeBuildsShareCores: on a machine with two cores, two independent builds run
// at the same time: each of these waits until the other has started, so one lane would
// hold the second behind the first until the deadline.
func TestComputeBuildsShareCores(t *testing.T) {
	if got := buildLanes(1); got != 1 {
		t.Errorf("buildLanes(1) = %d, want 1", got)
	}
	if got := buildLanes(8); got != 2 {
		t.Errorf("buildLanes(8) = %d, want 2", got)
	}
	if runtime.NumCPU() < 2 {
		t.Skip("one processor: builds take turns")
	}
	c := newComputeCache(time.Millisecond)
	var started sync.WaitGroup
	started.Add(2)
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	fill := func(ctx context.Context) (int, error) {
		started.Done()
		select {
		case <-both:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	for _, k := range []string{"a", "b"} {
		// The second may finish within the wait: both have started then.
		if _, _, _, err := computedIn(context.Background(), c, c.sem, k, "v1", fill); err != nil && !errors.Is(err, errComputing) {
			t.Fatalf("build %s: %v", k, err)
		}
	}
	select {
	case <-both:
	case <-time.After(30 * time.Second):
		t.Fatal("the second build did not start while the first one ran")
	}
}
