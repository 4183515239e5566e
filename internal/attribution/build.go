package attribution

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Defaults of PathOptions.
const (
	DefaultSessionTimeout = pathstore.DefaultVisitTimeout
	OrderCompleted        = pathstore.OrderCompleted
	DefaultValueProperty  = "revenue"
)

var (
	// DefaultLeadEvents mark lead creation for w_shaped.
	DefaultLeadEvents = []string{"Signed Up", "Account Created"}
	// DefaultOpportunityEvents mark opportunity creation for w_shaped.
	DefaultOpportunityEvents = []string{"Checkout Started", "Product Added"}
	// DefaultIgnoreEvents are never touches: they are after-sales, not marketing contacts.
	DefaultIgnoreEvents = pathstore.DefaultIgnoreEvents
)

// PathOptions configure BuildPaths. Zero values take the defaults.
type PathOptions struct {
	From, To          time.Time     // conversions in [From, To); null paths whose last touch is in it; zero: unbounded
	Lookback          time.Duration // touches at most this long before the conversion; default 30 days
	SessionTimeout    time.Duration // inactivity that ends a visit; default 30 minutes
	ConversionEvents  []string      // default ["Order Completed"], the orders
	ValueProperty     string        // property holding the value of other conversion events; default "revenue"
	LeadEvents        []string      // default DefaultLeadEvents
	OpportunityEvents []string      // default DefaultOpportunityEvents
	IgnoreEvents      []string      // default DefaultIgnoreEvents; conversion events are never touches either
	// OnPath, when set, sees every path added to the set, in the set's order (its slices
	// are reused after the call returns).
	OnPath func(PathInfo)
	// funnel, when set, receives the customers per funnel stage of [From, To).
	funnel *[]StageCount
}

// PathInfo describes one path for OnPath.
type PathInfo struct {
	CustomerID      int64
	Path            Path  // Conversions 1 (converted) or Nulls 1
	ValueMinor      int64 // conversion value in minor units of Summary.Currency, net of refunds; 0 in other currencies
	FirstConversion bool  // the customer's first conversion ever (a new customer)
	Synthesized     bool  // the only touch was made up from the order's own channel
}

// Summary describes what BuildPaths read and built. (JSON names keep the older word
// "journeys" for paths: scripts read them.)
type Summary struct {
	From               time.Time     `json:"from,omitzero"`
	To                 time.Time     `json:"to,omitzero"`
	Lookback           time.Duration `json:"lookback_ns"`
	SessionTimeout     time.Duration `json:"session_timeout_ns"`
	ConversionEvents   []string      `json:"conversion_events"`
	Currency           string        `json:"currency"`
	Customers          int64         `json:"customers"`   // customers with at least one path in range
	Events             int64         `json:"events"`      // touch events read (activity rows other than orders)
	Sessions           int64         `json:"sessions"`    // touches built from them (whole read window)
	Conversions        int64         `json:"conversions"` // in range
	NullPaths          int64         `json:"null_journeys"`
	Touches            int64         `json:"touches"` // in the paths of the set
	SynthesizedTouches int64         `json:"synthesized_touches"`
	Unattributed       int64         `json:"unattributed"`   // conversions without any touch
	RevenueMinor       int64         `json:"revenue_minor"`  // net of refunds, conversions in range, business currency
	RefundedMinor      int64         `json:"refunded_minor"` // refunds of those conversions
	// ConvertedConversions counts the conversions in other currencies whose value was
	// converted into the business currency with the exchange rate of their day (Notes
	// say how much, and what was left out for want of a rate).
	ConvertedConversions int64         `json:"converted_conversions,omitempty"`
	MaxSeq               int64         `json:"max_seq"` // newest event when the read started
	Elapsed              time.Duration `json:"elapsed_ns"`
	Notes                []string      `json:"notes,omitempty"`
}

// actRow is one touch event of a customer; its strings are ids in the worker's table.
type actRow struct {
	ts                      int64
	name, channel, campaign int32
}

// convRow is one conversion.
type convRow struct {
	ts         int64
	valueMinor int64
	refunded   int64
	currency   string
	channel    int32 // the order's channel (an id in the worker's table), for orders without touches; -1 none
	first      bool
}

// session is one touch built from consecutive events (channel and campaign are ids in the
// worker's table).
type session struct {
	start     int64
	channel   int32
	campaign  int32
	lead, opp bool
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (o *PathOptions) defaults() {
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if len(o.ConversionEvents) == 0 {
		o.ConversionEvents = []string{OrderCompleted}
	}
	if o.ValueProperty == "" {
		o.ValueProperty = DefaultValueProperty
	}
	if o.LeadEvents == nil {
		o.LeadEvents = DefaultLeadEvents
	}
	if o.OpportunityEvents == nil {
		o.OpportunityEvents = DefaultOpportunityEvents
	}
	if o.IgnoreEvents == nil {
		o.IgnoreEvents = DefaultIgnoreEvents
	}
}

func msOf(t time.Time, def int64) int64 {
	if t.IsZero() {
		return def
	}
	return t.UnixMilli()
}

// BuildPaths builds the paths of conversions in [From, To) plus the non-converting paths
// ending in it from the derived paths table (internal/attribution/pathstore), reading only
// the days from From minus the lookback to To, one block of customers at a time (memory
// holds the paths built, never the events). See docs/attribution.md ("Paths from the
// store") for the rules.
func BuildPaths(ctx context.Context, db *store.DB, opt PathOptions) (*Set, Summary, error) {
	out, err := buildPaths(ctx, db, opt, []span{{from: opt.From, to: opt.To, onPath: opt.OnPath, funnel: opt.funnel}})
	if err != nil {
		return nil, Summary{}, err
	}
	return out[0].set, out[0].sum, nil
}

// span is one period built from a shared read: a report and the period before it read
// the rows of both once.
type span struct {
	from, to time.Time
	onPath   func(PathInfo)
	funnel   *[]StageCount // customers per funnel stage of [from, to), when set
}

type built struct {
	set *Set
	sum Summary
}

// spanRules are a span's bounds in unix ms and the rules that cut its paths.
type spanRules struct {
	pathRules
	readFrom int64
	funnel   bool
}

func buildPaths(ctx context.Context, db *store.DB, opt PathOptions, spans []span) ([]built, error) {
	start := time.Now()
	opt.defaults()
	out := make([]built, len(spans))
	for i, sp := range spans {
		out[i].sum = Summary{From: sp.from, To: sp.to, Lookback: opt.Lookback, SessionTimeout: opt.SessionTimeout,
			ConversionEvents: opt.ConversionEvents}
		if !sp.from.IsZero() && !sp.to.IsZero() && !sp.from.Before(sp.to) {
			return nil, fmt.Errorf("paths: from %s is not before to %s", sp.from.Format(time.DateOnly), sp.to.Format(time.DateOnly))
		}
	}
	currency, err := workspace.Currency(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	maxSeq, err := db.MaxEventSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	fx := &fxOnce{}
	// Unbounded ends stop at the span data can really have (1990 to limits.max_future
	// ahead): a touch stored long ago with the date 0001-01-01 reads as Go's zero time, "no
	// time", and would fail the time-decay model for the whole period.
	spanFrom, spanTo, err := workspace.Span(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	convSet := setOf(opt.ConversionEvents)
	var custom []string
	for _, n := range opt.ConversionEvents {
		if n != OrderCompleted {
			custom = append(custom, n)
		}
	}
	skip := setOf(opt.IgnoreEvents)
	skip[OrderCompleted] = true // the order event is the conversion, never a touch
	for n := range convSet {
		skip[n] = true
	}
	lead, opp := setOf(opt.LeadEvents), setOf(opt.OpportunityEvents)
	lb := opt.Lookback.Milliseconds()
	rd := &blockReader{db: db, orders: convSet[OrderCompleted], custom: custom, prop: opt.ValueProperty, currency: currency,
		readFrom: math.MaxInt64, toMS: math.MinInt64}
	for _, sp := range spans {
		r := spanRules{pathRules: pathRules{skip: skip, lead: lead, opp: opp, lb: lb, timeout: opt.SessionTimeout.Milliseconds(),
			fromMS: max(msOf(sp.from, math.MinInt64/2), spanFrom.UnixMilli()),
			toMS:   min(msOf(sp.to, math.MaxInt64/2), spanTo.UnixMilli())}, funnel: sp.funnel != nil}
		r.readFrom = max(r.fromMS-lb, spanFrom.UnixMilli())
		rd.spans = append(rd.spans, r)
		rd.readFrom, rd.toMS = min(rd.readFrom, r.readFrom), max(rd.toMS, r.toMS)
		rd.funnel = rd.funnel || r.funnel
	}
	if rd.src, err = pathstore.Open(ctx, db); err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	lo, hi, any := rd.src.Blocks()
	n := 0
	if any {
		n = int(hi-lo) + 1
	}

	// Blocks are read and turned into paths by a few workers (each holding one read
	// connection at a time); the sets are assembled in block order, so the result does
	// not depend on the number of workers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([]*blockOut, n)
	for i := range outs {
		outs[i] = &blockOut{done: make(chan struct{})}
	}
	// A block's buffers go back to free once its paths are in the sets, and the next block
	// a worker reads reuses them (a block's touches are tens of megabytes at 100,000
	// people; growing them afresh for each block was a quarter of the CPU). There are
	// only workers+1 of them: a worker takes one before it takes a block, so workers
	// that run ahead of the assembly wait instead of growing fresh buffers (which, with
	// the page faults of new memory, cost a tenth of the CPU at 100,000 people). The
	// lowest block not yet assembled always has its buffers, so the wait always ends.
	var next atomic.Int64
	var wg sync.WaitGroup
	// One worker fewer than there are processors, as this goroutine assembles the sets
	// beside them: with as many workers as processors, the three goroutines time-slice
	// on two cores and the whole build cost a sixth more CPU at 100,000 people (see
	// docs/decisions.md, "Reading the paths table at 100,000 people").
	workers := max(1, min(runtime.GOMAXPROCS(0)-1, n, pathWorkers))
	free := make(chan []spanOut, workers+1)
	for range workers + 1 {
		free <- make([]spanOut, len(spans))
	}
	for wi := range workers {
		wg.Go(func() {
			w := &worker{id: wi, tab: strTable{ids: map[string]int32{}}}
			w.none = w.tab.getString("(none)")
			for {
				var per []spanOut
				select {
				case per = <-free:
				case <-ctx.Done():
					return
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					free <- per
					return
				}
				o := outs[i]
				o.per = per
				o.err = rd.block(ctx, w, lo+int64(i), o)
				close(o.done)
				if o.err != nil {
					cancel()
				}
			}
		})
	}
	defer func() {
		cancel() // workers waiting for buffers stop
		wg.Wait()
	}()

	type acc struct {
		b      *SetBuilder
		other  *foreign
		funnel [funnelLen]int64
		ids    []localIDs // per worker
	}
	accs := make([]acc, len(spans))
	for i := range accs {
		accs[i] = acc{b: NewSetBuilder(), other: newForeign(ctx, db, currency, fx), ids: make([]localIDs, workers)}
		out[i].sum.Currency, out[i].sum.MaxSeq = currency, maxSeq
	}
	for i, o := range outs {
		select {
		case <-o.done:
		case <-ctx.Done(): // workers stop taking blocks once it is cancelled
			wg.Wait()
			return nil, firstErr(outs[i:], ctx.Err())
		}
		if o.err != nil {
			cancel()
			return nil, o.err
		}
		for si := range spans {
			sum, a, po := &out[si].sum, &accs[si], &o.per[si]
			sum.Events += po.events
			sum.Sessions += po.sessions
			sum.Customers += po.customers
			for k, v := range po.funnel {
				a.funnel[k] += v
			}
			if i == 0 {
				// Blocks hold about as many customers each: the first one's paths, times
				// the blocks and a fifth more, spare the set's arrays most of their growth
				// (copying them as they doubled was a fifth of the CPU at 100,000 people).
				a.b.Reserve(len(po.paths)*n*6/5, len(po.touches)*n*6/5)
			} else {
				a.b.Reserve(len(po.paths), len(po.touches))
			}
			ids := &a.ids[o.worker]
			for k := range po.paths {
				if err := addPath(a.b, sum, a.other, po, o.names, ids, &po.paths[k], spans[si].onPath); err != nil {
					return nil, err
				}
			}
		}
		for si := range o.per {
			po := &o.per[si]
			*po = spanOut{touches: po.touches[:0], paths: po.paths[:0]}
		}
		o.names = nil
		free <- o.per
		outs[i] = nil
	}
	for si, sp := range spans {
		sum := &out[si].sum
		sum.Notes = append(sum.Notes, accs[si].other.notes()...)
		if !rd.src.Ready() {
			sum.Notes = append(sum.Notes, "paths were computed from the event tables: the derived paths table is built the next time the event processor runs")
		}
		slices.Sort(sum.Notes)
		if sp.funnel != nil {
			*sp.funnel = make([]StageCount, len(FunnelStages))
			for i, st := range FunnelStages {
				(*sp.funnel)[i] = StageCount{Stage: st.Name, Customers: accs[si].funnel[i]}
			}
		}
		out[si].set = accs[si].b.Set()
		sum.Elapsed = time.Since(start)
	}
	return out, nil
}

// firstErr is the error of the first finished block that failed, else err: after a
// cancellation, the failure that caused it rather than the cancellation.
func firstErr(outs []*blockOut, err error) error {
	first := fmt.Errorf("paths: %w", err)
	for _, o := range outs {
		select {
		case <-o.done:
			if o.err != nil && !errors.Is(o.err, context.Canceled) {
				return o.err
			}
		default:
		}
	}
	return first
}

// addPath adds one built path to a span's set and summary. names are the strings of the
// worker that built it, ids that worker's strings' ids in the set.
func addPath(b *SetBuilder, sum *Summary, other *foreign, po *spanOut, names []string, ids *localIDs, p *pending, onPath func(PathInfo)) error {
	raw := po.touches[p.lo:p.hi]
	var j Path
	if p.leadIdx >= 0 || p.oppIdx >= 0 {
		j.Milestones = []int{p.leadIdx, p.oppIdx}
	}
	info := PathInfo{CustomerID: p.cid, Synthesized: p.synth}
	if p.conv {
		j.Conversions = 1
		j.ConvertedAt = time.UnixMilli(p.convTS).UTC()
		v, refunded := max(p.valueMinor, 0), p.refunded
		if p.currency != sum.Currency {
			// Money in another currency is converted with the day's exchange rate, or
			// counts without revenue: never added to the business currency as it is.
			var ok bool
			if v, refunded, ok = other.convert(p.currency, v, refunded, p.convTS); ok {
				sum.ConvertedConversions++
			}
		}
		sum.RevenueMinor = money.SatAdd(sum.RevenueMinor, v)
		sum.RefundedMinor = money.SatAdd(sum.RefundedMinor, refunded)
		j.Value = money.Major(v, sum.Currency)
		info.ValueMinor, info.FirstConversion = v, p.first
		sum.Conversions++
		if len(raw) == 0 {
			sum.Unattributed++
		}
		if p.synth {
			sum.SynthesizedTouches++
		}
	} else {
		j.Nulls = 1
		sum.NullPaths++
	}
	sum.Touches += int64(len(raw))
	ref := p.convTS // the conversion, or else the last touch (as Add measures ages)
	if !p.conv && len(raw) > 0 {
		ref = raw[len(raw)-1].ts
	}
	if err := b.addRaw(j, raw, ref, names, ids); err != nil {
		return fmt.Errorf("paths: customer %d: %w", p.cid, err)
	}
	if onPath == nil {
		return nil
	}
	ids.touches = ids.touches[:0]
	for _, t := range raw {
		ids.touches = append(ids.touches, Touch{Channel: names[t.ch], Campaign: names[t.camp], Time: time.UnixMilli(t.ts).UTC()})
	}
	j.Touches = ids.touches
	info.Path = j
	onPath(info)
	return nil
}

// localIDs map one worker's string ids to a set's channel and campaign ids.
type localIDs struct {
	ch      []int32           // string id → channel id + 1; 0 not yet known
	pairs   map[uint64]uint32 // campaign string id << 32 | channel id → pair id
	touches []Touch           // the path's touches as Touch values for OnPath, reused
}

func (m *localIDs) channel(b *SetBuilder, names []string, id int32) (uint16, error) {
	if int(id) < len(m.ch) && m.ch[id] > 0 {
		return uint16(m.ch[id] - 1), nil
	}
	if names[id] == "" {
		return 0, errors.New("a touch has no channel")
	}
	g, err := b.ChannelID(names[id])
	if err != nil {
		return 0, err
	}
	if int(id) >= len(m.ch) {
		m.ch = slices.Grow(m.ch, len(names)-len(m.ch))[:len(names)]
	}
	m.ch[id] = int32(g) + 1
	return g, nil
}

func (m *localIDs) pair(b *SetBuilder, names []string, ch uint16, camp int32) uint32 {
	k := uint64(uint32(camp))<<32 | uint64(ch)
	if id, ok := m.pairs[k]; ok {
		return id
	}
	if m.pairs == nil {
		m.pairs = map[uint64]uint32{}
	}
	id := b.pairID(Pair{Channel: ch, Campaign: names[camp]})
	m.pairs[k] = id
	return id
}

// addRaw is Add for a path whose touches are ids in a worker's strings, with times in
// unix ms; ageRef is the time ages are measured from (the conversion, else the last
// touch). It builds the same set as Add given the same touches as Touch values.
func (b *SetBuilder) addRaw(j Path, raw []rawTouch, ageRef int64, names []string, ids *localIDs) error {
	if err := b.checkCounts(j); err != nil {
		return err
	}
	n := len(raw)
	if n == 0 {
		b.s.Unattributed += j.Conversions
		return nil
	}
	for _, m := range j.Milestones {
		if m >= n {
			return fmt.Errorf("journey %d: milestone index %d outside its %d touches", b.s.Len(), m, n)
		}
	}
	base := len(b.s.Ch)
	for i, t := range raw {
		id, err := ids.channel(b, names, t.ch)
		if err != nil {
			return fmt.Errorf("journey %d: touch %d: %w", b.s.Len(), i, err)
		}
		b.s.Ch = append(b.s.Ch, id)
		if !b.anyCamp && names[t.camp] != "" {
			b.startCampaigns(base + i)
		}
		if b.anyCamp {
			b.s.Camp = append(b.s.Camp, ids.pair(b, names, id, t.camp))
		}
		if !b.anyTime {
			b.startTimes(base + i)
		}
		b.s.Age = append(b.s.Age, float32((time.Duration(ageRef-t.ts) * time.Millisecond).Seconds()))
	}
	lead, opp := int32(-1), int32(-1)
	if len(j.Milestones) > 0 && j.Milestones[0] >= 0 {
		lead = int32(j.Milestones[0])
	}
	if len(j.Milestones) > 1 && j.Milestones[1] >= 0 {
		opp = int32(j.Milestones[1])
	}
	b.endPath(j, lead, opp)
	return nil
}

// pathWorkers leaves one of SQLite's four read connections to other readers.
var pathWorkers = 3

// pathRules turn one customer's touch events and conversions into paths.
type pathRules struct {
	skip, lead, opp  map[string]bool
	fromMS, toMS, lb int64
	timeout          int64
}

// pending is a path built by a worker, waiting to be added to the set in order.
type pending struct {
	cid                  int64
	lo, hi               int // its touches in blockOut.touches
	conv, first, synth   bool
	convTS               int64
	valueMinor, refunded int64
	currency             string
	leadIdx, oppIdx      int
}

// blockOut is what one worker built from one block of customers, per span.
type blockOut struct {
	per    []spanOut
	worker int      // the worker that built it
	names  []string // its strings by id (a prefix of the worker's table)
	err    error
	done   chan struct{}
}

// rawTouch is one touch of a built path; ch and camp are ids in the worker's table.
type rawTouch struct {
	ts       int64
	ch, camp int32
}

type spanOut struct {
	touches                     []rawTouch
	paths                       []pending
	events, sessions, customers int64
	funnel                      [funnelLen]int64
}

type blockReader struct {
	db             *store.DB
	src            *pathstore.Source
	spans          []spanRules
	readFrom, toMS int64 // the union of the spans' reads
	orders         bool
	custom         []string
	prop, currency string
	funnel         bool // some span counts its funnel
}

// strTable numbers distinct strings, so millions of touches with a dozen channels hold
// small ids instead of strings (no pointers for the collector to follow, a third of the
// size). Ids are never reused and strs only grows, so a prefix of strs taken after a block
// stays valid for the goroutine adding that block to the sets.
type strTable struct {
	ids  map[string]int32
	strs []string
}

func (t *strTable) get(b []byte) int32 {
	if id, ok := t.ids[string(b)]; ok {
		return id
	}
	return t.add(string(b))
}

func (t *strTable) getString(s string) int32 {
	if id, ok := t.ids[s]; ok {
		return id
	}
	return t.add(s)
}

func (t *strTable) add(s string) int32 {
	id := int32(len(t.strs))
	t.ids[s] = id
	t.strs = append(t.strs, s)
	return id
}

// Flags of a string of the worker's table as an event name.
const (
	flagSkip uint8 = 1 << iota
	flagLead
	flagOpp
)

// worker holds one reader goroutine's buffers, reused from block to block.
type worker struct {
	id        int // index among the workers
	tab       strTable
	flags     []uint8 // by string id: flagSkip, flagLead, flagOpp of it as an event name
	none      int32   // id of "(none)", the campaign of a touch made up from an order
	dec       pathstore.Decoder
	local     []int32 // the current row's strings as ids, by index, once used
	localCh   []int32 // the same as channel names
	localOK   []byte  // 1: local is set, 2: localCh is set
	idx       []int32 // customer id - base → slot + 1 (0: none yet), for the block's ids
	base      int64   // the block's first customer id
	cids      []int64 // by slot
	evs       []actRow
	evCust    []int32
	convs     []convRow
	convCust  []int32
	order     []int32 // slots in customer order
	evSorted  []actRow
	cvSorted  []convRow
	evStart   []int32
	cvStart   []int32
	sessions  []session
	cuts      []int
	ords      []int64 // order times, for the funnel
	ordCust   []int32
	ordStart  []int32
	ordSorted []int64
}

// resetLocal starts a row: its strings are interned when first used (order ids, which
// paths never use, are never interned).
func (w *worker) resetLocal() {
	n := len(w.dec.Strings())
	w.local = slices.Grow(w.local[:0], n)[:n]
	w.localCh = slices.Grow(w.localCh[:0], n)[:n]
	w.localOK = slices.Grow(w.localOK[:0], n)[:n]
	clear(w.localOK)
}

// str is the id of string i of the current row.
func (w *worker) str(i int) int32 {
	if w.localOK[i]&1 == 0 {
		w.local[i] = w.tab.get(w.dec.Strings()[i])
		w.localOK[i] |= 1
	}
	return w.local[i]
}

// channel is the id of string i of the current row as a channel name.
func (w *worker) channel(i int) int32 {
	if w.localOK[i]&2 == 0 {
		w.localCh[i] = w.tab.getString(pathstore.ChannelName(w.tab.strs[w.str(i)]))
		w.localOK[i] |= 2
	}
	return w.localCh[i]
}

// updateFlags computes the event-name flags of the strings added since the last call.
func (w *worker) updateFlags(r *pathRules) {
	for id := len(w.flags); id < len(w.tab.strs); id++ {
		n, f := w.tab.strs[id], uint8(0)
		if r.skip[n] {
			f |= flagSkip
		}
		if r.lead[n] {
			f |= flagLead
		}
		if r.opp[n] {
			f |= flagOpp
		}
		w.flags = append(w.flags, f)
	}
}

// slot is the customer's index in the block being read, in order of first appearance.
func (w *worker) slot(cid int64) int32 {
	i := cid - w.base
	if i < 0 || i >= int64(len(w.idx)) {
		return w.slotOutside(cid)
	}
	s := w.idx[i]
	if s == 0 {
		s = int32(len(w.cids)) + 1
		w.idx[i] = s
		w.cids = append(w.cids, cid)
	}
	return s - 1
}

// slotOutside is slot for an id outside the block (a corrupt row): found by a scan, as
// such a row should not exist.
func (w *worker) slotOutside(cid int64) int32 {
	if s := slices.Index(w.cids, cid); s >= 0 {
		return int32(s)
	}
	w.cids = append(w.cids, cid)
	return int32(len(w.cids) - 1)
}

// startBlock makes the slot table empty for the customers of block.
func (w *worker) startBlock(block int64) {
	lo, hi := pathstore.BlockRange(block)
	for _, cid := range w.cids { // clear only what the last block used
		if i := cid - w.base; i >= 0 && i < int64(len(w.idx)) {
			w.idx[i] = 0
		}
	}
	if int64(len(w.idx)) != hi-lo {
		w.idx = make([]int32, hi-lo)
	}
	w.base = lo
	w.cids = w.cids[:0]
}

// block reads one block's rows and builds its customers' paths of every span into o.
func (rd *blockReader) block(ctx context.Context, w *worker, block int64, o *blockOut) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	w.startBlock(block)
	w.evs, w.evCust, w.convs, w.convCust = w.evs[:0], w.evCust[:0], w.convs[:0], w.convCust[:0]
	w.ords, w.ordCust = w.ords[:0], w.ordCust[:0]
	dayFrom, dayTo := pathstore.DayOf(rd.readFrom), pathstore.DayOf(rd.toMS-1)
	if len(rd.custom) > 0 {
		dayFrom = pathstore.MinDay // a custom conversion's rank needs the customer's whole history
	}
	var (
		t  pathstore.RawTouch
		ro pathstore.RawOrder
	)
	err := rd.src.Read(ctx, block, dayFrom, dayTo, func(day int64, data []byte) error {
		if err := w.dec.Reset(block, day, data); err != nil {
			return err
		}
		w.resetLocal()
		for w.dec.NextTouch(&t) {
			if t.TS < rd.readFrom || t.TS >= rd.toMS {
				continue
			}
			w.evs = append(w.evs, actRow{ts: t.TS, name: w.str(t.Name), channel: w.channel(t.Channel), campaign: w.str(t.Campaign)})
			w.evCust = append(w.evCust, w.slot(t.Customer))
		}
		for w.dec.NextOrder(&ro) {
			if ro.TS >= rd.toMS || ro.TS < rd.readFrom && len(rd.custom) == 0 {
				continue
			}
			s := w.slot(ro.Customer)
			if rd.funnel {
				w.ords = append(w.ords, ro.TS)
				w.ordCust = append(w.ordCust, s)
			}
			if !rd.orders {
				continue
			}
			refunded := min(max(ro.Refunded, 0), max(ro.Revenue, 0))
			w.convs = append(w.convs, convRow{ts: ro.TS, valueMinor: money.SatSub(ro.Revenue, refunded), refunded: refunded,
				currency: w.tab.strs[w.str(ro.Currency)], channel: w.channel(ro.Channel), first: ro.First})
			w.convCust = append(w.convCust, s)
		}
		return w.dec.Err()
	})
	if err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	if len(rd.custom) > 0 {
		if err := rd.customConversions(ctx, w, block); err != nil {
			return err
		}
	}

	// Group by customer, keeping read order (time order: rows come day by day, each
	// sorted by customer and time), customers in id order.
	nc := len(w.cids)
	w.order = w.order[:0]
	for i := range nc {
		w.order = append(w.order, int32(i))
	}
	slices.SortFunc(w.order, func(a, b int32) int { return cmp.Compare(w.cids[a], w.cids[b]) })
	w.evStart = groupBy(w.evCust, nc, w.evStart)
	w.evSorted = scatter(w.evs, w.evCust, w.evStart, w.evSorted)
	w.cvStart = groupBy(w.convCust, nc, w.cvStart)
	w.cvSorted = scatter(w.convs, w.convCust, w.cvStart, w.cvSorted)
	w.ordStart = groupBy(w.ordCust, nc, w.ordStart)
	w.ordSorted = scatter(w.ords, w.ordCust, w.ordStart, w.ordSorted)
	if len(rd.custom) > 0 {
		for s := range nc { // orders and custom events in time order; the first of them is the first conversion
			cs := w.cvSorted[w.cvStart[s]:w.cvStart[s+1]]
			slices.SortStableFunc(cs, func(a, b convRow) int { return cmp.Compare(a.ts, b.ts) })
			for i := range cs {
				cs[i].first = i == 0
			}
		}
	}
	if len(rd.spans) > 0 {
		w.updateFlags(&rd.spans[0].pathRules) // every span has the same event rules
	}
	names := w.tab.strs
	o.worker, o.names = w.id, names
	for si := range rd.spans {
		sp, po := &rd.spans[si], &o.per[si]
		for _, s := range w.order {
			evs := w.evSorted[w.evStart[s]:w.evStart[s+1]]
			evs = evs[sortSearch(len(evs), func(i int) bool { return evs[i].ts >= sp.readFrom }):]
			evs = evs[:sortSearch(len(evs), func(i int) bool { return evs[i].ts >= sp.toMS })]
			convs := w.cvSorted[w.cvStart[s]:w.cvStart[s+1]]
			if len(rd.custom) == 0 {
				convs = convs[sortSearch(len(convs), func(i int) bool { return convs[i].ts >= sp.readFrom }):]
			}
			convs = convs[:sortSearch(len(convs), func(i int) bool { return convs[i].ts >= sp.toMS })]
			po.events += int64(len(evs))
			if sp.funnel {
				po.funnel = funnelOf(po.funnel, evs, names, w.ordSorted[w.ordStart[s]:w.ordStart[s+1]], sp.fromMS, sp.toMS)
			}
			w.sessions, w.cuts = sp.customer(w.cids[s], evs, convs, names, w.flags, w.none, w.sessions[:0], w.cuts, po)
		}
	}
	return nil
}

// sortSearch is sort.Search.
func sortSearch(n int, f func(int) bool) int {
	i, j := 0, n
	for i < j {
		h := int(uint(i+j) >> 1)
		if !f(h) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// funnelOf adds one customer to the funnel counts: their highest stage among the touch
// events and orders in [from, to), and every stage below it.
func funnelOf(f [funnelLen]int64, evs []actRow, names []string, orders []int64, from, to int64) [funnelLen]int64 {
	st := int8(-1)
	for i := range evs {
		if evs[i].ts >= from {
			st = max(st, touchStage(names[evs[i].name]))
		}
	}
	n := 0
	for _, ts := range orders {
		if ts >= from && ts < to {
			n++
		}
	}
	switch {
	case n > 1:
		st = max(st, stageAdvocacy)
	case n == 1:
		st = max(st, stagePurchase)
	}
	for k := int8(0); k <= st; k++ {
		f[k]++
	}
	return f
}

// groupBy returns, for items labelled with slots 0..n-1, where each slot's items start
// when they are laid out slot by slot (start[n] is the total).
func groupBy(label []int32, n int, start []int32) []int32 {
	start = slices.Grow(start[:0], n+1)[:n+1]
	clear(start)
	for _, l := range label {
		start[l+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	return start
}

// scatter lays items out slot by slot, keeping their order within a slot.
func scatter[T any](items []T, label []int32, start []int32, out []T) []T {
	out = slices.Grow(out[:0], len(items))[:len(items)]
	pos := slices.Clone(start[:len(start)-1])
	for i, l := range label {
		out[pos[l]] = items[i]
		pos[l]++
	}
	return out
}

// customConversions reads the block's conversion events other than orders, with their
// value from the event's properties.
func (rd *blockReader) customConversions(ctx context.Context, w *worker, block int64) error {
	lo, hi := pathstore.BlockRange(block)
	q := `SELECT a.customer_id, a.ts, e.body FROM activity a JOIN events e ON e.seq = a.seq
		WHERE a.customer_id >= ? AND a.customer_id < ? AND a.ts < ? AND a.name IN (?` +
		strings.Repeat(",?", len(rd.custom)-1) + `) ORDER BY a.customer_id, a.ts, a.seq`
	args := []any{lo, hi, rd.toMS}
	for _, n := range rd.custom {
		args = append(args, n)
	}
	rows, err := rd.db.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("paths: read conversion events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid int64
		c := convRow{currency: rd.currency, channel: -1}
		var body []byte
		if err := rows.Scan(&cid, &c.ts, &body); err != nil {
			return fmt.Errorf("paths: read conversion events: %w", err)
		}
		c.valueMinor = eventValue(body, rd.prop, rd.currency)
		w.convs = append(w.convs, c)
		w.convCust = append(w.convCust, w.slot(cid))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("paths: read conversion events: %w", err)
	}
	return nil
}

// customer turns one customer's touch events and conversions (both in time order) into
// paths appended to o. names and flags are the worker's strings and their flags as event
// names by id; none is the id of "(none)". sessions and cuts are scratch space, returned
// for reuse.
func (r *pathRules) customer(cid int64, evs []actRow, convs []convRow, names []string, flags []uint8, none int32,
	sessions []session, cuts []int, o *spanOut) ([]session, []int) {
	// Visits: a gap longer than the session timeout ends one; a new non-Direct channel or
	// campaign inside a visit (an ad click) starts a new touch, as in GA4.
	var lastTS int64
	for i := range evs {
		e := &evs[i]
		f := flags[e.name]
		if f&flagSkip != 0 {
			continue
		}
		n := len(sessions)
		var cur session
		if n > 0 {
			cur = sessions[n-1]
		}
		if n == 0 || pathstore.StartsVisit(false, e.ts-lastTS, r.timeout, names[e.channel], names[e.campaign], names[cur.channel], names[cur.campaign]) {
			sessions = append(sessions, session{start: e.ts, channel: e.channel, campaign: e.campaign})
			n++
		}
		lastTS = e.ts
		s := &sessions[n-1]
		if f&flagLead != 0 {
			s.lead = true
		}
		if f&flagOpp != 0 {
			s.opp = true
		}
	}
	o.sessions += int64(len(sessions))

	emit := func(ss []session, c *convRow) {
		p := pending{cid: cid, lo: len(o.touches), leadIdx: -1, oppIdx: -1}
		for i, s := range ss {
			o.touches = append(o.touches, rawTouch{ts: s.start, ch: s.channel, camp: s.campaign})
			if s.lead && p.leadIdx < 0 {
				p.leadIdx = i
			}
			if s.opp && p.oppIdx < 0 {
				p.oppIdx = i
			}
		}
		if c != nil {
			p.conv, p.convTS, p.valueMinor, p.refunded, p.currency, p.first = true, c.ts, c.valueMinor, c.refunded, c.currency, c.first
			if len(ss) == 0 && c.channel >= 0 && names[c.channel] != "" {
				// An order with no touch before it: the visit or call it was made in is its
				// only known contact (a till sale to a walk-in customer).
				o.touches = append(o.touches, rawTouch{ts: c.ts, ch: c.channel, camp: none})
				p.synth = true
			}
		}
		p.hi = len(o.touches)
		o.paths = append(o.paths, p)
	}
	// nullPaths emits touches that led to no conversion as paths at most one lookback
	// window wide, cut from the newest touch back; one is in range when its last touch is.
	nullPaths := func(ss []session) bool {
		cuts = cuts[:0]
		for hi := len(ss); hi > 0; {
			last := ss[hi-1].start
			lo := hi - 1
			for lo > 0 && ss[lo-1].start >= last-r.lb {
				lo--
			}
			cuts = append(cuts, lo)
			hi = lo
		}
		emitted := false
		for i := len(cuts) - 1; i >= 0; i-- { // oldest first
			lo, hi := cuts[i], len(ss)
			if i > 0 {
				hi = cuts[i-1]
			}
			if last := ss[hi-1].start; last >= r.fromMS && last < r.toMS {
				emit(ss[lo:hi], nil)
				emitted = true
			}
		}
		return emitted
	}

	emitted := false
	next := 0 // first session not yet given to a conversion
	for ci := range convs {
		c := &convs[ci]
		end := next
		for end < len(sessions) && sessions[end].start <= c.ts {
			end++
		}
		lo := next
		for lo < end && sessions[lo].start < c.ts-r.lb {
			lo++
		}
		// Touches that aged out before this conversion ended paths of their own.
		if nullPaths(sessions[next:lo]) {
			emitted = true
		}
		next = end
		if c.ts < r.fromMS || c.ts >= r.toMS {
			continue
		}
		emit(sessions[lo:end], c)
		emitted = true
	}
	if nullPaths(sessions[next:]) || emitted {
		o.customers++
	}
	return sessions, cuts
}

// eventValue reads a numeric property of a stored event body ({"properties":{...}}) in
// minor units; 0 when absent or not a number.
func eventValue(body []byte, prop, currency string) int64 {
	var ev struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return 0
	}
	raw, ok := ev.Properties[prop]
	if !ok {
		return 0
	}
	v, err := money.FromJSON(raw, currency)
	if err != nil {
		return 0
	}
	return v
}
