package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// errComputing tells a page that its numbers are being computed in the background; the
// page shows a notice that reloads itself instead of holding the request for seconds.
var errComputing = errors.New("computing")

// computeCache holds the results of the heavy analyses (journeys and attribution models,
// customer-value fits) keyed by what they were computed for, each stamped with the data
// version it was computed at. A request never waits for a build longer than wait: when a
// result of an older version exists it is served while the new one is built (the numbers
// move with batches of events, and the page says when they were computed); when none
// exists, the page says "computing" and reloads itself.
type computeCache struct {
	mu      sync.Mutex
	entries map[string]*computeEntry
	wait    time.Duration
	// sem bounds concurrent builds of models (journeys and attribution, value fits,
	// coverage): the machine is small and the builds are CPU-bound (buildLanes).
	sem chan struct{}
	// quick is the lane of a page's own figures (the Overview's sales, the journeys' and
	// experiments' reports: a second or two at most), so that they never queue behind a
	// model that takes half a minute.
	quick  chan struct{}
	warmed time.Time // last warm-up start (guarded by mu)
	// minAge is how long a result is served before newer data triggers a rebuild: a
	// shop sending a trickle of events must not keep a core busy rebuilding journeys.
	minAge time.Duration
	// epoch counts changes made through the dashboard that the data version does not
	// see (a journey's costs or state); versions that depend on them include it.
	epoch atomic.Int64
	// snaps keeps the results of the kinds registered in snapshots.go across restarts;
	// nil keeps them in memory only. report receives a failed read or write of it.
	snaps  snapshotStore
	report func(key string, err error)
	// codecs are the stored kinds by key prefix (snapCodecTable), read only.
	codecs map[string]snapCodec
	// storeEvery is how often a key's result is written at most: a shop's trickle of
	// events rebuilds the customer value every minAge, and its stored form is 50 MB at
	// 100,000 customers; after a restart a result up to storeEvery older than the last
	// one is shown with its age while the new one builds.
	storeEvery time.Duration
	writes     sync.WaitGroup // writes of snapshots in flight
	// storedFills counts the builds of stored kinds (snapshots.go) that ran their fill
	// function and gave a result: a stored result of the current version saves it (a
	// failure, such as too little history for the budget model, is not stored).
	storedFills atomic.Int64
}

type computeEntry struct {
	version  string
	val      any
	err      error
	at       time.Time
	building string        // version being built, "" when idle
	done     chan struct{} // closed when the current build ends
	failed   string        // a version whose build failed while an older value was kept
	since    time.Time     // when the running build started
	restored bool          // the stored result was looked up (the entry's first build)
	savedAt  time.Time     // when the stored result was computed (restored or written)
}

func newComputeCache(wait time.Duration) *computeCache {
	return &computeCache{entries: map[string]*computeEntry{}, wait: wait, sem: make(chan struct{}, buildLanes(runtime.NumCPU())), quick: make(chan struct{}, 1), codecs: snapCodecTable()}
}

// buildLanes is how many model builds run at once on a machine with cpus processors:
// two when there are two or more. The builds are independent (journeys, value fits,
// coverage, the budget model), each mostly on one core; one lane on a two-core machine
// left a core idle while a fresh server's pages waited in line behind each other (the
// Budget page behind coverage, attribution and the value fits). More than two would
// take the cores the quick lane and the requests themselves need.
func buildLanes(cpus int) int {
	return max(1, min(2, cpus))
}

// computed returns the value for key at version, building it with fill in the background
// when needed. stale reports that an older version's value was returned.
func computed[T any](c *computeCache, key, version string, fill func(ctx context.Context) (T, error)) (v T, at time.Time, stale bool, err error) {
	return computedIn(context.Background(), c, c.sem, key, version, fill)
}

// waitBudgetKey carries a request's deadline for waiting on background builds.
type waitBudgetKey struct{}

// withWaitBudget gives the request one compute wait in all: a page that looks up several
// analyses waits at most that long in total, however many of them are being built.
func (s *server) withWaitBudget(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(waitBudgetKey{}).(time.Time); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), waitBudgetKey{}, time.Now().Add(s.compute.wait)))
}

// computedIn is computed with the build in lane (c.sem or c.quick), waiting at most what
// is left of ctx's wait budget (withWaitBudget), or c.wait without one.
func computedIn[T any](ctx context.Context, c *computeCache, lane chan struct{}, key, version string, fill func(ctx context.Context) (T, error)) (v T, at time.Time, stale bool, err error) {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		c.evict()
		e = &computeEntry{}
		c.entries[key] = e
	}
	// A failed build (no older value to show) is retried after a minute, not on every request.
	retry := e.err != nil && time.Since(e.at) > time.Minute
	if e.version == version && e.done == nil && (e.val != nil || e.err != nil) && !retry {
		val, err, at := e.val, e.err, e.at
		c.mu.Unlock()
		if err != nil {
			return v, at, false, err
		}
		return val.(T), at, false, nil
	}
	if e.val != nil && e.version != version && e.done == nil && time.Since(e.at) < c.minAge && sameSettings(e.version, version) {
		val, at := e.val, e.at
		c.mu.Unlock()
		return val.(T), at, true, nil
	}
	started := false
	if e.building != version && e.failed != version {
		if e.done != nil {
			// A build of an older version is running; let it finish, the next request
			// starts the new one (it will see a stale value meanwhile).
		} else {
			e.building = version
			e.done = make(chan struct{})
			e.since = time.Now()
			started = true
			go c.build(lane, key, e, version, func(ctx context.Context) (any, error) { return fill(ctx) })
		}
	}
	done := e.done
	// The wait counts from the running build's start, not from each request: the
	// request that starts a build waits up to c.wait for it, and requests that come
	// while it runs wait only what is left of that, so a long build makes the requests
	// of its first c.wait wait, not every request until it ends. They get the older
	// result with its age, or the placeholder that fills in.
	wait := c.wait
	if done != nil {
		wait -= time.Since(e.since)
	}
	if dl, ok := ctx.Value(waitBudgetKey{}).(time.Time); ok {
		wait = min(wait, time.Until(dl))
		if started && wait <= 0 {
			// The request that starts this build has spent its wait on other analyses
			// (the Budget page's credit comparison starts after its fit): the build's
			// first wait is spent, so the next request does not wait for it either.
			e.since = time.Now().Add(-c.wait)
		}
	}
	c.mu.Unlock()
	if done != nil && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.val == nil && e.err == nil {
		return v, time.Time{}, false, errComputing
	}
	if e.val == nil {
		return v, e.at, false, e.err
	}
	return e.val.(T), e.at, e.version != version, nil
}

// await waits until no build of key is running, or ctx ends.
func (c *computeCache) await(ctx context.Context, key string) {
	c.mu.Lock()
	var done chan struct{}
	if e := c.entries[key]; e != nil {
		done = e.done
	}
	c.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// maxComputeEntries bounds the cache: every custom period is an entry (a few MB at most).
const maxComputeEntries = 64

// evict drops the oldest idle entry when the cache is full; c.mu is held.
func (c *computeCache) evict() {
	if len(c.entries) < maxComputeEntries {
		return
	}
	var oldest string
	var at time.Time
	for k, e := range c.entries {
		if e.done == nil && (oldest == "" || e.at.Before(at)) {
			oldest, at = k, e.at
		}
	}
	if oldest != "" {
		delete(c.entries, oldest)
	}
}

func (c *computeCache) build(lane chan struct{}, key string, e *computeEntry, version string, fill func(ctx context.Context) (any, error)) {
	// The build outlives the request that started it: other requests wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if c.restore(ctx, key, e, version) {
		return
	}
	// Read before the build reads the data: an erasure that commits after this keeps
	// the result out of the store (it may hold the erased person).
	guard, gerr := "", error(nil)
	if c.snaps != nil {
		guard, gerr = c.snaps.guard(ctx)
	}
	lane <- struct{}{}
	defer func() { <-lane }()
	val, err := func() (v any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: panic: %v", key, r)
			}
		}()
		return fill(ctx)
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.codecFor(key); ok && err == nil {
		c.storedFills.Add(1)
	}
	switch {
	case err == nil:
		e.val, e.err, e.failed = val, nil, ""
		e.version, e.at = version, time.Now()
		if c.snaps != nil && e.at.Sub(e.savedAt) >= c.storeEvery {
			if gerr != nil {
				c.reportErr(key, gerr)
			} else {
				e.savedAt = e.at
				c.writes.Add(1)
				go c.persist(key, version, e.at, val, guard)
			}
		}
	case e.val == nil:
		e.err = err
		e.version, e.at = version, time.Now()
	default:
		// Keep serving the older result rather than retrying on every request; the next
		// data version tries again.
		e.failed = version
	}
	close(e.done)
	e.done, e.building = nil, ""
}

// restore serves the entry's first build from the stored result of key, when its kind
// is stored (snapshots.go) and its row was computed under the same settings: a row of
// the current version ends the build (true); an older one is served as stale while the
// build goes on, as an older value in memory would be, unless it is younger than
// c.minAge: then the build ends there too, and a request after minAge starts the next.
func (c *computeCache) restore(ctx context.Context, key string, e *computeEntry, version string) bool {
	c.mu.Lock()
	look := c.snaps != nil && !e.restored && e.val == nil
	e.restored = true
	c.mu.Unlock()
	if !look {
		return false
	}
	codec, ok := c.codecFor(key)
	if !ok {
		return false
	}
	row, ok, err := c.snaps.load(ctx, key)
	if err != nil {
		c.reportErr(key, err)
		return false
	}
	if !ok || row.Format != codec.format || (row.Version != version && !sameSettings(row.Version, version)) {
		return false
	}
	val, err := codec.decode(row.Body)
	if err != nil {
		c.reportErr(key, fmt.Errorf("read stored result: %w", err))
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.val, e.err, e.version, e.at = val, nil, row.Version, row.At
	e.savedAt = row.At
	if row.Version != version && time.Since(row.At) >= c.minAge {
		return false
	}
	close(e.done)
	e.done, e.building = nil, ""
	return true
}

// preload reads the stored result of key into the cache without building: a restarted
// server does it at start, so that the first request finds the customer value (50 MB,
// 1–2 s to read at 100,000 customers) in memory. A row of the current version is the
// result; an older one of the same settings is served as stale on the first request,
// which starts the build.
func (c *computeCache) preload(ctx context.Context, key, version string) {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		c.evict()
		e = &computeEntry{}
		c.entries[key] = e
	}
	if e.done != nil || e.restored || e.val != nil {
		c.mu.Unlock()
		return
	}
	e.building, e.done, e.since = version, make(chan struct{}), time.Now()
	c.mu.Unlock()
	if c.restore(ctx, key, e, version) {
		return
	}
	c.mu.Lock()
	close(e.done)
	e.done, e.building = nil, ""
	c.mu.Unlock()
}

// persist stores a build's result (kinds of snapshots.go only), when the guard read
// before the build still holds; a failure goes to c.report.
func (c *computeCache) persist(key, version string, at time.Time, val any, guard string) {
	defer c.writes.Done()
	codec, ok := c.codecFor(key)
	if !ok {
		return
	}
	body, err := codec.encode(val)
	if err != nil {
		c.reportErr(key, fmt.Errorf("encode result: %w", err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.snaps.save(ctx, store.AnalysisSnapshot{Key: key, Version: version, Format: codec.format, At: at, Body: body}, guard)
	if err != nil && !errors.Is(err, store.ErrGuardMoved) {
		c.reportErr(key, err)
	}
}

func (c *computeCache) reportErr(key string, err error) {
	if c.report != nil {
		c.report(key, err)
	}
}

// stamp says when an analysis was computed and whether newer data is being processed.
type stamp struct {
	At    time.Time
	Stale bool
}

// dataVersion identifies the state of everything the analyses read: the processor's
// cursor (it writes derived tables and cursor in one transaction, so an unchanged cursor
// means unchanged customers, activity and orders), the spend table (imports add no
// event) and the settings (workspace.Version). Three small queries.
func (s *server) dataVersion(ctx context.Context) (string, error) {
	cursor, _, err := s.db.Setting(ctx, identity.CursorSetting)
	if err != nil {
		return "", fmt.Errorf("read processor cursor: %w", err)
	}
	var n, sum int64
	if ok, err := s.hasTable(ctx, "spend"); err != nil {
		return "", err
	} else if ok {
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*), `+s.db.SumMinor("amount_minor")+` FROM spend`).Scan(&n, &sum); err != nil {
			return "", fmt.Errorf("read spend version: %w", err)
		}
	}
	sv, err := workspace.Version(ctx, s.db)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s|%d|%d%s%s", cursor, n, sum, settingsSep, sv), nil
}

// settingsSep separates a data version's data part from its settings part.
const settingsSep = "#settings:"

// sameSettings reports whether two data versions were taken under the same settings. A
// result computed under other settings (another currency, time zone or margin) is never
// served while the new one is built: it would show wrong numbers, not merely old ones.
func sameSettings(a, b string) bool {
	_, sa, _ := strings.Cut(a, settingsSep)
	_, sb, _ := strings.Cut(b, settingsSep)
	return sa == sb
}

// preloadStored reads the stored analyses of the default period and the customer value
// into the cache at start (compute.go, preload), in the background.
func (s *server) preloadStored() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if ok, err := s.hasTable(ctx, "orders"); err != nil || !ok {
			return
		}
		ver, err := s.dataVersion(ctx)
		if err != nil {
			return // the pages report it
		}
		s.compute.preload(ctx, valueKey, ver)
		rg, _ := s.parseRange(ctx, nil, s.location(ctx))
		s.compute.preload(ctx, coverageKey(rg), ver)
		cur, err := s.businessCurrency(ctx)
		if err != nil {
			return
		}
		if av, err := s.attr.Version(ctx); err == nil {
			s.compute.preload(ctx, attrKey(rg, cur), av)
		}
		if bv, err := s.budgetVersion(ctx); err == nil {
			s.compute.preload(ctx, budgetKey(mix.TargetRevenue), bv)
		}
	}()
}

// warm starts building the analyses of the default period and the budget model in the
// background, at most once a minute; the builds themselves are skipped when the data has
// not changed.
func (s *server) warm() {
	if s.opt.noWarm {
		return
	}
	now := s.opt.Now()
	s.compute.mu.Lock()
	if now.Sub(s.compute.warmed) < time.Minute {
		s.compute.mu.Unlock()
		return
	}
	s.compute.warmed = now
	s.compute.mu.Unlock()
	go func() {
		// Long enough to wait for the budget fit of a large store on a busy machine.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if ok, err := s.hasTable(ctx, "orders"); err != nil || !ok {
			return
		}
		loc := s.location(ctx)
		rg, _ := s.parseRange(ctx, nil, loc)
		cur, err := s.businessCurrency(ctx)
		if err != nil {
			cur = defaultCurrency
		}
		// Errors show on the pages that need these; here they would only be noise.
		// Builds queue on their lane in the order they are asked for: first what pages
		// wait for (the Overview's figures, its ROI and effect sections, the Attribution
		// and Budget pages, the customer list), then the coverage, which no page waits
		// for (it shows "being measured" meanwhile). On a 100,000-customer store the
		// coverage took the only lane first for 7 CPU-seconds.
		_, _, _ = s.overviewFor(ctx, rg, cur)
		_, _, _ = s.attrFor(ctx, rg, cur)
		spend, err := s.hasTable(ctx, "spend")
		spend = spend && err == nil
		if spend {
			_, _, _ = s.budgetFor(ctx, mix.TargetRevenue)
		}
		_, _, _ = s.valueFor(ctx)
		if spend {
			// The Budget page's credit comparison (attribution over the model's window)
			// needs the fitted model: ask for it when the fit is done, before the coverage.
			s.compute.await(ctx, budgetKey(mix.TargetRevenue))
			if bm, _, err := s.budgetFor(ctx, mix.TargetRevenue); err == nil && bm != nil {
				s.budgetCredit(ctx, bm.model, cur)
			}
		}
		_, _, _ = s.coverageFor(ctx, rg)
	}()
}
