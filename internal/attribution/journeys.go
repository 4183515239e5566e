package attribution

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Defaults of JourneyOptions.
const (
	DefaultSessionTimeout = 30 * time.Minute
	OrderCompleted        = "Order Completed"
	DefaultValueProperty  = "revenue"
)

var (
	// DefaultLeadEvents mark lead creation for w_shaped.
	DefaultLeadEvents = []string{"Signed Up", "Account Created"}
	// DefaultOpportunityEvents mark opportunity creation for w_shaped.
	DefaultOpportunityEvents = []string{"Checkout Started", "Product Added"}
	// DefaultIgnoreEvents are never touches: they are after-sales, not marketing contacts.
	DefaultIgnoreEvents = []string{"Order Refunded"}
)

// JourneyOptions configure BuildJourneys. Zero values take the defaults.
type JourneyOptions struct {
	From, To          time.Time     // conversions in [From, To); null journeys whose last touch is in it; zero: unbounded
	Lookback          time.Duration // touches at most this long before the conversion; default 30 days
	SessionTimeout    time.Duration // inactivity that ends a visit; default 30 minutes
	ConversionEvents  []string      // default ["Order Completed"], read from the orders table
	ValueProperty     string        // property holding the value of other conversion events; default "revenue"
	LeadEvents        []string      // default DefaultLeadEvents
	OpportunityEvents []string      // default DefaultOpportunityEvents
	IgnoreEvents      []string      // default DefaultIgnoreEvents; conversion events are never touches either
	// OnJourney, when set, sees every journey added to the set (its slices are reused after
	// the call returns). ROI uses it for per-journey statistics.
	OnJourney func(JourneyInfo)
}

// JourneyInfo describes one journey for OnJourney.
type JourneyInfo struct {
	CustomerID      int64
	Journey         Journey // Conversions 1 (converted) or Nulls 1
	ValueMinor      int64   // conversion value in minor units of Summary.Currency, net of refunds
	FirstConversion bool    // the customer's first conversion ever (a new customer)
	Synthesized     bool    // the only touch was made up from the order's own channel
}

// Summary describes what BuildJourneys read and built.
type Summary struct {
	From               time.Time     `json:"from,omitzero"`
	To                 time.Time     `json:"to,omitzero"`
	Lookback           time.Duration `json:"lookback_ns"`
	SessionTimeout     time.Duration `json:"session_timeout_ns"`
	ConversionEvents   []string      `json:"conversion_events"`
	Currency           string        `json:"currency"`
	Customers          int64         `json:"customers"`   // customers with at least one journey in range
	Events             int64         `json:"events"`      // activity rows read
	Sessions           int64         `json:"sessions"`    // touches built from them (whole read window)
	Conversions        int64         `json:"conversions"` // in range
	NullJourneys       int64         `json:"null_journeys"`
	Touches            int64         `json:"touches"` // in the journeys of the set
	SynthesizedTouches int64         `json:"synthesized_touches"`
	Unattributed       int64         `json:"unattributed"`   // conversions without any touch
	RevenueMinor       int64         `json:"revenue_minor"`  // net of refunds, conversions in range
	RefundedMinor      int64         `json:"refunded_minor"` // refunds of those conversions
	MaxSeq             int64         `json:"max_seq"`        // newest event when the read started
	Elapsed            time.Duration `json:"elapsed_ns"`
	Notes              []string      `json:"notes,omitempty"`
}

// actRow is one activity row.
type actRow struct {
	cid, ts                 int64
	name, channel, campaign string
}

// convRow is one conversion.
type convRow struct {
	cid, ts    int64
	valueMinor int64
	refunded   int64
	currency   string
	channel    string // the order's channel, for orders without touches
	first      bool
}

// session is one touch built from consecutive events.
type session struct {
	start     int64
	channel   string
	campaign  string
	lead, opp bool
}

// rowStream reads rows ordered by customer id and hands them out one customer at a time.
type rowStream[T any] struct {
	rows *sql.Rows
	scan func(*sql.Rows) (T, int64, error)
	head T
	cid  int64
	ok   bool
	err  error
}

func newRowStream[T any](rows *sql.Rows, scan func(*sql.Rows) (T, int64, error)) *rowStream[T] {
	s := &rowStream[T]{rows: rows, scan: scan}
	s.advance()
	return s
}

func (s *rowStream[T]) advance() {
	if s.err != nil || !s.rows.Next() {
		s.ok = false
		if s.err == nil {
			s.err = s.rows.Err()
		}
		return
	}
	s.head, s.cid, s.err = s.scan(s.rows)
	s.ok = s.err == nil
}

// take appends the rows of customer cid to buf.
func (s *rowStream[T]) take(cid int64, buf []T) []T {
	for s.ok && s.cid == cid {
		buf = append(buf, s.head)
		s.advance()
	}
	return buf
}

// interner returns one string per distinct byte sequence, so a million rows with a dozen
// channels do not allocate a million strings.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (o *JourneyOptions) defaults() {
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

// BuildJourneys reads the activity and orders tables customer by customer (streamed in
// customer-id ranges, so memory holds the journeys built, never the events) and builds the
// journeys of conversions in [From, To) plus the non-converting journeys ending in it. See
// docs/attribution.md ("Journeys from the store") for the rules.
func BuildJourneys(ctx context.Context, db *store.DB, opt JourneyOptions) (*Set, Summary, error) {
	start := time.Now()
	opt.defaults()
	sum := Summary{From: opt.From, To: opt.To, Lookback: opt.Lookback, SessionTimeout: opt.SessionTimeout,
		ConversionEvents: opt.ConversionEvents}
	if !opt.From.IsZero() && !opt.To.IsZero() && !opt.From.Before(opt.To) {
		return nil, sum, fmt.Errorf("journeys: from %s is not before to %s", opt.From.Format(time.DateOnly), opt.To.Format(time.DateOnly))
	}
	var err error
	if sum.Currency, err = workspace.Currency(ctx, db); err != nil {
		return nil, sum, fmt.Errorf("journeys: %w", err)
	}
	if sum.MaxSeq, err = db.MaxEventSeq(ctx); err != nil {
		return nil, sum, fmt.Errorf("journeys: %w", err)
	}
	// Unbounded ends stop at the span data can really have (1990 to limits.max_future
	// ahead): a touch stored long ago with the date 0001-01-01 reads as Go's zero time, "no
	// time", and would fail the time-decay model for the whole period.
	spanFrom, spanTo, err := workspace.Span(ctx, db)
	if err != nil {
		return nil, sum, fmt.Errorf("journeys: %w", err)
	}
	fromMS := max(msOf(opt.From, math.MinInt64/2), spanFrom.UnixMilli())
	toMS := min(msOf(opt.To, math.MaxInt64/2), spanTo.UnixMilli())
	lb := opt.Lookback.Milliseconds()
	readFrom := max(fromMS-lb, spanFrom.UnixMilli())

	convSet := setOf(opt.ConversionEvents)
	orders := convSet[OrderCompleted]
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
	leadSet, oppSet := setOf(opt.LeadEvents), setOf(opt.OpportunityEvents)

	rules := &journeyRules{skip: skip, lead: leadSet, opp: oppSet, fromMS: fromMS, toMS: toMS, lb: lb,
		timeout: opt.SessionTimeout.Milliseconds()}
	rd := &chunkReader{db: db, readFrom: readFrom, toMS: toMS, orders: orders, custom: custom,
		prop: opt.ValueProperty, currency: sum.Currency, rules: rules}
	bounds, err := rd.bounds(ctx)
	if err != nil {
		return nil, sum, err
	}

	// Customer-id ranges are read and turned into journeys by a few workers (each holding
	// one read connection at a time); the set is assembled in customer order, so the result
	// does not depend on the number of workers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(bounds) - 1
	outs := make([]*chunkOut, n)
	for i := range outs {
		outs[i] = &chunkOut{done: make(chan struct{})}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n, maxJourneyWorkers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				o := outs[i]
				o.err = rd.chunk(ctx, bounds[i], bounds[i+1], o)
				close(o.done)
				if o.err != nil {
					cancel()
				}
			}
		})
	}
	defer wg.Wait()

	b := NewSetBuilder()
	currency := map[string]bool{}
	for i, o := range outs {
		<-o.done
		if o.err != nil {
			cancel()
			return nil, sum, o.err
		}
		sum.Events += o.events
		sum.Sessions += o.sessions
		sum.Customers += o.customers
		for k := range o.journeys {
			p := &o.journeys[k]
			j := Journey{Touches: o.touches[p.lo:p.hi]}
			if p.leadIdx >= 0 || p.oppIdx >= 0 {
				j.Milestones = []int{p.leadIdx, p.oppIdx}
			}
			info := JourneyInfo{CustomerID: p.cid, Synthesized: p.synth}
			if p.conv {
				j.Conversions = 1
				j.ConvertedAt = time.UnixMilli(p.convTS).UTC()
				v := max(p.valueMinor, 0)
				j.Value = money.Major(v, sum.Currency)
				info.ValueMinor, info.FirstConversion = v, p.first
				sum.Conversions++
				sum.RevenueMinor = money.SatAdd(sum.RevenueMinor, p.valueMinor)
				sum.RefundedMinor = money.SatAdd(sum.RefundedMinor, p.refunded)
				if p.currency != sum.Currency {
					currency[p.currency] = true
				}
				if len(j.Touches) == 0 {
					sum.Unattributed++
				}
				if p.synth {
					sum.SynthesizedTouches++
				}
			} else {
				j.Nulls = 1
				sum.NullJourneys++
			}
			sum.Touches += int64(len(j.Touches))
			if err := b.Add(j); err != nil {
				return nil, sum, fmt.Errorf("journeys: customer %d: %w", p.cid, err)
			}
			if opt.OnJourney != nil {
				info.Journey = j
				opt.OnJourney(info)
			}
		}
		outs[i] = nil // let the chunk's memory go
	}
	for c := range currency {
		sum.Notes = append(sum.Notes, fmt.Sprintf("conversions in %s were added as if in %s (no exchange rates)", c, sum.Currency))
	}
	slices.Sort(sum.Notes)
	sum.Elapsed = time.Since(start)
	return b.Set(), sum, nil
}

// maxJourneyWorkers leaves one of SQLite's four read connections to other readers.
const maxJourneyWorkers = 3

// journeyChunks is how many customer-id ranges the read is cut into.
var journeyChunks = 16

// journeyRules turn one customer's rows into journeys.
type journeyRules struct {
	skip, lead, opp  map[string]bool
	fromMS, toMS, lb int64
	timeout          int64
}

// pending is a journey built by a worker, waiting to be added to the set in order.
type pending struct {
	cid                  int64
	lo, hi               int // its touches in chunkOut.touches
	conv, first, synth   bool
	convTS               int64
	valueMinor, refunded int64
	currency             string
	leadIdx, oppIdx      int
}

// chunkOut is what one worker built from one customer-id range.
type chunkOut struct {
	touches                     []Touch
	journeys                    []pending
	events, sessions, customers int64
	err                         error
	done                        chan struct{}
}

type chunkReader struct {
	db             *store.DB
	readFrom, toMS int64
	orders         bool
	custom         []string
	prop, currency string
	rules          *journeyRules
}

// bounds cuts the customer ids into at most journeyChunks ranges [b[i], b[i+1]).
func (rd *chunkReader) bounds(ctx context.Context) ([]int64, error) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, table := range []string{"activity", "orders"} {
		var mn, mx sql64
		if err := rd.db.QueryRow(ctx, `SELECT MIN(customer_id), MAX(customer_id) FROM `+table).Scan(&mn, &mx); err != nil {
			return nil, fmt.Errorf("journeys: customer ids in %s: %w", table, err)
		}
		if mn.Valid {
			lo, hi = min(lo, mn.V), max(hi, mx.V)
		}
	}
	if lo > hi {
		return []int64{0}, nil // no rows: no chunks
	}
	span := uint64(hi-lo) + 1
	n := uint64(journeyChunks)
	if span < n {
		n = span
	}
	b := make([]int64, 0, n+1)
	for i := range n + 1 {
		b = append(b, lo+int64(span/n*i+span%n*i/n))
	}
	return b, nil
}

// chunk reads the customers in [lo, hi) and builds their journeys into o.
func (rd *chunkReader) chunk(ctx context.Context, lo, hi int64, o *chunkOut) error {
	in := interner{}
	var convs []convRow
	if rd.orders {
		// Orders from the beginning: an order's rank tells a new customer from a returning one.
		rows, err := rd.db.Query(ctx, `SELECT o.customer_id, o.ts, o.revenue_minor, o.currency, o.channel,
			`+commerce.RefundedSQL(rd.db.Dialect, "o")+`
			FROM orders o WHERE o.customer_id >= ? AND o.customer_id < ? AND +o.ts < ?
			ORDER BY o.customer_id, o.ts, o.order_id`, lo, hi, rd.toMS)
		if err != nil {
			return fmt.Errorf("journeys: read orders: %w", err)
		}
		var curB, chB sql.RawBytes
		for rows.Next() {
			var c convRow
			if err := rows.Scan(&c.cid, &c.ts, &c.valueMinor, &curB, &chB, &c.refunded); err != nil {
				rows.Close()
				return fmt.Errorf("journeys: read orders: %w", err)
			}
			c.currency, c.channel = in.get(curB), in.get(chB)
			if c.channel == "" {
				c.channel = "Unassigned"
			}
			c.refunded = min(max(c.refunded, 0), max(c.valueMinor, 0))
			c.valueMinor = money.SatSub(c.valueMinor, c.refunded)
			convs = append(convs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("journeys: read orders: %w", err)
		}
	}
	if len(rd.custom) > 0 {
		q := `SELECT a.customer_id, a.ts, e.body FROM activity a JOIN events e ON e.seq = a.seq
			WHERE a.customer_id >= ? AND a.customer_id < ? AND +a.ts < ? AND a.name IN (?` +
			strings.Repeat(",?", len(rd.custom)-1) + `) ORDER BY a.customer_id, a.ts, a.seq`
		args := []any{lo, hi, rd.toMS}
		for _, n := range rd.custom {
			args = append(args, n)
		}
		rows, err := rd.db.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("journeys: read conversion events: %w", err)
		}
		for rows.Next() {
			c := convRow{currency: rd.currency}
			var body []byte
			if err := rows.Scan(&c.cid, &c.ts, &body); err != nil {
				rows.Close()
				return fmt.Errorf("journeys: read conversion events: %w", err)
			}
			c.valueMinor = eventValue(body, rd.prop, rd.currency)
			convs = append(convs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("journeys: read conversion events: %w", err)
		}
		if rd.orders {
			slices.SortStableFunc(convs, func(a, b convRow) int {
				if c := cmp.Compare(a.cid, b.cid); c != 0 {
					return c
				}
				return cmp.Compare(a.ts, b.ts)
			})
		}
	}

	// On SQLite the (customer_id, ts) index already holds equal keys in rowid (= seq) order;
	// naming seq in ORDER BY would add a sort the planner cannot see is unneeded.
	order := "customer_id, ts, seq"
	if rd.db.Dialect == store.SQLite {
		order = "customer_id, ts"
	}
	rows, err := rd.db.Query(ctx, `SELECT customer_id, ts, name, channel, campaign FROM activity
		WHERE customer_id >= ? AND customer_id < ? AND +ts >= ? AND +ts < ? ORDER BY `+order,
		lo, hi, rd.readFrom, rd.toMS)
	if err != nil {
		return fmt.Errorf("journeys: read activity: %w", err)
	}
	defer rows.Close()
	var nameB, chB, campB sql.RawBytes
	acts := newRowStream(rows, func(r *sql.Rows) (actRow, int64, error) {
		var a actRow
		if err := r.Scan(&a.cid, &a.ts, &nameB, &chB, &campB); err != nil {
			return a, 0, fmt.Errorf("journeys: read activity: %w", err)
		}
		a.name, a.channel, a.campaign = in.get(nameB), in.get(chB), in.get(campB)
		if a.channel == "" {
			a.channel = "Unassigned"
		}
		return a, a.cid, nil
	})
	var (
		evBuf    []actRow
		sessions []session
		cuts     []int
		ci       int
		rowsSeen int
	)
	for {
		cid := int64(math.MaxInt64)
		if acts.ok {
			cid = acts.cid
		}
		if ci < len(convs) && convs[ci].cid < cid {
			cid = convs[ci].cid
		}
		if cid == math.MaxInt64 {
			break
		}
		evBuf = acts.take(cid, evBuf[:0])
		cj := ci
		for cj < len(convs) && convs[cj].cid == cid {
			cj++
		}
		rowsSeen += len(evBuf) + cj - ci
		if rowsSeen > 1<<15 {
			rowsSeen = 0
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("journeys: %w", err)
			}
		}
		o.events += int64(len(evBuf))
		sessions, cuts = rd.rules.customer(cid, evBuf, convs[ci:cj], sessions[:0], cuts, o)
		ci = cj
	}
	return acts.err
}

// customer turns one customer's activity rows and conversions (both in time order) into
// journeys appended to o. sessions and cuts are scratch space, returned for reuse.
func (r *journeyRules) customer(cid int64, evs []actRow, convs []convRow, sessions []session, cuts []int, o *chunkOut) ([]session, []int) {
	// Visits: a gap longer than the session timeout ends one; a new non-Direct channel or
	// campaign inside a visit (an ad click) starts a new touch, as in GA4.
	var lastTS int64
	for i := range evs {
		e := &evs[i]
		if r.skip[e.name] {
			continue
		}
		n := len(sessions)
		if n == 0 || e.ts-lastTS > r.timeout ||
			(!isDirect(e.channel) && (e.channel != sessions[n-1].channel || !strings.EqualFold(e.campaign, sessions[n-1].campaign))) {
			sessions = append(sessions, session{start: e.ts, channel: e.channel, campaign: e.campaign})
			n++
		}
		lastTS = e.ts
		s := &sessions[n-1]
		if r.lead[e.name] {
			s.lead = true
		}
		if r.opp[e.name] {
			s.opp = true
		}
	}
	o.sessions += int64(len(sessions))

	emit := func(ss []session, c *convRow) {
		p := pending{cid: cid, lo: len(o.touches), leadIdx: -1, oppIdx: -1}
		for i, s := range ss {
			o.touches = append(o.touches, Touch{Channel: s.channel, Campaign: s.campaign, Time: time.UnixMilli(s.start).UTC()})
			if s.lead && p.leadIdx < 0 {
				p.leadIdx = i
			}
			if s.opp && p.oppIdx < 0 {
				p.oppIdx = i
			}
		}
		if c != nil {
			p.conv, p.convTS, p.valueMinor, p.refunded, p.currency, p.first = true, c.ts, c.valueMinor, c.refunded, c.currency, c.first
			if len(ss) == 0 && c.channel != "" {
				// An order with no touch before it: the visit or call it was made in is its
				// only known contact (a till sale to a walk-in customer).
				o.touches = append(o.touches, Touch{Channel: c.channel, Campaign: "(none)", Time: time.UnixMilli(c.ts).UTC()})
				p.synth = true
			}
		}
		p.hi = len(o.touches)
		o.journeys = append(o.journeys, p)
	}
	// nullJourneys emits touches that led to no conversion as journeys at most one lookback
	// window wide, cut from the newest touch back; one is in range when its last touch is.
	nullJourneys := func(ss []session) bool {
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
		c.first = ci == 0
		end := next
		for end < len(sessions) && sessions[end].start <= c.ts {
			end++
		}
		lo := next
		for lo < end && sessions[lo].start < c.ts-r.lb {
			lo++
		}
		// Touches that aged out before this conversion ended journeys of their own.
		if nullJourneys(sessions[next:lo]) {
			emitted = true
		}
		next = end
		if c.ts < r.fromMS || c.ts >= r.toMS {
			continue
		}
		emit(sessions[lo:end], c)
		emitted = true
	}
	if nullJourneys(sessions[next:]) || emitted {
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
