// Package demo generates the demo business: twelve months of omnichannel history of a
// small bakery-café ("Crumb & Co."), deterministic by seed, with the ground truth of
// every channel's incremental effect computed by counterfactual re-simulation.
//
// The generator is pure (no database, no network): Generate streams Segment-shaped
// events, Spend turns the simulated ad clicks and message sends into daily spend rows,
// and Truth re-simulates the same seeded world with each channel removed. Load (load.go)
// sends everything through omniroi's real collection API and importers.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which world to build.
type Config struct {
	Seed      int64
	Customers int       // people the simulation follows (buyers and visitors); default 20,000
	End       time.Time // exclusive end of the 12-month window; default: first day of this month (UTC)
	Params    *Params   // nil: DefaultParams
	Workers   int       // 0: GOMAXPROCS
}

// DefaultCustomers is the default world size: about 1,000,000 events.
const DefaultCustomers = 20000

// DefaultEnd is the first day of the current month: figures stay put during a month, and
// a re-run on another day of the month builds the same world.
func DefaultEnd(now time.Time) time.Time {
	y, m, _ := now.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// Event is one generated Segment call, ready for POST /v1/batch.
type Event struct {
	Source string // which system sends it: one of Sources
	TS     int64  // event time, unix ms
	Data   []byte // the JSON object
}

type world struct {
	cfg        Config
	params     Params
	c          *compiled
	seedHash   uint64
	days       []day
	start, end time.Time
	arrivalCDF [2][]float64
	msgPrefix  string
	level      [][levCount]float32 // paid campaigns' daily level (flight.go)
}

func newWorld(cfg Config) (*world, error) {
	if cfg.Customers <= 0 {
		cfg.Customers = DefaultCustomers
	}
	if cfg.Customers > 1<<30 {
		return nil, fmt.Errorf("demo: %d customers is more than the generator supports", cfg.Customers)
	}
	if cfg.End.IsZero() {
		cfg.End = DefaultEnd(time.Now())
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	p := DefaultParams()
	if cfg.Params != nil {
		p = *cfg.Params
	}
	y, m, d := cfg.End.UTC().Date()
	end := time.Date(y, m, d, 0, 0, 0, 0, zone)
	start := end.AddDate(-1, 0, 0)
	w := &world{cfg: cfg, params: p, c: compile(p), start: start, end: end}
	w.seedHash = mix64(uint64(cfg.Seed) ^ 0x243f6a8885a308d3)
	w.days = buildCalendar(start, end)
	w.buildFlights()
	w.applySwitchback() // experiments.go
	w.msgPrefix = "demo-" + strconv.FormatInt(cfg.Seed, 36) + "-"
	// Arrival days follow web demand; blog referrals follow the article (published a
	// third into the window) with a three-week decay.
	article := len(w.days) / 3
	var a, b float64
	for i, dy := range w.days {
		a += 0.5*dy.web + 0.5*dy.store + 0.1
		x := 0.15
		if i >= article {
			x += 6 * math.Exp(-float64(i-article)/21)
		}
		b += x
		w.arrivalCDF[0] = append(w.arrivalCDF[0], a)
		w.arrivalCDF[1] = append(w.arrivalCDF[1], b)
	}
	return w, nil
}

// tally counts what spend is computed from: paid clicks and messages sent, per day.
type tally struct {
	clicks     [][levCount]int32
	emailSends []int32
	cartSends  []int32
	smsSends   []int32
	orders     []int32 // orders placed per day
	revenue    []int64 // revenue per day net of refunds (a refund counts on its day)
	newCust    []int32 // first orders per day of people new in the window (not customers from before it)
	web        webTally
}

func newTally(n int) *tally {
	return &tally{clicks: make([][levCount]int32, n), emailSends: make([]int32, n), cartSends: make([]int32, n), smsSends: make([]int32, n),
		orders: make([]int32, n), revenue: make([]int64, n), newCust: make([]int32, n)}
}

func (t *tally) add(o *tally) {
	for d := range t.clicks {
		for l := range t.clicks[d] {
			t.clicks[d][l] += o.clicks[d][l]
		}
		t.emailSends[d] += o.emailSends[d]
		t.cartSends[d] += o.cartSends[d]
		t.smsSends[d] += o.smsSends[d]
		t.orders[d] += o.orders[d]
		t.revenue[d] += o.revenue[d]
		t.newCust[d] += o.newCust[d]
	}
	t.web.add(&o.web)
}

func levIndex(l Lever) int {
	for i := 0; i < levCount; i++ {
		if l == 1<<i {
			return i
		}
	}
	panic("demo: not a single lever")
}

// Summary describes a generated world.
type Summary struct {
	Seed      int64            `json:"seed"`
	Customers int              `json:"people"`
	Start     time.Time        `json:"start"` // local midnight (UTC+1) of the first day
	End       time.Time        `json:"end"`   // exclusive
	Events    int64            `json:"events"`
	BySource  map[string]int64 `json:"events_by_source"`
	Orders    int64            `json:"orders"`
	Revenue   int64            `json:"revenue_minor"` // net of refunds
	SHA256    string           `json:"sha256"`        // over every event's source and JSON, in order
	// BusySeconds is the time generator workers spent building events (summed over
	// workers), excluding time blocked on a slow consumer.
	BusySeconds float64 `json:"generator_busy_seconds"`
	Workers     int     `json:"generator_workers"`

	w     *world
	tally *tally
}

const chunkPeople = 128

type chunk struct {
	idx     int
	arena   []byte
	evs     []Event
	orders  int64
	revenue int64
}

// Generate builds the world and calls fn with its events in a deterministic order
// (people in id order, each person's events by time). fn is called from one goroutine;
// the slice and its Data are only valid during the call.
func Generate(ctx context.Context, cfg Config, fn func([]Event) error) (*Summary, error) {
	w, err := newWorld(cfg)
	if err != nil {
		return nil, err
	}
	n := w.cfg.Customers
	nChunks := (n + chunkPeople - 1) / chunkPeople
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan int)
	results := make(chan *chunk, w.cfg.Workers*2)
	pool := sync.Pool{New: func() any { return &chunk{} }}
	tallies := make([]*tally, w.cfg.Workers)
	var busy atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < w.cfg.Workers; i++ {
		tallies[i] = newTally(len(w.days))
		wg.Add(1)
		go func(t *tally) {
			defer wg.Done()
			em := &emitter{w: w}
			for ci := range jobs {
				t0 := time.Now()
				ch := pool.Get().(*chunk)
				ch.idx, ch.arena, ch.evs, ch.orders, ch.revenue = ci, ch.arena[:0], ch.evs[:0], 0, 0
				type span struct {
					src      uint8
					ts       int64
					off, end int
				}
				var spans []span
				for id := ci * chunkPeople; id < min(n, (ci+1)*chunkPeople); id++ {
					p := w.newPerson(uint32(id))
					// simulate may return before em.start (a person who never shows up).
					em.evs, em.buf = em.evs[:0], em.buf[:0]
					o := w.simulate(&p, LevAll, em, t)
					ch.orders += o.orders
					ch.revenue += o.revenue
					for _, e := range em.evs {
						off := len(ch.arena)
						ch.arena = append(ch.arena, em.buf[e.off:e.end]...)
						spans = append(spans, span{e.src, e.ts, off, len(ch.arena)})
					}
				}
				for _, s := range spans {
					ch.evs = append(ch.evs, Event{Source: Sources[s.src], TS: s.ts, Data: ch.arena[s.off:s.end:s.end]})
				}
				busy.Add(int64(time.Since(t0)))
				select {
				case results <- ch:
				case <-ctx.Done():
					return
				}
			}
		}(tallies[i])
	}
	go func() {
		defer close(jobs)
		for ci := 0; ci < nChunks; ci++ {
			select {
			case jobs <- ci:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	sum := &Summary{Seed: w.cfg.Seed, Customers: n, Start: w.start, End: w.end, BySource: map[string]int64{}, w: w}
	h := sha256.New()
	waiting := map[int]*chunk{}
	next := 0
	var ferr error
	for ch := range results {
		waiting[ch.idx] = ch
		for {
			c, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			if ferr == nil {
				for _, e := range c.evs {
					h.Write([]byte(e.Source))
					h.Write([]byte{0})
					h.Write(e.Data)
					h.Write([]byte{'\n'})
					sum.BySource[e.Source]++
				}
				sum.Events += int64(len(c.evs))
				sum.Orders += c.orders
				sum.Revenue += c.revenue
				if err := fn(c.evs); err != nil {
					ferr = err
					cancel()
				}
			}
			pool.Put(c)
		}
	}
	if ferr != nil {
		return nil, ferr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if next != nChunks {
		return nil, errors.New("demo: generator stopped early")
	}
	sum.tally = tallies[0]
	for _, t := range tallies[1:] {
		sum.tally.add(t)
	}
	sum.SHA256 = hex.EncodeToString(h.Sum(nil))
	sum.BusySeconds = time.Duration(busy.Load()).Seconds()
	sum.Workers = w.cfg.Workers
	return sum, nil
}
