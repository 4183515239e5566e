package journey

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// SimClock is a settable clock for Options.Now: a Replay moves it.
type SimClock struct{ ms atomic.Int64 }

// Now is the simulated time.
func (c *SimClock) Now() time.Time { return time.UnixMilli(c.ms.Load()).UTC() }

// Set moves the clock to t; it never goes back.
func (c *SimClock) Set(t time.Time) {
	for {
		cur := c.ms.Load()
		if t.UnixMilli() <= cur || c.ms.CompareAndSwap(cur, t.UnixMilli()) {
			return
		}
	}
}

// Replay runs an engine over a stretch of the event log on a simulated clock: the
// stored events in time order, timers and held sends when their time comes, and actions
// the caller schedules (a simulated customer opening an email an hour after it arrived).
// It lets `omniroi demo` show weeks of journeys on its generated history in seconds, with
// the same engine code a live server runs. The engine must use Clock.Now as Options.Now.
//
// A Replay owns the engine's event cursor while it runs: stored events reach the engine
// through Run, not through the log, and when Run ends the cursor is moved past every
// event the replay saw, so a server started afterwards carries on from there.
type Replay struct {
	DB      *store.DB
	Engine  *Engine
	Clock   *SimClock
	Process func(ctx context.Context) error // derive new events (identity processor catch-up); required
	// OnDay runs at every midnight of Location the clock passes (segment feed refresh).
	OnDay    func(ctx context.Context, day time.Time) error
	Location *time.Location
	// Step is the clock's resolution: events are handed over, and timers and held sends
	// run, in steps of this length (the live engine polls every second and handles a
	// batch with one clock reading too). Default 1 minute; longer is faster.
	Step time.Duration

	mu      sync.Mutex
	actions actionHeap
	n       int
}

type action struct {
	at  int64
	n   int // scheduling order breaks ties
	run func(ctx context.Context) error
}

type actionHeap []action

func (h actionHeap) Len() int { return len(h) }
func (h actionHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].n < h[j].n
}
func (h actionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *actionHeap) Push(x any)   { *h = append(*h, x.(action)) }
func (h *actionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// At schedules fn at simulated time t (now, if t is past). Safe from any goroutine,
// e.g. from a capture server that receives the engine's sends.
func (r *Replay) At(t time.Time, fn func(ctx context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	heap.Push(&r.actions, action{at: max(t.UnixMilli(), r.Clock.ms.Load()), n: r.n, run: fn})
}

func (r *Replay) nextAction() (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.actions) == 0 {
		return 0, false
	}
	return r.actions[0].at, true
}

func (r *Replay) popDue(at int64) []action {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []action
	for len(r.actions) > 0 && r.actions[0].at <= at {
		out = append(out, heap.Pop(&r.actions).(action))
	}
	return out
}

// Insert appends events to the log at the current simulated time's place, derives them
// (Process) and hands them to the engine, as a live server would on arrival.
func (r *Replay) Insert(ctx context.Context, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var before int64
	if err := r.DB.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&before); err != nil {
		return fmt.Errorf("replay insert: %w", err)
	}
	err := r.DB.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		_, err := store.InsertEvents(ctx, tx, evs)
		return err
	})
	if err != nil {
		return fmt.Errorf("replay insert: %w", err)
	}
	if err := r.Process(ctx); err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		ids[ev.MessageID] = true
	}
	var mine []event.Event
	for after := before; ; {
		got, err := r.DB.ReadEvents(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("replay insert: %w", err)
		}
		if len(got) == 0 {
			break
		}
		for _, ev := range got {
			if ids[ev.MessageID] {
				mine = append(mine, ev)
			}
		}
		after = got[len(got)-1].Seq
	}
	return r.feed(ctx, mine, r.Clock.Now())
}

func (r *Replay) feed(ctx context.Context, evs []event.Event, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	return r.DB.Write(ctx, func(tx *store.Tx) error {
		// Each event at its own time: a run starts when its entry event happened, and a
		// purchase a minute later converts it (the report counts orders from the start).
		// One work for the transaction keeps its prepared statements; each event is its own
		// scope with its own clock reading.
		w := r.Engine.newWork(tx, now)
		for i := range evs {
			w.now = evs[i].Timestamp
			if w.now.After(now) {
				w.now = now
			}
			if err := w.onEvents(ctx, []*event.Event{&evs[i]}); err != nil {
				return err
			}
		}
		return nil
	})
}

// relevant lists the track events any journey version enters, exits or waits on: the
// only events that can move a run.
func (r *Replay) relevant(ctx context.Context) (map[string]bool, error) {
	if err := r.Engine.loadPlans(ctx); err != nil {
		return nil, err
	}
	e := r.Engine
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]bool{}
	for _, versions := range e.plans {
		for _, p := range versions {
			if p.Entry.Event != "" {
				out[p.Entry.Event] = true
			}
			for _, m := range p.Exit {
				out[m.Event] = true
			}
			for _, n := range p.Nodes {
				if n.Until != nil {
					out[n.Until.Event] = true
				}
			}
		}
	}
	return out, nil
}

// window reads the track events named in names with from <= timestamp < to.
func (r *Replay) window(ctx context.Context, from, to time.Time, names map[string]bool) ([]event.Event, error) {
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	evs, err := r.DB.TrackEventsBetween(ctx, from, to, list)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return evs, nil
}

// nextDue is the engine's next timer or held send, math.MaxInt64 when none.
func (r *Replay) nextDue(ctx context.Context) (int64, error) {
	var nt, ns int64
	if err := r.DB.QueryRow(ctx, `SELECT COALESCE(MIN(due_at), 0) FROM journey_timers`).Scan(&nt); err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	if err := r.DB.QueryRow(ctx, `SELECT COALESCE(MIN(not_before), 0) FROM journey_sends WHERE status = 'pending'`).Scan(&ns); err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	next := int64(math.MaxInt64)
	for _, v := range []int64{nt, ns} {
		if v > 0 {
			next = min(next, v)
		}
	}
	return next, nil
}

// drain is Engine.Drain without the event log: a replay hands events over itself, and
// the log consumer's lease would cost a write per step.
// Segment and date entries only change when the day does (the feed refreshes then), so
// they are looked at only when daily is set.
func (r *Replay) drain(ctx context.Context, daily bool) error {
	e := r.Engine
	if err := e.loadPlans(ctx); err != nil {
		return err
	}
	phases := []func(context.Context) (int, error){e.fireTimers, e.dispatch, e.dispatchConfirmations}
	if daily {
		phases = append(phases, e.consumeSegments, e.consumeLeadScores, e.dateEntries)
	}
	for {
		total := 0
		for _, f := range phases {
			n, err := f(ctx)
			if err != nil {
				return err
			}
			total += n
		}
		if total == 0 {
			return nil
		}
	}
}

// ReplayStats is what Run did.
type ReplayStats struct {
	Events  int           `json:"events"`  // stored events handed to the engine (those a journey enters, exits or waits on)
	Actions int           `json:"actions"` // scheduled actions run
	Drains  int           `json:"drains"`
	Days    int           `json:"days"`
	Wall    time.Duration `json:"wall_ns"`
}

// Run replays the stored events with from <= timestamp < to, then lets the clock run to
// `to` (timers and actions due by then happen; later ones stay for a live engine).
func (r *Replay) Run(ctx context.Context, from, to time.Time) (ReplayStats, error) {
	var st ReplayStats
	t0 := time.Now()
	if r.Process == nil {
		return st, errors.New("replay: no Process function")
	}
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	r.Clock.Set(from)
	// The stored events of the window that can move a run, in time order.
	err := r.DB.Write(ctx, func(tx *store.Tx) error {
		return store.SetSetting(ctx, tx, CursorSetting, strconv.FormatInt(math.MaxInt64, 10))
	})
	if err != nil {
		return st, err
	}
	names, err := r.relevant(ctx)
	if err != nil {
		return st, err
	}
	evs, err := r.window(ctx, from, to, names)
	if err != nil {
		return st, err
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	nextDay := func(t time.Time) int64 {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc).UnixMilli()
	}
	day := int64(math.MaxInt64)
	if r.OnDay != nil {
		if err := r.OnDay(ctx, from); err != nil {
			return st, err
		}
		st.Days++
		day = nextDay(from)
	}
	if err := r.drain(ctx, true); err != nil {
		return st, err
	}
	end := to.UnixMilli()
	step := r.Step.Milliseconds()
	if step <= 0 {
		step = 60_000
	}
	// up rounds a due time up to the clock's next step.
	up := func(t int64) int64 {
		if t == math.MaxInt64 {
			return t
		}
		base := from.UnixMilli()
		return base + (t-base+step-1)/step*step
	}
	i := 0
	for {
		engineDue, err := r.nextDue(ctx)
		if err != nil {
			return st, err
		}
		engineDue = up(engineDue)
		due := engineDue
		if a, ok := r.nextAction(); ok {
			due = min(due, up(a))
		}
		due = min(due, day)
		// Events before the next due moment go in one transaction per step.
		if i < len(evs) && evs[i].Timestamp.UnixMilli() < due {
			lim := min(due, up(evs[i].Timestamp.UnixMilli()+1))
			j := i
			for j < len(evs) && j-i < 2000 && evs[j].Timestamp.UnixMilli() < lim {
				j++
			}
			now := evs[j-1].Timestamp
			r.Clock.Set(now)
			if err := r.feed(ctx, evs[i:j], now); err != nil {
				return st, fmt.Errorf("replay events at %s: %w", now.Format(time.RFC3339), err)
			}
			st.Events += j - i
			i = j
			continue
		}
		if due >= end {
			break
		}
		r.Clock.Set(time.UnixMilli(due))
		daily := due == day
		if daily {
			if err := r.OnDay(ctx, time.UnixMilli(day).In(loc)); err != nil {
				return st, err
			}
			st.Days++
			day = nextDay(time.UnixMilli(day).Add(time.Hour))
		}
		for _, a := range r.popDue(due) {
			if err := a.run(ctx); err != nil {
				return st, err
			}
			st.Actions++
		}
		// Actions only record opens and clicks or hand over events (any send they cause
		// shows up as due on the next round).
		if engineDue <= due || daily {
			if err := r.drain(ctx, daily); err != nil {
				return st, err
			}
			st.Drains++
		}
	}
	r.Clock.Set(to)
	if err := r.drain(ctx, true); err != nil {
		return st, err
	}
	if err := r.Process(ctx); err != nil {
		return st, err
	}
	// Hand the log back to the live engine: everything up to here was seen.
	var maxSeq int64
	if err := r.DB.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&maxSeq); err != nil {
		return st, err
	}
	err = r.DB.Write(ctx, func(tx *store.Tx) error {
		return store.SetSetting(ctx, tx, CursorSetting, strconv.FormatInt(maxSeq, 10))
	})
	st.Wall = time.Since(t0)
	return st, err
}
