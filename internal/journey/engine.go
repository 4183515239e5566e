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
	"strconv"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// Settings the engine keeps.
const (
	CursorSetting        = "journey.cursor"         // last event seq consumed
	SegmentCursorSetting = "journey.segment_cursor" // last segment_changes id consumed
	DatesSetting         = "journey.dates_day"      // last day date entries ran (YYYY-MM-DD, UTC)
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
	Policy       *WorkspacePolicy  // default: the journey.policy setting, else no cap and no quiet hours
	Now          func() time.Time
	PollInterval time.Duration // default 1s
	Batch        int           // events, timers or sends per transaction; default 1000
	Workers      int           // concurrent deliveries; default 16
	LeaseTTL     time.Duration // how long a claimed send is ours before another process retries it; default 1m
	MaxEntryAge  time.Duration // events older than this never start runs (backfills); default 24h
	MaxAttempts  int           // delivery attempts before a send fails; default 8
	OnEvents     func()        // called after the engine committed events to the log (wake the processor)
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
	policy   WorkspacePolicy

	mu       sync.Mutex
	plans    map[string]map[int]*Plan // name → version → plan
	latest   map[string]int           // enabled journeys: name → latest version
	loaded   [2]int
	loadedAt time.Time
	notify   chan struct{}
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
		opt.Business = "our shop"
	}
	e := &Engine{db: db, opt: opt, notify: make(chan struct{}, 1)}
	src, err := db.EnsureSource(ctx, SourceName)
	if err != nil {
		return nil, fmt.Errorf("journey source: %w", err)
	}
	e.sourceID = src.ID
	if e.secret, err = Secret(ctx, db); err != nil {
		return nil, err
	}
	if opt.Policy != nil {
		e.policy = *opt.Policy
	} else if e.policy, err = LoadPolicy(ctx, db); err != nil {
		return nil, err
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
	for _, f := range []func(context.Context) (int, error){e.consumeEvents, e.consumeSegments, e.dateEntries, e.fireTimers, e.dispatch} {
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
	e.mu.Lock()
	defer e.mu.Unlock()
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

// entryPlans returns the enabled journeys' latest plans.
func (e *Engine) entryPlans() []*Plan {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Plan
	for name, v := range e.latest {
		out = append(out, e.plans[name][v])
	}
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

// run is one journey_runs row in memory.
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
}

// consumeEvents reads the log after our cursor, up to the processor's cursor (so the
// customers and identities it resolves are already there), and moves runs along.
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
	evs, err := e.db.ReadEvents(ctx, cursor, e.opt.Batch)
	if err != nil {
		return 0, err
	}
	for len(evs) > 0 && evs[len(evs)-1].Seq > limit {
		evs = evs[:len(evs)-1]
	}
	if len(evs) == 0 {
		return 0, nil
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
		w := e.newWork(tx, now)
		for i := range evs {
			if err := w.onEvent(ctx, &evs[i]); err != nil {
				return fmt.Errorf("event %d: %w", evs[i].Seq, err)
			}
		}
		return store.SetSetting(ctx, tx, CursorSetting, strconv.FormatInt(evs[len(evs)-1].Seq, 10))
	})
	if errors.Is(err, errCursorMoved) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journey events: %w", err)
	}
	return len(evs), nil
}

var errCursorMoved = errors.New("journey cursor moved")

// work is one transaction's worth of engine state changes.
type work struct {
	e        *Engine
	tx       *store.Tx
	q        *stmts
	now      time.Time
	profiles map[int64]*Profile
}

func (e *Engine) newWork(tx *store.Tx, now time.Time) *work {
	return &work{e: e, tx: tx, q: newStmts(tx), now: now, profiles: map[int64]*Profile{}}
}

func (w *work) customerOf(ctx context.Context, ev *event.Event) (int64, error) {
	for _, k := range [][2]string{{"user_id", identity.NormalizeID(ev.UserID)}, {"anonymous_id", identity.NormalizeID(ev.AnonymousID)}} {
		if k[1] == "" {
			continue
		}
		var id int64
		err := w.q.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = ? AND value = ?`, k[0], k[1]).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	return 0, nil
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

func (w *work) onEvent(ctx context.Context, ev *event.Event) error {
	if ev.Type != event.Track || ev.Name == "" {
		return nil
	}
	cid, err := w.customerOf(ctx, ev)
	if err != nil || cid == 0 {
		return err
	}
	p := props(ev.Body)
	// Open runs first: exits and waits-until. An event that ends a run may also start one.
	// Runs started under customers since merged into this one are this customer's too:
	// a cart added anonymously is bought after logging in.
	var open []run
	ids, err := w.mergedInto(ctx, cid)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.openRuns(ctx, id, &open); err != nil {
			return err
		}
	}
	for i := range open {
		r := &open[i]
		pl := w.e.plan(r.Journey, r.Version)
		if pl == nil {
			continue
		}
		exited := false
		for _, m := range pl.Exit {
			if matches(m, ev.Name, p, r.Key) {
				if err := w.exit(ctx, r, "exit: "+ev.Name); err != nil {
					return err
				}
				exited = true
				break
			}
		}
		if exited || r.Step < 0 || r.Step >= len(pl.Nodes) {
			continue
		}
		n := &pl.Nodes[r.Step]
		if n.Kind == "wait_until" && matches(*n.Until, ev.Name, p, r.Key) {
			if _, err := w.q.Exec(ctx, `DELETE FROM journey_timers WHERE run_id = ?`, r.ID); err != nil {
				return err
			}
			if err := w.advance(ctx, r, pl, n.OnEvent); err != nil {
				return err
			}
		}
	}
	for _, pl := range w.e.entryPlans() {
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
		if _, err := w.enter(ctx, pl, cid, key, ev.Seq, pj); err != nil {
			return err
		}
	}
	return nil
}

func (w *work) openRuns(ctx context.Context, cid int64, open *[]run) error {
	rows, err := w.q.Query(ctx, `SELECT id, journey, version, entry_key, step, holdout, entry_props, started_at FROM journey_runs WHERE customer_id = ? AND status = 'active'`, cid)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r := run{CustomerID: cid}
		var h int
		var pr string
		if err := rows.Scan(&r.ID, &r.Journey, &r.Version, &r.Key, &r.Step, &h, &pr, &r.StartedAt); err != nil {
			return err
		}
		r.Holdout, r.Props = h == 1, json.RawMessage(pr)
		*open = append(*open, r)
	}
	return rows.Err()
}

// mergedInto lists cid and the customers merged into it (transitively, a few levels).
func (w *work) mergedInto(ctx context.Context, cid int64) ([]int64, error) {
	ids := []int64{cid}
	for i := 0; i < len(ids) && i < 16; i++ {
		rows, err := w.q.Query(ctx, `SELECT merged_id FROM customer_merges WHERE survivor_id = ?`, ids[i])
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var m int64
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func matches(m Match, name string, p map[string]any, key string) bool {
	if m.Event != name {
		return false
	}
	return m.Key == "" || key == "" || propText(p, m.Key) == key
}

// enter starts a run unless the re-entry rule forbids it; it reports whether it did.
func (w *work) enter(ctx context.Context, pl *Plan, cid int64, key string, seq int64, entryProps []byte) (bool, error) {
	var last, active int64
	var lastStart int64
	err := w.q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), COALESCE(MAX(started_at), 0)
		FROM journey_runs WHERE journey = ? AND customer_id = ? AND entry_key = ?`, pl.Name, cid, key).Scan(&last, &active, &lastStart)
	if err != nil {
		return false, err
	}
	switch {
	case active > 0:
		return false, nil
	case pl.ReEntry.Mode == "never" && last > 0:
		return false, nil
	case pl.ReEntry.Mode == "cooldown" && last > 0 && w.now.UnixMilli()-lastStart < pl.ReEntry.Cooldown.Milliseconds():
		return false, nil
	}
	v := w.e.latestVersion(pl.Name)
	hold := InHoldout(pl.Name, cid, key, pl.Holdout)
	r := &run{Journey: pl.Name, Version: v, CustomerID: cid, Key: key, Holdout: hold, Props: entryProps, StartedAt: w.now.UnixMilli()}
	h := 0
	if hold {
		h = 1
	}
	err = w.q.QueryRow(ctx, `INSERT INTO journey_runs (journey, version, customer_id, entry_key, status, step, holdout, entry_seq, entry_props, started_at, updated_at)
		VALUES (?, ?, ?, ?, 'active', 0, ?, ?, ?, ?, ?) RETURNING id`, pl.Name, v, cid, key, h, seq, string(entryProps), r.StartedAt, r.StartedAt).Scan(&r.ID)
	if err != nil {
		return false, fmt.Errorf("start run: %w", err)
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

func unitHash(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return float64(h.Sum64()>>11) / float64(1<<53)
}

func (w *work) exit(ctx context.Context, r *run, reason string) error {
	now := w.now.UnixMilli()
	if _, err := w.q.Exec(ctx, `UPDATE journey_runs SET status = 'exited', exit_reason = ?, ended_at = ?, updated_at = ? WHERE id = ?`, reason, now, now, r.ID); err != nil {
		return err
	}
	if _, err := w.q.Exec(ctx, `DELETE FROM journey_timers WHERE run_id = ?`, r.ID); err != nil {
		return err
	}
	// A send still held (quiet hours, cap delay) must not go out after the customer bought.
	_, err := w.q.Exec(ctx, `UPDATE journey_sends SET status = 'suppressed', reason = 'exited' WHERE run_id = ? AND status = 'pending'`, r.ID)
	return err
}

// advance executes nodes from i until the run waits or ends. Plans only branch
// forward, so this terminates.
func (w *work) advance(ctx context.Context, r *run, pl *Plan, i int) error {
	now := w.now.UnixMilli()
	for {
		if i == End || i >= len(pl.Nodes) {
			_, err := w.q.Exec(ctx, `UPDATE journey_runs SET status = 'done', step = ?, ended_at = ?, updated_at = ? WHERE id = ?`, len(pl.Nodes), now, now, r.ID)
			return err
		}
		n := &pl.Nodes[i]
		switch n.Kind {
		case "wait", "wait_until":
			d := n.Wait
			if n.Kind == "wait_until" {
				d = n.Timeout
			}
			if _, err := w.q.Exec(ctx, `UPDATE journey_runs SET step = ?, updated_at = ? WHERE id = ?`, i, now, r.ID); err != nil {
				return err
			}
			_, err := w.q.Exec(ctx, `INSERT INTO journey_timers (run_id, due_at, step) VALUES (?, ?, ?)
				ON CONFLICT (run_id) DO UPDATE SET due_at = excluded.due_at, step = excluded.step`, r.ID, now+d.Milliseconds(), i)
			return err
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
			ch, at, err := w.smartSend(ctx, r, i, n.Send)
			if err != nil {
				return err
			}
			_, err = w.q.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, not_before, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
				IdemKey(r.ID, i, ch), r.ID, r.Journey, r.CustomerID, i, ch, purpose, at.UnixMilli(), now)
			if err != nil {
				return fmt.Errorf("queue send: %w", err)
			}
			w.e.Notify()
			i = n.Next
		default:
			return fmt.Errorf("journey %s: unknown step kind %q", pl.Name, n.Kind)
		}
	}
}

// IdemKey is a send's idempotency key: run × step × channel.
func IdemKey(runID int64, step int, channel string) string {
	return fmt.Sprintf("jr%d-s%d-%s", runID, step, channel)
}

// fireTimers claims due timers and moves their runs on.
func (e *Engine) fireTimers(ctx context.Context) (int, error) {
	now := e.opt.Now()
	n := 0
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		q := `SELECT t.run_id, t.step, r.journey, r.version, r.customer_id, r.entry_key, r.step, r.holdout, r.entry_props, r.started_at, r.status
			FROM journey_timers t JOIN journey_runs r ON r.id = t.run_id WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?`
		if tx.Dialect == store.Postgres {
			q += ` FOR UPDATE OF t SKIP LOCKED`
		}
		rows, err := tx.Query(ctx, q, now.UnixMilli(), e.opt.Batch)
		if err != nil {
			return err
		}
		type due struct {
			r      run
			step   int
			status string
		}
		var ds []due
		for rows.Next() {
			var d due
			var h int
			var pr string
			if err := rows.Scan(&d.r.ID, &d.step, &d.r.Journey, &d.r.Version, &d.r.CustomerID, &d.r.Key, &d.r.Step, &h, &pr, &d.r.StartedAt, &d.status); err != nil {
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
		for _, d := range ds {
			if _, err := w.q.Exec(ctx, `DELETE FROM journey_timers WHERE run_id = ?`, d.r.ID); err != nil {
				return err
			}
			n++
			pl := e.plan(d.r.Journey, d.r.Version)
			if d.status != "active" || d.r.Step != d.step || pl == nil || d.step >= len(pl.Nodes) {
				continue // stale timer
			}
			// Both a wait's end and a wait-until's timeout continue at Next.
			if err := w.advance(ctx, &d.r, pl, pl.Nodes[d.step].Next); err != nil {
				return fmt.Errorf("run %d: %w", d.r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("journey timers: %w", err)
	}
	return n, nil
}
