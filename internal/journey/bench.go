package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// BenchOptions size Bench.
type BenchOptions struct {
	Runs    int // customers, each entering once; default 20,000
	Batch   int // engine batch size; default 2000 (fewer commits, each an fsync)
	Workers int // concurrent deliveries; default 16
	// Smart sends through a message step with channel: best and send_time: best, so each
	// send reads the customer's engagement and records two decisions.
	Smart bool
}

// BenchResult is what Bench measured.
type BenchResult struct {
	Runs          int           `json:"runs"`
	Sends         int64         `json:"sends"`
	Entry         time.Duration `json:"entry"`    // events → runs waiting on a timer
	Timers        time.Duration `json:"timers"`   // due timers → queued sends
	Dispatch      time.Duration `json:"dispatch"` // guardrails, delivery to the sink, Email Sent events
	Elapsed       time.Duration `json:"elapsed"`
	RunsPerMinute float64       `json:"runs_per_minute"`
}

const benchDoc = `name: bench
entry: {event: Product Added, key: cart_id}
holdout: 0
steps:
  - wait: 1h
  - email: {subject: "{{.Profile.FirstName}}, your cart", text: "You left {{.Event.name}} in cart {{.Event.cart_id}}."}
`

const benchSmartDoc = `name: bench
entry: {event: Product Added, key: cart_id}
holdout: 0
steps:
  - wait: 1h
  - message:
      channels: [sms, email]
      send_time: best
      sms: {text: "You left {{.Event.name}}"}
      email: {subject: "{{.Profile.FirstName}}, your cart", text: "You left {{.Event.name}} in cart {{.Event.cart_id}}."}
`

// Bench measures journey runs per minute through entry, a wait and an email send to an
// in-process sink, on db (which should be empty). Customers and identities are seeded as
// the processor would leave them; seeding is not timed. The clock jumps over the wait.
func Bench(ctx context.Context, db *store.DB, opt BenchOptions) (BenchResult, error) {
	if opt.Runs <= 0 {
		opt.Runs = 20000
	}
	if opt.Batch <= 0 {
		opt.Batch = 2000
	}
	res := BenchResult{Runs: opt.Runs}
	if err := benchSeed(ctx, db, opt.Runs); err != nil {
		return res, err
	}
	doc := benchDoc
	if opt.Smart {
		doc = benchSmartDoc
	}
	if _, err := Apply(ctx, db, []byte(doc)); err != nil {
		return res, err
	}
	var sent atomic.Int64
	sink := SenderFunc(func(ctx context.Context, m *Message) error {
		if m.To == "" || m.Subject == "" {
			return fmt.Errorf("empty message")
		}
		sent.Add(1)
		return nil
	})
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	e, err := NewEngine(ctx, db, Options{Senders: map[string]Sender{"email": sink}, Batch: opt.Batch, Workers: opt.Workers,
		Policy: &WorkspacePolicy{}, Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	if err != nil {
		return res, err
	}
	if err := e.loadPlans(ctx); err != nil {
		return res, err
	}
	phase := func(f func(context.Context) (int, error)) (time.Duration, error) {
		t := time.Now()
		for {
			n, err := f(ctx)
			if err != nil {
				return 0, err
			}
			if n == 0 {
				return time.Since(t), nil
			}
		}
	}
	if res.Entry, err = phase(e.consumeEvents); err != nil {
		return res, err
	}
	now.Add(time.Hour.Milliseconds() + 1000)
	if res.Timers, err = phase(e.fireTimers); err != nil {
		return res, err
	}
	if res.Dispatch, err = phase(e.dispatch); err != nil {
		return res, err
	}
	res.Sends = sent.Load()
	res.Elapsed = res.Entry + res.Timers + res.Dispatch
	res.RunsPerMinute = float64(opt.Runs) / res.Elapsed.Minutes()
	if res.Sends != int64(opt.Runs) {
		return res, fmt.Errorf("bench: %d sends for %d runs", res.Sends, opt.Runs)
	}
	return res, nil
}

func benchSeed(ctx context.Context, db *store.DB, n int) error {
	src, err := db.EnsureSource(ctx, "bench")
	if err != nil {
		return err
	}
	now := time.Now()
	const chunk = 200
	for start := 1; start <= n; start += chunk {
		end := min(start+chunk, n+1)
		var evs []event.Event
		var cust, ids strings.Builder
		var cargs, iargs []any
		for i := start; i < end; i++ {
			uid := "bench-" + strconv.Itoa(i)
			email := "c" + strconv.Itoa(i) + "@bench.invalid"
			if cust.Len() > 0 {
				cust.WriteByte(',')
				ids.WriteByte(',')
			}
			cust.WriteString("(?, 0, 0, ?, ?, '', ?, ?)")
			cargs = append(cargs, i, uid, email, "Bench Customer", `{"consent.email.marketing":{"v":true,"t":0,"s":0},"firstName":{"v":"Bea","t":0,"s":0}}`)
			ids.WriteString("('user_id', ?, ?, 0, 0),('email', ?, ?, 0, 0)")
			iargs = append(iargs, uid, i, email, i)
			body, _ := json.Marshal(map[string]any{"type": "track", "event": "Product Added", "userId": uid, "messageId": "b" + strconv.Itoa(i),
				"timestamp": event.FormatTime(now), "properties": map[string]any{"cart_id": "cart-" + strconv.Itoa(i), "name": "Rye loaf"}})
			ev, err := event.Normalize(body, "", now, now)
			if err != nil {
				return err
			}
			ev.SourceID = src.ID
			evs = append(evs, ev)
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO customers (id, first_seen, last_seen, user_id, email, phone, name, traits) VALUES `+cust.String(), cargs...); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO identities (kind, value, customer_id, first_seen, seq) VALUES `+ids.String(), iargs...); err != nil {
				return err
			}
			if err := store.LockEventLog(ctx, tx); err != nil {
				return err
			}
			_, err := store.InsertEvents(ctx, tx, evs)
			return err
		})
		if err != nil {
			return fmt.Errorf("bench seed: %w", err)
		}
	}
	max, err := db.MaxEventSeq(ctx)
	if err != nil {
		return err
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		return store.SetSetting(ctx, tx, ProcessorCursor, strconv.FormatInt(max, 10))
	})
}
