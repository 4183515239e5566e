package journey

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Settings the engine keeps.
const (
	CursorSetting        = "journey.cursor"         // last event seq consumed
	SegmentCursorSetting = "journey.segment_cursor" // last segment_changes id consumed
	DatesSetting         = "journey.dates_day"      // last day date entries ran (YYYY-MM-DD, UTC)
	LeadCursorSetting    = "journey.lead_cursor"    // last lead_score_changes id consumed
	SecretSetting        = "journey.secret"         // hex HMAC key for tracking and unsubscribe tokens
	PolicySetting        = "journey.policy"         // workspace policy JSON (WorkspacePolicy)
	ProcessorCursor      = identity.CursorSetting   // the engine never reads past it
	SourceName           = "journeys"               // source of the events the engine writes
	leaseName            = "journey.events"
)

// Options configure an Engine. Zero values take defaults.
type Options struct {
	Senders      map[string]Sender // by channel: email, sms, push, webhook; sends on a missing one fail ("no sender configured")
	BaseURL      string            // public base URL for /j/ links, e.g. https://shop.example.com
	Business     string            // business name for templates
	ShopURL      string            // the shop's website for template links; default: the shop_url setting
	Policy       *WorkspacePolicy  // default: the journey.policy setting, else no cap and no quiet hours
	Now          func() time.Time
	PollInterval time.Duration // default 1s
	Batch        int           // events, timers or sends per transaction; default 1000
	Workers      int           // concurrent deliveries; default 16
	LeaseTTL     time.Duration // how long a claimed send is ours before another process retries it; default 1m
	MaxEntryAge  time.Duration // events older than this never start runs (backfills); default 24h
	MaxAttempts  int           // delivery attempts before a send fails; default 8
	OnEvents     func()        // called after the engine committed events to the log (wake the processor)
	Recommender  Recommender   // product recommendations for templates ({{recommend "for-you" 3}}); nil: none
	Owner        string
	Logger       *slog.Logger
}

// Engine consumes the event log and runs journeys. Several processes may run one:
// the event cursor is guarded by a lease, timers and sends are claimed row by row.
type Engine struct {
	db       *store.DB
	opt      Options
	secret   []byte
	sourceID int64
	policy   atomic.Pointer[WorkspacePolicy] // reloaded by loadPlans unless Options.Policy is set
	policyAt time.Time                       // guarded by mu

	mu       sync.Mutex
	plans    map[string]map[int]*Plan // name → version → plan
	latest   map[string]int           // enabled journeys: name → latest version
	loaded   [2]int
	loadedAt time.Time
	notify   chan struct{}
	bandits  map[string]banditState // optimised tests' shares for the current period
}

// NewEngine prepares an engine: it creates the journeys source and the token secret if
// they do not exist yet.
func NewEngine(ctx context.Context, db *store.DB, opt Options) (*Engine, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.Batch <= 0 {
		opt.Batch = 1000
	}
	if opt.Workers <= 0 {
		opt.Workers = 16
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = time.Minute
	}
	if opt.MaxEntryAge <= 0 {
		opt.MaxEntryAge = 24 * time.Hour
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 8
	}
	if opt.Owner == "" {
		h, _ := os.Hostname()
		opt.Owner = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), store.NewKey("")[:8])
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Business == "" {
		var err error
		if opt.Business, err = businessName(ctx, db); err != nil {
			return nil, err
		}
	}
	e := &Engine{db: db, opt: opt, notify: make(chan struct{}, 1)}
	src, err := db.EnsureSource(ctx, SourceName)
	if err != nil {
		return nil, fmt.Errorf("journey source: %w", err)
	}
	e.sourceID = src.ID
	if e.opt.ShopURL == "" {
		if e.opt.ShopURL, err = workspace.ShopURL(ctx, db); err != nil {
			return nil, err
		}
	}
	e.opt.ShopURL = strings.TrimSuffix(e.opt.ShopURL, "/")
	if e.secret, err = Secret(ctx, db); err != nil {
		return nil, err
	}
	if opt.Policy != nil {
		p := *opt.Policy
		e.policy.Store(&p)
	} else {
		p, err := LoadPolicy(ctx, db)
		if err != nil {
			return nil, err
		}
		e.policy.Store(&p)
		e.policyAt = time.Now()
	}
	return e, nil
}

// Secret returns the workspace's token key, creating it on first use.
func Secret(ctx context.Context, db *store.DB) ([]byte, error) {
	v, ok, err := db.Setting(ctx, SecretSetting)
	if err != nil {
		return nil, err
	}
	if !ok {
		var b [32]byte
		_, _ = rand.Read(b[:])
		err = db.Write(ctx, func(tx *store.Tx) error {
			// Two processes starting at once: the first writer wins, the other reads it.
			_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, SecretSetting, hex.EncodeToString(b[:]))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("create journey secret: %w", err)
		}
		if v, _, err = db.Setting(ctx, SecretSetting); err != nil {
			return nil, err
		}
	}
	s, err := hex.DecodeString(v)
	if err != nil || len(s) < 16 {
		return nil, fmt.Errorf("setting %s is not a hex key", SecretSetting)
	}
	return s, nil
}

// Notify wakes Run, e.g. after the processor committed; it never blocks.
func (e *Engine) Notify() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// Run works until ctx ends. Errors are logged and retried: a journey engine that stops on
// a transient database error would silently stop sending.
func (e *Engine) Run(ctx context.Context) error {
	for {
		n, err := e.Step(ctx)
		if ctx.Err() != nil {
			e.db.ReleaseLease(context.Background(), leaseName, e.opt.Owner)
			return nil
		}
		if err != nil {
			e.opt.Logger.Error("journey engine", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-e.notify:
		case <-time.After(e.opt.PollInterval):
		}
	}
}

// Step does one round of every kind of work and reports how many items it handled.
func (e *Engine) Step(ctx context.Context) (int, error) {
	if err := e.loadPlans(ctx); err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, f := range []func(context.Context) (int, error){e.consumeEvents, e.consumeSegments, e.consumeLeadScores, e.dateEntries, e.fireTimers, e.dispatch, e.dispatchConfirmations} {
		n, err := f(ctx)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// Drain steps until there is nothing left to do now (tests, benchmarks, CLI).
func (e *Engine) Drain(ctx context.Context) error {
	for {
		n, err := e.Step(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func (e *Engine) loadPlans(ctx context.Context) error {
	// Versions are only added and enabled only toggled, so (count, enabled) changes
	// whenever the set of plans does.
	var count, enabled int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(enabled), 0) FROM journeys`).Scan(&count, &enabled); err != nil {
		return fmt.Errorf("load journeys: %w", err)
	}
	sig := [2]int{count, enabled}
	// The workspace policy (`omniroi journey policy`, PUT /api/v1/journeys/policy) is
	// re-read as often as the plans are fully reloaded, so a change needs no restart.
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opt.Policy == nil && time.Since(e.policyAt) >= 30*time.Second {
		p, err := LoadPolicy(ctx, e.db)
		if err != nil {
			return err
		}
		e.policy.Store(&p)
		e.policyAt = time.Now()
	}
	// A full reload now and then catches a disable and an enable in the same interval.
	if sig == e.loaded && e.plans != nil && time.Since(e.loadedAt) < 30*time.Second {
		return nil
	}
	rows, err := e.db.Query(ctx, `SELECT name, version, enabled, plan FROM journeys ORDER BY name, version`)
	if err != nil {
		return fmt.Errorf("load journeys: %w", err)
	}
	defer rows.Close()
	plans, latest := map[string]map[int]*Plan{}, map[string]int{}
	for rows.Next() {
		var name, pj string
		var v, en int
		if err := rows.Scan(&name, &v, &en, &pj); err != nil {
			return err
		}
		p := &Plan{}
		if err := json.Unmarshal([]byte(pj), p); err != nil {
			return fmt.Errorf("journey %s v%d: %w", name, v, err)
		}
		if plans[name] == nil {
			plans[name] = map[int]*Plan{}
		}
		plans[name][v] = p
		if en == 1 {
			latest[name] = v
		} else {
			delete(latest, name)
		}
	}
	e.plans, e.latest, e.loaded, e.loadedAt = plans, latest, sig, time.Now()
	return rows.Err()
}

func (e *Engine) plan(name string, v int) *Plan {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.plans[name][v]
}

// entryPlans returns the enabled journeys' latest plans, by name: an event entering two
// journeys starts their runs in the same order (and so with the same ids) every time.
func (e *Engine) entryPlans() []*Plan {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Plan, 0, len(e.latest))
	for name, v := range e.latest {
		out = append(out, e.plans[name][v])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func settingInt(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) *sql.Row
}, key string) (int64, error) {
	var v string
	err := q.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read setting %s: %w", key, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("setting %s: %w", key, err)
	}
	return n, nil
}

// lockedSettingInt reads a cursor setting inside tx, locking its row on PostgreSQL so
// two processes cannot both consume from the same position.
func lockedSettingInt(ctx context.Context, tx *store.Tx, key string) (int64, error) {
	if tx.Dialect != store.Postgres {
		return settingInt(ctx, tx, key)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, '0') ON CONFLICT (key) DO NOTHING`, key); err != nil {
		return 0, err
	}
	var v string
	if err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = ? FOR UPDATE`, key).Scan(&v); err != nil {
		return 0, fmt.Errorf("read setting %s: %w", key, err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// run is one journey_runs row in memory. Within a work's batch each run has one
// struct, changed in place; the lower-case fields are its state to write.
type run struct {
	ID         int64
	Journey    string
	Version    int
	CustomerID int64
	Key        string
	Step       int
	Holdout    bool
	Props      json.RawMessage
	StartedAt  int64
	EntrySeq   int64

	status             string // active, done, exited
	reason             string
	endedAt, updatedAt int64
	isNew              bool // reserved id, row not written yet
}

// consumeEvents reads the log after our cursor, up to the processor's cursor (so the
// customers and identities it resolves are already there), and moves runs along.
//
// Only track events whose name some plan acts on can change anything: the entry event of
// an enabled journey, or an exit or wait-until event of any plan version (runs of a
// disabled journey or an older version still end on them). The engine reads only those
// (and nothing when no plan names any), so that a shop without journeys pays nothing per
// event. The cursor still moves over every event it passed, as before: a journey applied
// later starts with the events after the cursor at the time the engine loads it, as it
// always did.
func (e *Engine) consumeEvents(ctx context.Context) (int, error) {
	// The lease only saves a second process wasted work; the row lock on the cursor
	// below is what makes consumption exactly-once. Short, so a killed owner's lease
	// does not stall a restart for long.
	ok, err := e.db.AcquireLease(ctx, leaseName, e.opt.Owner, max(2*time.Second, 3*e.opt.PollInterval, min(e.opt.LeaseTTL, 10*time.Second)))
	if err != nil || !ok {
		return 0, err
	}
	cursor, err := settingInt(ctx, e.db, CursorSetting)
	if err != nil {
		return 0, err
	}
	limit, err := settingInt(ctx, e.db, ProcessorCursor)
	if err != nil {
		return 0, err
	}
	if cursor >= limit {
		return 0, nil
	}
	// One transaction passes at most scanSpan events of the log, read or not.
	upTo := min(limit, cursor+int64(e.opt.Batch)*scanSpanBatches)
	names := e.actionableNames()
	evs, err := e.db.ReadTrackEvents(ctx, cursor, upTo, names, e.opt.Batch)
	if err != nil {
		return 0, err
	}
	next := upTo
	if len(evs) == e.opt.Batch {
		next = evs[len(evs)-1].Seq // a full batch: the rest of the span is read next time
	}
	now := e.opt.Now()
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		// The cursor is re-read under the write lock: a second process that lost the
		// lease between our check and here must not consume the same events twice.
		cur, err := lockedSettingInt(ctx, tx, CursorSetting)
		if err != nil {
			return err
		}
		if cur != cursor {
			return errCursorMoved
		}
		if len(evs) > 0 {
			ps := make([]*event.Event, len(evs))
			for i := range evs {
				ps[i] = &evs[i]
			}
			if err := e.newWork(tx, now).onEvents(ctx, ps); err != nil {
				return err
			}
		}
		return store.SetSetting(ctx, tx, CursorSetting, strconv.FormatInt(next, 10))
	})
	if errors.Is(err, errCursorMoved) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journey events: %w", err)
	}
	return int(next - cursor), nil
}

// scanSpanBatches bounds the log one consumeEvents passes over: Batch events of it read,
// at most this many Batches passed.
const scanSpanBatches = 50

// actionableNames are the track event names a loaded plan acts on: enabled journeys'
// entry events, and every plan version's exit and wait-until events.
func (e *Engine) actionableNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	set := map[string]bool{}
	for name, v := range e.latest {
		if pl := e.plans[name][v]; pl != nil && pl.Entry.Kind == "event" && pl.Entry.Event != "" {
			set[pl.Entry.Event] = true
		}
	}
	for _, versions := range e.plans {
		for _, pl := range versions {
			for _, m := range pl.Exit {
				set[m.Event] = true
			}
			for _, n := range pl.Nodes {
				if n.Until != nil {
					set[n.Until.Event] = true
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

var errCursorMoved = errors.New("journey cursor moved")

// work is one transaction's worth of engine state changes. Writes are buffered
// (batch_work.go) and reads of a batch are made up front (batch_read.go).
type work struct {
	e        *Engine
	tx       *store.Tx
	q        *stmts
	now      time.Time
	profiles map[int64]*Profile
	buf      buffer

	// Read for the current batch only (endScope forgets them).
	merges      map[int64][]int64 // survivor → customers merged into it
	open        map[int64][]*run  // customer → active runs (customers in openLoaded)
	openLoaded  map[int64]bool
	stats       map[statKey]*runStat
	statsLoaded map[int64]bool
	consent     map[consentKey]bool
	consentFor  map[int64]bool
	suppressed  map[[2]string]bool // channel, address; nil: not read
	limits      newRecipientLimits // verify.go

	nextID int64   // SQLite: next run id
	idPool []int64 // PostgreSQL: reserved run ids
	idHint int     // runs the batch may still start: the size of the next id block
}

// newWork starts a work in tx. Its writes are made by the time onEvent, enter and the
// engine's phases return.
func (e *Engine) newWork(tx *store.Tx, now time.Time) *work {
	w := &work{e: e, tx: tx, q: newStmts(tx), now: now, profiles: map[int64]*Profile{}}
	w.q.before = w.before
	return w
}

// props reads a track event's properties.
func props(body []byte) map[string]any {
	var b struct {
		Properties map[string]any `json:"properties"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	_ = d.Decode(&b)
	if b.Properties == nil {
		b.Properties = map[string]any{}
	}
	return b.Properties
}

func propText(p map[string]any, key string) string {
	if key == "" {
		return ""
	}
	v, ok := p[key]
	if !ok || v == nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

// onEvent moves runs along for one event and writes the changes.
func (w *work) onEvent(ctx context.Context, ev *event.Event) error {
	return w.onEvents(ctx, []*event.Event{ev})
}

// onEvents handles events in order as onEvent would one by one, reading the
// customers, merges, open runs and past runs of the whole batch in a few statements.
func (w *work) onEvents(ctx context.Context, evs []*event.Event) error {
	err := w.handleEvents(ctx, evs)
	if ferr := w.endScope(ctx); err == nil {
		err = ferr
	}
	return err
}

func (w *work) handleEvents(ctx context.Context, evs []*event.Event) error {
	plans := w.e.entryPlans()
	entryNames := map[string]int{}
	for _, pl := range plans {
		if pl.Entry.Kind == "event" {
			entryNames[pl.Entry.Event]++
		}
	}
	var track []*event.Event
	names := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == event.Track && ev.Name != "" {
			track = append(track, ev)
			names[ev.Name] = true
		}
	}
	if len(track) == 0 {
		return nil
	}
	cids, err := w.customersOf(ctx, track)
	if err != nil {
		return err
	}
	var known []int64
	maxEntries := 0
	for i, cid := range cids {
		if cid != 0 {
			known = append(known, cid)
			maxEntries += entryNames[track[i].Name]
		}
	}
	if len(known) == 0 {
		return nil
	}
	if err := w.loadMerges(ctx, known); err != nil {
		return err
	}
	var all []int64
	for _, cid := range known {
		ids, err := w.mergedInto(ctx, cid)
		if err != nil {
			return err
		}
		all = append(all, ids...)
	}
	if err := w.loadOpen(ctx, all); err != nil {
		return err
	}
	if maxEntries > 0 {
		if err := w.loadStats(ctx, all); err != nil {
			return err
		}
		// Profiles for conditions and smart sends of the plans these events enter; one
		// customer's is read when needed.
		var entered []*Plan
		for _, pl := range plans {
			if pl.Entry.Kind == "event" && names[pl.Entry.Event] {
				entered = append(entered, pl)
			}
		}
		if len(known) > 1 {
			if err := w.prefetchRuns(ctx, known, entered); err != nil {
				return err
			}
		}
	}
	w.idHint = maxEntries
	for i, ev := range track {
		if cids[i] == 0 {
			continue
		}
		if err := w.handleEvent(ctx, ev, cids[i], plans); err != nil {
			return fmt.Errorf("event %d: %w", ev.Seq, err)
		}
	}
	return nil
}

func (w *work) handleEvent(ctx context.Context, ev *event.Event, cid int64, plans []*Plan) error {
	p := props(ev.Body)
	// Open runs first: exits and waits-until. An event that ends a run may also start one.
	// Runs started under customers since merged into this one are this customer's too:
	// a cart added anonymously is bought after logging in.
	ids, err := w.mergedInto(ctx, cid)
	if err != nil {
		return err
	}
	var open []*run
	for _, id := range ids {
		rs, err := w.openRuns(ctx, id)
		if err != nil {
			return err
		}
		open = append(open, rs...)
	}
	for _, r := range open {
		if r.status != "active" {
			continue
		}
		pl := w.e.plan(r.Journey, r.Version)
		if pl == nil {
			continue
		}
		exited := false
		for _, m := range pl.Exit {
			if matches(m, ev.Name, p, r.Key) {
				w.exit(r, "exit: "+ev.Name)
				exited = true
				break
			}
		}
		if exited || r.Step < 0 || r.Step >= len(pl.Nodes) {
			continue
		}
		n := &pl.Nodes[r.Step]
		if n.Kind == "wait_until" && matches(*n.Until, ev.Name, p, r.Key) {
			w.setTimer(r.ID, timerOp{})
			if err := w.advance(ctx, r, pl, n.OnEvent); err != nil {
				return err
			}
		}
	}
	for _, pl := range plans {
		if pl.Entry.Kind != "event" || pl.Entry.Event != ev.Name {
			continue
		}
		if w.now.Sub(ev.Timestamp) > w.e.opt.MaxEntryAge {
			continue // a backfill of old events must not mail today
		}
		key := propText(p, pl.Entry.Key)
		if pl.Entry.Key != "" && key == "" {
			continue
		}
		pj, _ := json.Marshal(p)
		if _, err := w.enterRun(ctx, pl, cid, key, ev.Seq, pj); err != nil {
			return err
		}
	}
	return nil
}

func matches(m Match, name string, p map[string]any, key string) bool {
	if m.Event != name {
		return false
	}
	return m.Key == "" || key == "" || propText(p, m.Key) == key
}

// enter starts a run unless the re-entry rule forbids it, writes it, and reports
// whether it did.
func (w *work) enter(ctx context.Context, pl *Plan, cid int64, key string, seq int64, entryProps []byte) (bool, error) {
	ok, err := w.enterRun(ctx, pl, cid, key, seq, entryProps)
	if ferr := w.endScope(ctx); err == nil {
		err = ferr
	}
	return ok, err
}

// enterRun is enter without the write. The re-entry rule counts the runs of every
// customer merged into cid: two anonymous visitors later known to be one person have
// had the runs both had.
func (w *work) enterRun(ctx context.Context, pl *Plan, cid int64, key string, seq int64, entryProps []byte) (bool, error) {
	ids, err := w.mergedInto(ctx, cid)
	if err != nil {
		return false, err
	}
	if err := w.loadStats(ctx, ids); err != nil {
		return false, err
	}
	var last, active, lastStart int64
	add := func(st *runStat) {
		last += st.count
		active += st.active
		lastStart = max(lastStart, st.lastStart)
	}
	for _, id := range ids {
		if pl.ReEntry.PerCustomer {
			for k, st := range w.stats { // loadStats read every key of these customers
				if k.journey == pl.Name && k.cid == id {
					add(st)
				}
			}
		} else if st := w.stats[statKey{pl.Name, id, key}]; st != nil {
			add(st)
		}
	}
	switch {
	case active > 0:
		return false, nil
	case pl.ReEntry.Mode == "never" && last > 0:
		return false, nil
	case pl.ReEntry.Mode == "cooldown" && last > 0 && w.now.UnixMilli()-lastStart < pl.ReEntry.Cooldown.Milliseconds():
		return false, nil
	}
	id, err := w.newRunID(ctx, w.idHint)
	if err != nil {
		return false, err
	}
	if w.idHint > 0 {
		w.idHint--
	}
	now := w.now.UnixMilli()
	r := &run{ID: id, Journey: pl.Name, Version: w.e.latestVersion(pl.Name), CustomerID: cid, Key: key, Holdout: InHoldout(pl.Name, cid, key, pl.Holdout),
		Props: entryProps, StartedAt: now, EntrySeq: seq, status: "active", updatedAt: now, isNew: true}
	w.touch(r)
	st := w.stats[statKey{pl.Name, cid, key}]
	if st == nil {
		st = &runStat{}
		w.stats[statKey{pl.Name, cid, key}] = st
	}
	st.count++
	st.active++
	st.lastStart = max(st.lastStart, now)
	if w.openLoaded[cid] {
		w.open[cid] = append(w.open[cid], r)
	}
	return true, w.advance(ctx, r, pl, 0)
}

func (e *Engine) latestVersion(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.latest[name]
}

// InHoldout says whether the run for (journey, customer, key) is in the holdout group.
// It hashes the run key, so the same run is always on the same side.
func InHoldout(journey string, customerID int64, key string, fraction float64) bool {
	if fraction <= 0 {
		return false
	}
	return unitHash(journey, strconv.FormatInt(customerID, 10), key) < fraction
}

// unitHash maps parts to [0, 1). FNV-1a alone mixes its last bytes poorly into the top
// bits, so an entry key that differs only at the end (order W1a-12 vs W1a-19) landed
// in the same arm far more often than chance: per-customer holdout rates had 2.3 times
// the binomial variance, which clustered each regular's runs in one arm and made the
// report's intervals too narrow. MurmurHash3's 64-bit finalizer spreads every bit.
func unitHash(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x>>11) / float64(1<<53)
}

// ended takes a run that just finished out of the batch's open runs and counts.
func (w *work) ended(r *run) {
	if st := w.stats[statKey{r.Journey, r.CustomerID, r.Key}]; st != nil && st.active > 0 {
		st.active--
	}
	if rs := w.open[r.CustomerID]; rs != nil {
		for i, x := range rs {
			if x == r {
				w.open[r.CustomerID] = append(rs[:i:i], rs[i+1:]...)
				break
			}
		}
	}
}

func (w *work) exit(r *run, reason string) {
	now := w.now.UnixMilli()
	r.status, r.reason, r.endedAt, r.updatedAt = "exited", reason, now, now
	w.touch(r)
	w.setTimer(r.ID, timerOp{})
	// A send still held (quiet hours, cap delay) must not go out after the customer bought.
	w.buf.exited = append(w.buf.exited, r.ID)
	w.ended(r)
}

// advance executes nodes from i until the run waits or ends. Plans only branch
// forward, so this terminates.
func (w *work) advance(ctx context.Context, r *run, pl *Plan, i int) error {
	now := w.now.UnixMilli()
	for {
		if i == End || i >= len(pl.Nodes) {
			r.status, r.Step, r.endedAt, r.updatedAt = "done", len(pl.Nodes), now, now
			w.touch(r)
			w.ended(r)
			return nil
		}
		n := &pl.Nodes[i]
		switch n.Kind {
		case "wait", "wait_until":
			d := n.Wait
			if n.Kind == "wait_until" {
				d = n.Timeout
			}
			r.Step, r.updatedAt = i, now
			w.touch(r)
			w.setTimer(r.ID, timerOp{set: true, due: now + d.Milliseconds(), step: i})
			return nil
		case "condition":
			ok, err := w.eval(ctx, r, pl, n.Cond)
			if err != nil {
				return err
			}
			if ok {
				i = n.Then
			} else {
				i = n.Else
			}
		case "split":
			u := unitHash(strconv.FormatInt(r.ID, 10), n.ID) * 100
			next, acc := n.Split[len(n.Split)-1].Goto, 0.0
			for _, b := range n.Split {
				acc += b.Percent
				if u < acc {
					next = b.Goto
					break
				}
			}
			i = next
		case "goto":
			i = n.Next
		case "send":
			purpose := "marketing"
			if n.Send.Transactional {
				purpose = "transactional"
			}
			// A test step sends the run's variant; holdout runs are the journey's control,
			// not part of the test (they are sent nothing either way).
			a, exp, variant := n.Send, "", ""
			if n.Test != nil && !r.Holdout {
				v, err := w.chooseVariant(ctx, r, pl, i)
				if err != nil {
					return err
				}
				a, exp, variant = v.Send, n.Test.Name, v.Key
			}
			ch, at, err := w.smartSend(ctx, r, i, a)
			if err != nil {
				return err
			}
			w.buf.sends = append(w.buf.sends, queuedSend{idem: NewIdemKey(), dedupe: DedupeKey(r.ID, i, ch), runID: r.ID, journey: r.Journey, customerID: r.CustomerID,
				step: i, channel: ch, purpose: purpose, notBefore: at.UnixMilli(), createdAt: now, experiment: exp, variant: variant})
			w.e.Notify()
			i = n.Next
		default:
			return fmt.Errorf("journey %s: unknown step kind %q", pl.Name, n.Kind)
		}
	}
}

// DedupeKey is a send's once-only key: run × step × channel. Reaching the same step of
// the same run again queues nothing (journey_sends.dedupe_key is unique).
func DedupeKey(runID int64, step int, channel string) string {
	return fmt.Sprintf("jr%d-s%d-%s", runID, step, channel)
}

// IdemKey is DedupeKey; rows written before idempotency keys were random carry it as
// their idem_key, and tests that write send rows directly use it.
func IdemKey(runID int64, step int, channel string) string { return DedupeKey(runID, step, channel) }

// NewIdemKey is a send's idempotency key, 32 hex digits: the creation time in
// milliseconds (48 bits), then 80 random bits. Providers see it (Message-ID,
// Idempotency-Key) and name it in delivery reports, so it must not be guessable: the
// random part is. The time in front keeps the unique index's inserts at its end, as
// sequential keys did, instead of scattered over every page (docs/decisions.md).
func NewIdemKey() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// fireTimers claims due timers and moves their runs on.
func (e *Engine) fireTimers(ctx context.Context) (int, error) {
	now := e.opt.Now()
	n := 0
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		q := `SELECT t.run_id, t.step, r.journey, r.version, r.customer_id, r.entry_key, r.step, r.holdout, r.entry_props, r.started_at, r.entry_seq, r.status
			FROM journey_timers t JOIN journey_runs r ON r.id = t.run_id WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?`
		if tx.Dialect == store.Postgres {
			q += ` FOR UPDATE OF t SKIP LOCKED`
		}
		rows, err := tx.Query(ctx, q, now.UnixMilli(), e.opt.Batch)
		if err != nil {
			return err
		}
		type due struct {
			r    run
			step int
		}
		var ds []due
		for rows.Next() {
			var d due
			var h int
			var pr string
			if err := rows.Scan(&d.r.ID, &d.step, &d.r.Journey, &d.r.Version, &d.r.CustomerID, &d.r.Key, &d.r.Step, &h, &pr, &d.r.StartedAt, &d.r.EntrySeq, &d.r.status); err != nil {
				rows.Close()
				return err
			}
			d.r.Holdout, d.r.Props = h == 1, json.RawMessage(pr)
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		w := e.newWork(tx, now)
		var cids []int64
		var plans []*Plan
		for i := range ds {
			cids = append(cids, ds[i].r.CustomerID)
			plans = append(plans, e.plan(ds[i].r.Journey, ds[i].r.Version))
		}
		if err := w.prefetchRuns(ctx, cids, plans); err != nil {
			return err
		}
		for i := range ds {
			d := &ds[i]
			w.setTimer(d.r.ID, timerOp{})
			n++
			pl := e.plan(d.r.Journey, d.r.Version)
			if d.r.status != "active" || d.r.Step != d.step || pl == nil || d.step >= len(pl.Nodes) {
				continue // stale timer
			}
			// Both a wait's end and a wait-until's timeout continue at Next.
			if err := w.advance(ctx, &d.r, pl, pl.Nodes[d.step].Next); err != nil {
				return fmt.Errorf("run %d: %w", d.r.ID, err)
			}
		}
		return w.endScope(ctx)
	})
	if err != nil {
		return 0, fmt.Errorf("journey timers: %w", err)
	}
	return n, nil
}
