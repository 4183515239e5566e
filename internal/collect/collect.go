// Package collect is omniroi's Segment-compatible HTTP Tracking API: /v1/track,
// /v1/batch and friends, the analytics.js short routes, and the settings object the
// browser SDK loads.
//
// A 2xx reply means the request's events are committed. Concurrent requests are
// committed together (group commit): one goroutine takes everything pending, writes it
// in one transaction, commits, and then answers each request.
package collect

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Options tune the handler; the zero value is a sensible default.
type Options struct {
	// OnCommit is called after each commit that stored events, from the committer
	// goroutine: it must not block (the event processor does a non-blocking send).
	OnCommit func()
	// Bounds on what is accepted but not yet committed; past them requests get 429.
	MaxPendingEvents int   // default 50,000
	MaxPendingBytes  int64 // default 64 MiB
	// MaxConcurrentRequests bounds event requests being parsed or waiting for their
	// commit, once their body is in and their write key checked; past it requests get
	// 429 (default 256).
	MaxConcurrentRequests int
	// MaxRequestsPerIP bounds the requests one client address has in progress, reading
	// included; past it 429 (default: the limits.max_requests_per_ip setting, 64).
	MaxRequestsPerIP int
	// MaxReadingBytes bounds the memory of bodies being received (default 64 MiB), a
	// quarter of it for requests whose write key is not checked yet; past it 429.
	MaxReadingBytes int64
	// BodyTimeout is how long a client has to send a body once its headers are in
	// (default 10 s); past it 408.
	BodyTimeout time.Duration
	// Bounds on one transaction.
	MaxCommitEvents int // default 20,000
	MaxCommitBytes  int // default 16 MiB
	// KeyCacheTTL is how long a write key → source lookup is trusted (default 30 s;
	// unknown keys are remembered for a fifth of it).
	KeyCacheTTL time.Duration
	// KeyCheckInterval is how often the key generation (store.KeyGenerationSetting) is
	// read to notice a rotation or revocation made by another process, which then
	// empties the cache (default 1 s).
	KeyCheckInterval time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the client's address;
	// nil reads the collect.trusted_proxies setting when the handler starts.
	TrustedProxies []netip.Prefix
	// RetryAfter is sent with 429 and 503 (default 1 s).
	RetryAfter time.Duration
	// CommitTimeout bounds one transaction (default 30 s); past it requests get 503.
	CommitTimeout time.Duration
	// CheckpointInterval is how often SQLite's WAL is checkpointed in the background,
	// off the commit path (default 250 ms); negative keeps SQLite's automatic
	// checkpoints inside commits.
	CheckpointInterval time.Duration
	// APIHost is the host[:port]/path analytics.js should send to (e.g.
	// "track.example.com/v1"), as named in the settings object; "" uses the request's
	// Host + "/v1". APIProtocol is "http" or "https"; "" follows the request (TLS or
	// X-Forwarded-Proto).
	APIHost     string
	APIProtocol string
	Logger      *slog.Logger
	Now         func() time.Time
}

func (o *Options) defaults() {
	if o.MaxPendingEvents <= 0 {
		o.MaxPendingEvents = 50_000
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 64 << 20
	}
	if o.MaxConcurrentRequests <= 0 {
		o.MaxConcurrentRequests = 256
	}
	if o.MaxReadingBytes <= 0 {
		o.MaxReadingBytes = 64 << 20
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.MaxCommitEvents <= 0 {
		o.MaxCommitEvents = 20_000
	}
	if o.MaxCommitBytes <= 0 {
		o.MaxCommitBytes = 16 << 20
	}
	if o.KeyCacheTTL <= 0 {
		o.KeyCacheTTL = 30 * time.Second
	}
	if o.KeyCheckInterval <= 0 {
		o.KeyCheckInterval = time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 30 * time.Second
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Stats are counters since the handler started.
type Stats struct {
	Requests         int64 // event requests answered
	EventsAccepted   int64 // valid events committed (duplicates included)
	EventsInserted   int64 // new rows (accepted minus duplicates)
	EventsRejected   int64 // invalid events turned away
	Commits          int64 // transactions
	Overloaded       int64 // 429 replies
	StorageErrors    int64 // 503 replies after a failed commit
	Unauthorized     int64 // 401 replies
	BadRequests      int64 // 400 replies to whole requests
	PendingEvents    int64 // accepted, not yet answered
	PendingRequests  int64
	InProgress       int64         // event requests admitted and not answered yet, those still sending their body included
	EventsDropped    int64         // events of erased people, counted and not stored (privacy.go)
	EventsAnonymised int64         // events without analytics consent, stored without identifiers
	TailCheckpoints  int64         // SQLite checkpoints finished by the committer so the WAL restarts
	SlowestCommit    time.Duration // longest transaction (write + commit)
	SlowestTail      time.Duration // longest tail checkpoint
	Closing          bool          // Close has been called: new requests get 503
}

// Handler serves the collection API. Create it with NewHandler; stop it with Close.
type Handler struct {
	db  *store.DB
	opt Options
	log *slog.Logger
	mux *http.ServeMux

	mu           sync.Mutex
	queue        []*pending
	inflightEv   int
	inflightB    int64
	inflightReqs int
	closed       bool
	wake         chan struct{}
	done         chan struct{}

	slots       chan struct{} // one per request being parsed or committed
	perIP       ipLimiter
	budget      byteBudget
	maxFut      maxFutureCache
	keys        *KeyCache
	checkpoints *store.Checkpointer // nil on PostgreSQL or when disabled
	onStored    atomic.Pointer[func([]event.Event)]
	onCommit    atomic.Pointer[func()]

	nRequests, nAccepted, nInserted, nRejected, nCommits atomic.Int64
	nOverloaded, nStorageErr, nUnauthorized, nBad        atomic.Int64
	nDropped, nAnonymised                                atomic.Int64 // privacy gate (privacy.go)
	trusted                                              sync.Map     // source id → bool: its kind is trusted (privacy.go)
	slowestCommit, slowestTail                           atomic.Int64 // nanoseconds; written by the committer only
	lastCommit                                           atomic.Pointer[commitResult]
}

// pending is one request's share of a group commit.
type pending struct {
	events     []event.Event
	rejections []store.Rejection
	bytes      int64
	reply      chan error // buffered; nil when nobody waits (a rejection-only record)
}

// NewHandler starts the committer goroutine.
func NewHandler(db *store.DB, opt Options) *Handler {
	opt.defaults()
	h := &Handler{
		db:    db,
		opt:   opt,
		log:   opt.Logger,
		wake:  make(chan struct{}, 1),
		slots: make(chan struct{}, opt.MaxConcurrentRequests),
		done:  make(chan struct{}),
	}
	h.keys = NewKeyCache(db, opt.KeyCacheTTL, opt.KeyCheckInterval, opt.Now, opt.Logger)
	if opt.TrustedProxies == nil {
		ps, err := workspace.TrustedProxies(context.Background(), db)
		if err != nil {
			h.log.Warn("collect.trusted_proxies unreadable; X-Forwarded-For is ignored", "err", err)
		}
		h.opt.TrustedProxies = ps
	}
	h.initLimits()
	if opt.OnCommit != nil {
		h.onCommit.Store(&opt.OnCommit)
	}
	if err := db.PrepareFastInsert(context.Background()); err != nil {
		h.log.Warn("prepared event insert unavailable", "err", err)
	}
	if opt.CheckpointInterval > 0 {
		cp, err := db.StartCheckpointer(opt.CheckpointInterval)
		if err != nil {
			h.log.Warn("background WAL checkpoints unavailable; SQLite checkpoints inside commits", "err", err)
		}
		h.checkpoints = cp
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	go h.committer()
	return h
}

// Register adds the collection routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, r := range []struct {
		paths []string
		typ   string
	}{
		{[]string{"/v1/track", "/v1/t"}, event.Track},
		{[]string{"/v1/identify", "/v1/i"}, event.Identify},
		{[]string{"/v1/page", "/v1/p"}, event.Page},
		{[]string{"/v1/screen", "/v1/s"}, event.Screen},
		{[]string{"/v1/group", "/v1/g"}, event.Group},
		{[]string{"/v1/alias", "/v1/a"}, event.Alias},
		{[]string{"/v1/batch", "/v1/import", "/v1/b"}, ""},
	} {
		for _, p := range r.paths {
			mux.Handle("POST "+p, h.events(p, r.typ))
		}
	}
	mux.HandleFunc("OPTIONS /v1/", h.preflight)
	mux.HandleFunc("GET /v1/projects/{writeKey}/settings", h.settings)
	h.registerAssets(mux)
}

// ServeHTTP serves the collection routes alone (tests, or mounting under a prefix).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// SetOnStored sets what receives the events of each commit that stored them, with their
// seq, before OnCommit runs: the event processor takes them from memory instead of
// reading back what was just written. It is called on SQLite only, and only when every
// event of the commit was new (the log's seqs of the commit are then known: consecutive,
// checked against the first and last row); otherwise the processor reads the log as
// always. f must not block, and must copy what it keeps: evs is reused. nil removes it.
func (h *Handler) SetOnStored(f func(evs []event.Event)) {
	if f == nil {
		h.onStored.Store(nil)
		return
	}
	h.onStored.Store(&f)
}

// SetOnCommit replaces Options.OnCommit, for callers wired after the handler exists
// (the event processor, from a serve hook). f must not block; nil removes it.
func (h *Handler) SetOnCommit(f func()) {
	if f == nil {
		h.onCommit.Store(nil)
		return
	}
	h.onCommit.Store(&f)
}

// Stats returns the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	pe, pr, closing := h.inflightEv, h.inflightReqs, h.closed
	h.mu.Unlock()
	return Stats{
		Requests: h.nRequests.Load(), EventsAccepted: h.nAccepted.Load(), EventsInserted: h.nInserted.Load(),
		EventsRejected: h.nRejected.Load(), Commits: h.nCommits.Load(), Overloaded: h.nOverloaded.Load(),
		StorageErrors: h.nStorageErr.Load(), Unauthorized: h.nUnauthorized.Load(), BadRequests: h.nBad.Load(),
		PendingEvents: int64(pe), PendingRequests: int64(pr), InProgress: h.perIP.total(), TailCheckpoints: h.checkpoints.Tails(),
		EventsDropped: h.nDropped.Load(), EventsAnonymised: h.nAnonymised.Load(),
		SlowestCommit: time.Duration(h.slowestCommit.Load()), SlowestTail: time.Duration(h.slowestTail.Load()),
		Closing: closing,
	}
}

// Close stops accepting events (new requests get 503), commits what is pending and
// stops the committer. It returns early with ctx's error.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.signal()
	select {
	case <-h.done:
		h.checkpoints.Stop()
		h.db.ReleaseFastInsert()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("collect: flush pending events: %w", ctx.Err())
	}
}

var errOverloaded = errors.New("overloaded")
var errClosed = errors.New("closed")

// enqueue admits p unless the pending bounds are full. A request alone is always
// admitted, so a batch bigger than the bounds still goes through on an idle server.
func (h *Handler) enqueue(p *pending) error {
	n := len(p.events) + len(p.rejections)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errClosed
	}
	if h.inflightReqs > 0 && (h.inflightEv+n > h.opt.MaxPendingEvents || h.inflightB+p.bytes > h.opt.MaxPendingBytes) {
		h.mu.Unlock()
		return errOverloaded
	}
	h.inflightEv += n
	h.inflightB += p.bytes
	h.inflightReqs++
	h.queue = append(h.queue, p)
	h.mu.Unlock()
	h.signal()
	return nil
}

func (h *Handler) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// take pops pending requests up to one transaction's bounds (at least one).
func (h *Handler) take(buf []*pending) (out []*pending, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev, b := 0, 0
	i := 0
	for ; i < len(h.queue); i++ {
		p := h.queue[i]
		n := len(p.events) + len(p.rejections)
		if i > 0 && (ev+n > h.opt.MaxCommitEvents || b+int(p.bytes) > h.opt.MaxCommitBytes) {
			break
		}
		ev += n
		b += int(p.bytes)
		buf = append(buf, p)
	}
	rest := copy(h.queue, h.queue[i:])
	clear(h.queue[rest:])
	h.queue = h.queue[:rest]
	return buf, h.closed
}

func (h *Handler) committer() {
	defer close(h.done)
	var batch []*pending
	var evs []event.Event
	var rejs []store.Rejection
	for {
		<-h.wake
		for {
			var closed bool
			batch, closed = h.take(batch[:0])
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			evs, rejs = evs[:0], rejs[:0]
			for _, p := range batch {
				evs = append(evs, p.events...)
				rejs = append(rejs, p.rejections...)
			}
			t0 := time.Now()
			stored, err := h.write(evs, rejs)
			h.lastCommit.Store(&commitResult{err: err, at: time.Now()})
			if d := int64(time.Since(t0)); d > h.slowestCommit.Load() {
				h.slowestCommit.Store(d)
			}
			h.mu.Lock()
			for _, p := range batch {
				h.inflightEv -= len(p.events) + len(p.rejections)
				h.inflightB -= p.bytes
				h.inflightReqs--
			}
			h.mu.Unlock()
			if f := h.onStored.Load(); err == nil && len(stored) > 0 && f != nil {
				(*f)(stored)
			}
			// Wake the processor before answering, so a client that saw its 2xx can count
			// on the events being on their way into the derived tables.
			if f := h.onCommit.Load(); err == nil && len(evs) > 0 && f != nil {
				(*f)()
			}
			for _, p := range batch {
				if p.reply != nil {
					p.reply <- err
				}
			}
			clear(evs) // drop references to bodies
			clear(batch)
			if err != nil {
				h.nStorageErr.Add(int64(len(batch)))
				h.log.Error("commit events", "events", len(evs), "err", err)
				continue
			}
			// Between two transactions: let SQLite restart a long WAL (see Checkpointer).
			t0 = time.Now()
			if err := h.checkpoints.Tail(context.Background()); err != nil {
				h.log.Warn("WAL checkpoint", "err", err)
			}
			if d := int64(time.Since(t0)); d > h.slowestTail.Load() {
				h.slowestTail.Store(d)
			}
		}
	}
}

func (h *Handler) write(evs []event.Event, rejs []store.Rejection) (stored []event.Event, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opt.CommitTimeout)
	defer cancel()
	inserted := 0
	feed := h.onStored.Load() != nil && h.db.Dialect == store.SQLite
	err = h.db.Write(ctx, func(tx *store.Tx) error {
		stored = nil
		if len(evs) > 0 {
			if err := store.LockEventLog(ctx, tx); err != nil {
				return fmt.Errorf("lock event log: %w", err)
			}
		}
		evs, rejs, err := h.privacyGate(ctx, tx, evs, rejs)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			n, err := h.db.InsertEventsFast(ctx, tx, evs)
			if err != nil {
				return err
			}
			inserted = n
			if feed && n == len(evs) {
				if stored, err = withSeqs(ctx, tx, evs); err != nil {
					return err
				}
			}
		}
		return store.InsertRejections(ctx, tx, rejs)
	})
	if err != nil {
		return nil, err
	}
	h.nCommits.Add(1)
	h.nAccepted.Add(int64(len(evs)))
	h.nInserted.Add(int64(inserted))
	return stored, nil
}

// withSeqs sets the seqs of evs, the events the transaction just inserted, every one of
// them new. SQLite gives the rows of one writer consecutive seqs after the largest, in
// the order of the INSERTs; the first and last rows are checked against evs. It returns
// nil (the processor then reads the log) when they do not match.
func withSeqs(ctx context.Context, tx *store.Tx, evs []event.Event) ([]event.Event, error) {
	row := func(q string, arg ...any) (seq, src int64, mid string, err error) {
		err = tx.QueryRow(ctx, q, arg...).Scan(&seq, &src, &mid)
		return
	}
	last, src, mid, err := row(`SELECT seq, source_id, message_id FROM events ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("read stored seqs: %w", err)
	}
	if en := &evs[len(evs)-1]; src != en.SourceID || mid != en.MessageID {
		return nil, nil
	}
	first := last - int64(len(evs)) + 1
	_, src, mid, err = row(`SELECT seq, source_id, message_id FROM events WHERE seq = ?`, first)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (src != evs[0].SourceID || mid != evs[0].MessageID) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stored seqs: %w", err)
	}
	for i := range evs {
		evs[i].Seq = first + int64(i)
	}
	return evs, nil
}

// ---- requests ----

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
var gzPool sync.Pool

// httpError is a whole-request failure with its status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

type rejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

func (h *Handler) events(route, typeHint string) http.Handler {
	origin := "api " + route
	batch := typeHint == ""
	limit, what := int64(event.MaxEventBytes), "32 KB per event"
	if batch {
		limit, what = event.MaxBatchBytes, "500 KB per batch"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cors(w, r)
		h.nRequests.Add(1)
		receivedAt := h.opt.Now()
		clientIP := h.clientIP(r)
		done, err := h.admit(w, r, clientIP)
		if err != nil {
			h.fail(w, err)
			return
		}
		defer done()

		key, _, hasBasic := r.BasicAuth()
		var src store.Source
		if key != "" {
			var err error
			if src, err = h.source(r.Context(), key); err != nil {
				h.fail(w, err)
				return
			}
		}

		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= 4<<20 {
				bufPool.Put(buf)
			}
		}()
		release, err := h.readBody(r, buf, limit, what, src.ID != 0)
		defer release()
		if err != nil {
			h.recordRequestRejection(src, receivedAt, origin, err.Error(), nil)
			h.fail(w, err)
			return
		}
		bodyRead(w)
		body := buf.Bytes()

		var items [][]byte
		in := event.Input{TypeHint: typeHint, ReceivedAt: receivedAt, MaxFuture: h.maxFuture()}
		if batch {
			b, err := event.ParseBatch(body)
			if err != nil {
				if src.ID == 0 && b.WriteKey == "" && !hasBasic {
					// Without a key we cannot tell who sent it; say what is wrong with it.
					h.fail(w, &httpError{http.StatusBadRequest, err.Error()})
					return
				}
				if src.ID == 0 {
					var aerr error
					if src, aerr = h.sourceFromBody(r.Context(), b.WriteKey); aerr != nil {
						h.fail(w, aerr)
						return
					}
				}
				h.recordRequestRejection(src, receivedAt, origin, err.Error(), body)
				h.fail(w, &httpError{http.StatusBadRequest, err.Error()})
				return
			}
			items = b.Items
			in.BatchSentAt, in.BatchContext, in.BatchIntegrations = b.SentAt, b.Context, b.Integrations
			key = b.WriteKey
		} else {
			items = [][]byte{body}
			if src.ID == 0 {
				key = event.WriteKey(body)
			}
		}
		if src.ID == 0 {
			var err error
			if src, err = h.sourceFromBody(r.Context(), key); err != nil {
				h.fail(w, err)
				return
			}
		}
		// Only now, with the body in and the key checked, a slot.
		freeSlot, err := h.takeSlot()
		if err != nil {
			h.fail(w, err)
			return
		}
		defer freeSlot()

		p := &pending{events: make([]event.Event, 0, len(items))}
		var rej []rejected
		var notes []notice
		for i, raw := range items {
			ev, err := in.Normalize(raw)
			if err != nil {
				rej = append(rej, rejected{Index: i, Error: err.Error()})
				p.rejections = append(p.rejections, store.Rejection{
					SourceID: src.ID, ReceivedAt: receivedAt, Origin: origin, Position: i, Reason: err.Error(), Body: clip(raw),
				})
				continue
			}
			if ev.Notice != "" {
				notes, p.rejections = noteEvent(notes, p.rejections, i, ev.Notice, store.Rejection{SourceID: src.ID, ReceivedAt: receivedAt, Origin: origin, Body: clip(raw)})
			}
			ev.SourceID, ev.ClientIP = src.ID, clientIP
			p.bytes += int64(len(ev.Body))
			p.events = append(p.events, ev)
		}
		h.nRejected.Add(int64(len(rej)))

		if !batch && len(rej) > 0 {
			// A single call with a bad event: 400 with the reason; the record of it is
			// committed in the background.
			_ = h.enqueue(p)
			h.nBad.Add(1)
			writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "error": rej[0].Error})
			return
		}
		p.reply = make(chan error, 1)
		if err := h.enqueue(p); err != nil {
			h.fail(w, err)
			return
		}
		select {
		case err := <-p.reply:
			if err != nil {
				h.fail(w, err)
				return
			}
		case <-r.Context().Done():
			return // the client left; the events are committed anyway
		}
		if rej == nil && notes == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			var b [64]byte
			out := append(b[:0], `{"success":true,"accepted":`...)
			out = strconv.AppendInt(out, int64(len(p.events)), 10)
			out = append(out, "}\n"...)
			_, _ = w.Write(out)
			return
		}
		reply := map[string]any{"success": true, "accepted": len(p.events)}
		if rej != nil {
			reply["rejected"] = rej
		}
		if notes != nil {
			reply["notices"] = notes
		}
		writeJSON(w, http.StatusOK, reply)
	})
}

// clip keeps the start of a rejected payload; the store truncates further.
func clip(b []byte) string {
	if len(b) > 2048 {
		b = b[:2048]
	}
	return string(b)
}

// recordRequestRejection notes a whole request turned away, when we know whose it is.
func (h *Handler) recordRequestRejection(src store.Source, at time.Time, origin, reason string, body []byte) {
	if src.ID == 0 {
		return
	}
	p := &pending{rejections: []store.Rejection{{SourceID: src.ID, ReceivedAt: at, Origin: origin, Position: -1, Reason: reason, Body: clip(body)}}}
	_ = h.enqueue(p) // best effort: under overload the record is dropped
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		if he.status == http.StatusUnauthorized {
			h.nUnauthorized.Add(1)
		} else if he.status < 500 {
			h.nBad.Add(1)
		}
		writeJSON(w, he.status, map[string]any{"success": false, "error": he.msg})
	case errors.Is(err, errOverloaded):
		h.nOverloaded.Add(1)
		msg := "too many events pending; retry later"
		var oe *overloadError
		if errors.As(err, &oe) {
			msg = oe.msg
		}
		w.Header().Set("Retry-After", strconv.Itoa(h.retryAfter()))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"success": false, "error": msg})
	case errors.Is(err, errClosed):
		w.Header().Set("Retry-After", strconv.Itoa(h.retryAfter()))
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"success": false, "error": "server shutting down; retry"})
	default:
		w.Header().Set("Retry-After", strconv.Itoa(h.retryAfter()))
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"success": false, "error": "storage unavailable; retry"})
	}
}

func (h *Handler) retryAfter() int {
	return max(1, int(h.opt.RetryAfter.Round(time.Second)/time.Second))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ---- CORS and settings ----

func cors(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
	} else {
		hd.Set("Access-Control-Allow-Origin", "*")
	}
}

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Content-Encoding, X-Retry-Count") // analytics.js sends X-Retry-Count on retries
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// settings serves what analytics.js loads from its cdnURL before sending: the
// "Segment.io" integration names the write key and where to send (apiHost, protocol).
func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	key := strings.TrimSuffix(r.PathValue("writeKey"), ".json")
	if _, err := h.source(r.Context(), key); err != nil {
		h.fail(w, err)
		return
	}
	host := h.opt.APIHost
	if host == "" {
		host = r.Host + "/v1"
	}
	proto := h.opt.APIProtocol
	if proto == "" {
		proto = "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			proto = "https"
		}
	}
	enabled := map[string]any{"__default": map[string]any{"enabled": true, "integrations": map[string]any{}}}
	settingsCaching(w.Header(), h.opt.APIHost != "", h.opt.APIProtocol != "")
	writeJSON(w, http.StatusOK, map[string]any{
		"integrations": map[string]any{
			"Segment.io": map[string]any{
				"apiKey":                key,
				"apiHost":               host,
				"protocol":              proto,
				"unbundledIntegrations": []string{},
				"addBundledMetadata":    true,
				"maybeBundledConfigIds": map[string]any{},
				"versionSettings":       map[string]any{"version": "4.4.7", "componentTypes": []string{"browser"}},
			},
		},
		"plan":                      map[string]any{"track": enabled, "identify": enabled, "group": enabled},
		"edgeFunction":              map[string]any{},
		"analyticsNextEnabled":      true,
		"middlewareSettings":        map[string]any{},
		"enabledMiddleware":         map[string]any{},
		"metrics":                   map[string]any{"sampleRate": 0},
		"legacyVideoPluginsEnabled": false,
		"remotePlugins":             []any{},
	})
}

// ---- write keys ----

// clientIP is the address a request came from: the connection's, or, when that is a
// trusted proxy, the nearest address in X-Forwarded-For that is not a trusted proxy.
func (h *Handler) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if !trusted(h.opt.TrustedProxies, addr) {
		return addr.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr.String() // a garbled header: believe nothing in it
			}
			addr = a.Unmap()
			if !trusted(h.opt.TrustedProxies, addr) {
				return addr.String()
			}
		}
	}
	return addr.String()
}

func trusted(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (h *Handler) sourceFromBody(ctx context.Context, key string) (store.Source, error) {
	if key == "" {
		return store.Source{}, &httpError{http.StatusUnauthorized, "missing write key: send it as the HTTP basic auth username (empty password) or as writeKey in the body"}
	}
	return h.source(ctx, key)
}

// source resolves a write key through the key cache (KeyCache), which a key rotation or
// revocation empties.
func (h *Handler) source(ctx context.Context, key string) (store.Source, error) {
	src, err := h.keys.Source(ctx, key)
	if err == nil {
		h.trusted.Store(src.ID, src.Trusted())
	}
	if errors.Is(err, ErrUnknownKey) {
		return store.Source{}, &httpError{http.StatusUnauthorized, "unknown write key"}
	}
	return src, err
}
