// Package identity resolves the people behind events and runs the event processor that
// derives customers, identities, touchpoints (activity), orders and refunds from the
// append-only event log.
//
// One customer per person across anonymousId, userId, email and phone. Two different
// userIds are never merged; placeholder values never identify anyone; an identifier seen
// with too many userIds stops merging. Customer ids are the seq of the person's first
// event and the older customer survives a merge, so the tables depend only on the log:
// processing in any number of batches, or `omniroi rebuild`, gives the same rows.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/channel"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Settings and lease the processor uses.
const (
	LeaseName           = "processor"
	CursorSetting       = "processor.cursor"
	UnidentifiedSetting = "processor.unidentified"
	BadOrdersSetting    = "processor.bad_orders"
)

// ErrLeaseHeld is returned by CatchUp and Rebuild when another process (usually a
// running `omniroi serve`) holds the processor lease.
var ErrLeaseHeld = errors.New("another omniroi process (a running server?) holds the processor lease and processes events; stop it, or let it do the work")

// errLeaseLost makes the processor drop its in-memory state: someone else took over.
var errLeaseLost = errors.New("processor lease lost")

// Options tune the processor. Zero values take the defaults.
type Options struct {
	BatchSize int // events per write transaction in Run; default 10000
	// CatchUpBatchSize is the events per write transaction in CatchUp and Rebuild, which
	// hold the lease while nothing else processes: larger transactions rewrite the random
	// index pages (activity by customer and by time) fewer times. Default 50000.
	CatchUpBatchSize int
	// ReadChunk is how many events are read (and their bodies held) at a time within a
	// transaction; default 10000.
	ReadChunk               int
	Rules                   *channel.Rules // channel rules; default channel.Default()
	RulesFile               string         // path of a rules file, used when Rules is nil
	OwnHosts                []string       // the business's own hosts, not referrals
	MaxUserIDsPerIdentifier int            // an email/phone/anonymousId seen with more userIds is shared; default 3
	PollInterval            time.Duration  // how often Run looks for events of other processes; default 1s
	// Gather is the least time between two batches of Run while events keep arriving, so
	// that the commits of a busy collector become one batch instead of one each: every
	// batch rewrites the day's paths rows and commits (a sync), whatever its size. An
	// event after a quiet spell (no batch for Gather) is processed at once. Default 250ms;
	// negative: none.
	Gather   time.Duration
	LeaseTTL time.Duration // default 30s
	Owner    string        // lease owner name; default host-pid-random
	Logger   *slog.Logger
}

// Processor derives the customer tables from the event log.
type Processor struct {
	db     *store.DB
	opt    Options
	rules  *channel.Rules
	notify chan struct{}

	mu           sync.Mutex // one of Run, CatchUp, Rebuild at a time in this process
	g            *graph     // nil until loaded under the lease
	cursor       int64
	unidentified int64
	badOrders    int64
	currency     string
	kinds        map[int64]bool  // source id → trusted (trust.go)
	consentMap   consent.Mapping // privacy.consent.* settings (privacy_consent.go)
	epoch        string          // EpochSetting when the graph was loaded (privacy_erase.go)
	renewed      time.Time
	held         bool
	pathRows     pathstore.RowCache // the paths rows the last batch left (paths_hook.go)
	strs         interner           // activity rows' repeated strings, one copy each (resolve.go)
	// sessions holds session events for the daily rollups (rollup_hook.go); it is as
	// trustworthy as g, and reset whenever g is loaded.
	sessions rollup.SessionCache

	fedMu sync.Mutex    // guards fed
	fed   []event.Event // events the collector committed, in seq order (feed.go)
	// fedTaken counts the fed events processed without reading the log.
	fedTaken atomic.Int64
	// rollupsComputed, when set (tests), runs between computing the daily rollups on
	// start and writing them.
	rollupsComputed func()
}

// NewProcessor makes a processor for db. It does nothing until Run, CatchUp or Rebuild.
func NewProcessor(db *store.DB, opt Options) *Processor {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 10000
	}
	if opt.ReadChunk <= 0 {
		opt.ReadChunk = 10000
	}
	if opt.CatchUpBatchSize <= 0 {
		opt.CatchUpBatchSize = max(opt.BatchSize, 50000)
	}
	if opt.MaxUserIDsPerIdentifier <= 0 {
		opt.MaxUserIDsPerIdentifier = 3
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.Gather == 0 {
		opt.Gather = 250 * time.Millisecond
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = 30 * time.Second
	}
	if opt.Owner == "" {
		h, _ := os.Hostname()
		opt.Owner = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), store.NewKey("")[:8])
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Processor{db: db, opt: opt, notify: make(chan struct{}, 1)}
}

// Notify wakes Run after events were committed. It never blocks.
func (p *Processor) Notify() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *Processor) init() error {
	if p.rules != nil {
		return nil
	}
	switch {
	case p.opt.Rules != nil:
		p.rules = p.opt.Rules
	case p.opt.RulesFile != "":
		r, err := channel.LoadFile(p.opt.RulesFile)
		if err != nil {
			return err
		}
		p.rules = r
	default:
		p.rules = channel.Default()
	}
	return nil
}

func (p *Processor) acquire(ctx context.Context) (bool, error) {
	ok, err := p.db.AcquireLease(ctx, LeaseName, p.opt.Owner, p.opt.LeaseTTL)
	if err != nil {
		return false, err
	}
	p.held = ok
	if ok {
		p.renewed = time.Now()
	}
	return ok, nil
}

// heldErr says who holds the lease and until when (a crashed server's lease expires).
func (p *Processor) heldErr(ctx context.Context) error {
	var owner string
	var exp int64
	if err := p.db.QueryRow(ctx, `SELECT owner, expires_at FROM leases WHERE name = ?`, LeaseName).Scan(&owner, &exp); err != nil {
		return ErrLeaseHeld
	}
	left := time.Until(time.UnixMilli(exp)).Round(time.Second)
	return fmt.Errorf("%w (held by %s; if that process is gone, the lease expires in %s)", ErrLeaseHeld, owner, max(left, 0))
}

// release gives the lease up. The graph stays in memory: process checks the cursor
// before trusting it again.
func (p *Processor) release() {
	p.held = false
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.db.ReleaseLease(ctx, LeaseName, p.opt.Owner)
}

// Run processes events until ctx ends: it holds the processor lease (waiting while
// another process has it), wakes on Notify and polls for events of other processes.
func (p *Processor) Run(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.init(); err != nil {
		return err
	}
	defer p.release()
	tick := time.NewTicker(p.opt.PollInterval)
	defer tick.Stop()
	var last time.Time // when the last batch ended
	for {
		// Renew only when a third of the TTL has passed: an idle server should not write
		// every second.
		held, err := p.held && time.Since(p.renewed) < p.opt.LeaseTTL/3, error(nil)
		if !held {
			held, err = p.acquire(ctx)
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				p.opt.Logger.Warn("processor: lease", "err", err)
			}
			p.g = nil
		case !held:
			p.g = nil
		default:
			if err := p.process(ctx, 0); err != nil && ctx.Err() == nil {
				p.opt.Logger.Warn("processor: batch failed, retrying", "err", err)
				p.g = nil
			}
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.notify:
			// Gather only while events keep coming: the first event after a quiet spell is
			// processed at once, later ones wait until Gather has passed since the last batch.
			if wait := p.opt.Gather - time.Since(last); p.opt.Gather > 0 && wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		case <-tick.C:
		}
	}
}

// CatchUp processes every event in the log and returns. It needs the lease, so it fails
// with ErrLeaseHeld while a server runs on the same data (the server processes then).
func (p *Processor) CatchUp(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.init(); err != nil {
		return err
	}
	ok, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return p.heldErr(ctx)
	}
	defer p.release()
	max, err := p.db.MaxEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	return p.process(ctx, max)
}

// Rebuild empties the derived tables and replays the whole log.
func (p *Processor) Rebuild(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.init(); err != nil {
		return err
	}
	ok, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return p.heldErr(ctx)
	}
	defer p.release()
	p.g = nil
	err = p.db.Write(ctx, func(tx *store.Tx) error {
		for _, t := range derivedTables {
			q := "DELETE FROM " + t
			if tx.Dialect == store.Postgres {
				q = "TRUNCATE " + t
			}
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("empty %s: %w", t, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM rejected_events WHERE origin = ?`, ProfileOrigin); err != nil {
			return fmt.Errorf("empty the processor's notes: %w", err)
		}
		for _, k := range []string{CursorSetting, UnidentifiedSetting, BadOrdersSetting} {
			if err := store.SetSetting(ctx, tx, k, "0"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	max, err := p.db.MaxEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	return p.process(ctx, max)
}

var derivedTables = []string{"customers", "identities", "identity_conflicts", "customer_merges", "activity", "orders", "refunds", "groups", "group_members", "customer_consent", "paths", "order_summaries", "daily_rollups", "customer_orders"}

func settingInt(ctx context.Context, db *store.DB, key string) (int64, error) {
	v, ok, err := db.Setting(ctx, key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("setting %s = %q: %w", key, v, err)
	}
	return n, nil
}

// load reads the identity graph into memory; done when the lease is taken.
func (p *Processor) load(ctx context.Context) error {
	var err error
	if p.cursor, err = settingInt(ctx, p.db, CursorSetting); err != nil {
		return err
	}
	if p.unidentified, err = settingInt(ctx, p.db, UnidentifiedSetting); err != nil {
		return err
	}
	if p.badOrders, err = settingInt(ctx, p.db, BadOrdersSetting); err != nil {
		return err
	}
	if p.epoch, err = p.readEpoch(ctx); err != nil {
		return err
	}
	p.sessions.Reset() // kept only while the graph is trusted
	g := newGraph()
	rows, err := p.db.Query(ctx, `SELECT id, user_id, first_seen, last_seen, events, traits, name, email, phone FROM customers`)
	if err != nil {
		return fmt.Errorf("load customers: %w", err)
	}
	for rows.Next() {
		c := &customer{}
		if err := rows.Scan(&c.id, &c.userID, &c.first, &c.last, &c.events, &c.traitsRaw, &c.name, &c.email, &c.phone); err != nil {
			rows.Close()
			return fmt.Errorf("load customers: %w", err)
		}
		g.custs[c.id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load customers: %w", err)
	}
	rows, err = p.db.Query(ctx, `SELECT kind, value, customer_id, first_seen, seq, user_ids, shared FROM identities`)
	if err != nil {
		return fmt.Errorf("load identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k idKey
		id := &ident{}
		var uids string
		var shared int
		if err := rows.Scan(&k.kind, &k.value, &id.cust, &id.firstSeen, &id.seq, &uids, &shared); err != nil {
			return fmt.Errorf("load identities: %w", err)
		}
		if uids != "" {
			id.userIDs = strings.Split(uids, "\n")
		}
		id.shared = shared != 0
		c := g.custs[id.cust]
		if c == nil {
			return fmt.Errorf("load identities: %s %q points at missing customer %d", k.kind, k.value, id.cust)
		}
		g.ids[k] = id
		c.ids = append(c.ids, k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load identities: %w", err)
	}
	crows, err := p.db.Query(ctx, `SELECT kind, value, user_id, other_user_id FROM identity_conflicts WHERE user_id <> ''`)
	if err != nil {
		return fmt.Errorf("load identity conflicts: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var k [4]string
		if err := crows.Scan(&k[0], &k[1], &k[2], &k[3]); err != nil {
			return fmt.Errorf("load identity conflicts: %w", err)
		}
		g.conflicts[k] = true
	}
	if err := crows.Err(); err != nil {
		return fmt.Errorf("load identity conflicts: %w", err)
	}
	if err := loadGroups(ctx, p.db, g); err != nil {
		return err
	}
	p.g = g
	return nil
}

// process applies batches until the log is exhausted, or until seq upTo when upTo > 0.
// Applying runs here while a second goroutine writes the previous batch, so reading and
// resolving overlap with SQLite's work.
func (p *Processor) process(ctx context.Context, upTo int64) error {
	if p.g != nil {
		// A graph kept from an earlier turn is good if nobody processed since: only the
		// lease holder advances the cursor, and processing is deterministic.
		cur, err := settingInt(ctx, p.db, CursorSetting)
		if err != nil {
			return err
		}
		if cur != p.cursor {
			p.g = nil
		} else if moved, err := p.epochMoved(ctx); err != nil {
			return err
		} else if moved {
			p.g = nil
		}
	}
	if p.g == nil {
		if err := p.load(ctx); err != nil {
			return err
		}
	}
	var err error
	if p.currency, err = workspace.Currency(ctx, p.db); err != nil {
		return err
	}
	if err := p.loadKinds(ctx); err != nil {
		return err
	}
	if err := p.loadConsentMapping(ctx); err != nil {
		return err
	}
	if err := p.ensurePaths(ctx); err != nil { // paths_hook.go
		return err
	}
	if err := p.ensureRollups(ctx); err != nil { // rollup_hook.go
		return err
	}
	jobs := make(chan *job, 1)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var werr error
		for j := range jobs {
			if werr != nil {
				continue // drain
			}
			var pend *rollup.Pending
			werr = p.db.Write(ctx, func(tx *store.Tx) error {
				var err error
				pend, err = p.writeWithRollups(ctx, tx, j) // rollup_hook.go
				return err
			})
			if werr == nil {
				pend.Committed()
			}
			if werr != nil {
				werr = fmt.Errorf("process events %d..%d: %w", j.from, j.cursor, werr)
				failed.Store(true)
			}
		}
		done <- werr
	}()
	perr := p.applyAll(ctx, upTo, jobs, &failed)
	close(jobs)
	if err := errors.Join(perr, <-done); err != nil {
		p.g = nil // memory is ahead of the database now: reload on the next run
		return err
	}
	return nil
}

func (p *Processor) applyAll(ctx context.Context, upTo int64, jobs chan<- *job, failed *atomic.Bool) error {
	for (upTo == 0 || p.cursor < upTo) && !failed.Load() {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A transaction covers size events, read and applied in chunks of at most
		// ReadChunk so that only one chunk's bodies are in memory at a time.
		size := p.opt.BatchSize
		if upTo > 0 {
			size = p.opt.CatchUpBatchSize
		}
		b := newBatch(p.cursor)
		first, last, n := int64(0), p.cursor, 0
		for n < size {
			want := min(p.opt.ReadChunk, size-n)
			evs, err := p.nextEvents(ctx, last, want)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			if time.Since(p.renewed) > p.opt.LeaseTTL/3 {
				ok, err := p.acquire(ctx)
				if err != nil {
					return err
				}
				if !ok {
					return errLeaseLost
				}
			}
			if n == 0 {
				first = evs[0].Seq
			}
			for i := range evs {
				p.apply(b, &evs[i])
			}
			last, n = evs[len(evs)-1].Seq, n+len(evs)
			if len(evs) < want || upTo > 0 && last >= upTo {
				break
			}
		}
		if n == 0 {
			return nil
		}
		select {
		case jobs <- p.build(b, first, last):
		case <-ctx.Done():
			return ctx.Err()
		}
		p.cursor = last
		p.unidentified += b.unidentified
		p.badOrders += b.badOrders
	}
	return nil
}

// readEvents is store.ReadEvents without received_at, scanning the body straight into
// []byte: one copy of each body instead of two, which the garbage collector notices at a
// million events.
func readEvents(ctx context.Context, db *store.DB, after int64, limit int) ([]event.Event, error) {
	rows, err := db.Query(ctx, `SELECT seq, source_id, message_id, type, name, user_id, anonymous_id, ts, body
		FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	// Grown as rows come: a running server reads a few hundred new events at a time, and
	// a slice of limit (10,000 events) per read was garbage the collector had to clear.
	var out []event.Event
	for rows.Next() {
		var e event.Event
		var ts int64
		if err := rows.Scan(&e.Seq, &e.SourceID, &e.MessageID, &e.Type, &e.Name, &e.UserID, &e.AnonymousID, &ts, &e.Body); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Timestamp = time.UnixMilli(ts).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
