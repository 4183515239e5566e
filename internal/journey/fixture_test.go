package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// memSink records delivered messages by idempotency key.
type memSink struct {
	mu    sync.Mutex
	msgs  map[string]*Message
	order []string
	calls int
	fail  error
}

func newSink() *memSink { return &memSink{msgs: map[string]*Message{}} }

func (s *memSink) Send(ctx context.Context, m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return s.fail
	}
	if _, dup := s.msgs[m.IdemKey]; !dup {
		s.order = append(s.order, m.IdemKey)
	}
	s.msgs[m.IdemKey] = m
	return nil
}

func (s *memSink) byChannel(ch string) []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Message
	for _, k := range s.order {
		if s.msgs[k].Channel == ch {
			out = append(out, s.msgs[k])
		}
	}
	return out
}

// fixture stands in for the processor: it writes events, customers, identities and
// activity itself, so these tests depend only on the tables' contract.
type fixture struct {
	t    testing.TB
	ctx  context.Context
	db   *store.DB
	eng  *Engine
	sink *memSink
	now  time.Time
	mu   sync.Mutex
	src  int64
	n    int

	processFn func() // replaces process: the real identity processor
}

func newFixture(t testing.TB, db *store.DB, opt Options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, db: db, sink: newSink(), now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	src, err := db.EnsureSource(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	f.src = src.ID
	opt.Now = f.clock
	if opt.Senders == nil {
		opt.Senders = map[string]Sender{"email": f.sink, "sms": f.sink, "push": f.sink, "webhook": f.sink}
	}
	if opt.BaseURL == "" {
		opt.BaseURL = "https://shop.example"
	}
	if opt.Policy == nil {
		opt.Policy = &WorkspacePolicy{}
	}
	f.eng, err = NewEngine(ctx, db, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
	f.drain()
}

func (f *fixture) apply(src string) {
	f.t.Helper()
	if _, err := Apply(f.ctx, f.db, []byte(src)); err != nil {
		f.t.Fatalf("apply: %v", err)
	}
}

func (f *fixture) applyTemplate(name string, replace ...string) {
	f.t.Helper()
	src, err := TemplateSource(name)
	if err != nil {
		f.t.Fatal(err)
	}
	s := string(src)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			f.t.Fatalf("template %s has no %q", name, replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	f.apply(s)
}

// customer creates customer id with a userId, email, phone and traits.
func (f *fixture) customer(id int64, traits map[string]any) string {
	f.t.Helper()
	uid := fmt.Sprintf("u%d", id)
	email := fmt.Sprintf("c%d@example.com", id)
	phone := fmt.Sprintf("+4470000%05d", id)
	tr := map[string]any{}
	for k, v := range traits {
		tr[k] = map[string]any{"v": v, "t": 1, "s": 1}
	}
	tj, _ := json.Marshal(tr)
	err := f.db.Write(f.ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(f.ctx, `INSERT INTO customers (id, first_seen, last_seen, user_id, email, phone, name, traits) VALUES (?, 0, 0, ?, ?, ?, ?, ?)`,
			id, uid, email, phone, fmt.Sprintf("Cust%d Smith", id), string(tj)); err != nil {
			return err
		}
		for _, k := range [][2]string{{"user_id", uid}, {"email", email}, {"phone", phone}} {
			if _, err := tx.Exec(f.ctx, `INSERT INTO identities (kind, value, customer_id, first_seen, seq) VALUES (?, ?, ?, 0, 0)`, k[0], k[1], id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return uid
}

// track appends a track event for userID and runs processor and engine.
func (f *fixture) track(userID, name string, props map[string]any) {
	f.t.Helper()
	f.n++
	f.trackNoDrain(strconv.Itoa(f.n), userID, name, props)
	f.drain()
}

func (f *fixture) trackNoDrain(msgID, userID, name string, props map[string]any) {
	f.t.Helper()
	f.insert(map[string]any{"type": "track", "event": name, "userId": userID, "properties": props, "messageId": "m" + msgID})
}

// insert appends one Segment call (timestamp: the fixture's clock).
func (f *fixture) insert(call map[string]any) {
	f.t.Helper()
	now := f.clock()
	call["timestamp"] = event.FormatTime(now)
	body, _ := json.Marshal(call)
	ev, err := event.Normalize(body, "", now, now)
	if err != nil {
		f.t.Fatal(err)
	}
	ev.SourceID = f.src
	err = f.db.Write(f.ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(f.ctx, tx); err != nil {
			return err
		}
		_, err := store.InsertEvents(f.ctx, tx, []event.Event{ev})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// process plays the processor: activity rows for new track events, then its cursor.
func (f *fixture) process() {
	f.t.Helper()
	cur, err := settingInt(f.ctx, f.db, ProcessorCursor)
	if err != nil {
		f.t.Fatal(err)
	}
	evs, err := f.db.ReadEvents(f.ctx, cur, 100000)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(evs) == 0 {
		return
	}
	err = f.db.Write(f.ctx, func(tx *store.Tx) error {
		for _, ev := range evs {
			var cid int64
			if err := tx.QueryRow(f.ctx, `SELECT customer_id FROM identities WHERE kind = 'user_id' AND value = ?`, ev.UserID).Scan(&cid); err == nil && ev.Type == "track" {
				if _, err := tx.Exec(f.ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, 'track', ?, 'direct', ?)`,
					ev.Seq, cid, ev.Timestamp.UnixMilli(), ev.Name, ev.SourceID); err != nil {
					return err
				}
				if ev.Name == "Order Completed" {
					p := props(ev.Body)
					rev, _ := strconv.ParseInt(propText(p, "revenue_minor"), 10, 64)
					if _, err := tx.Exec(f.ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', 'direct', ?, ?)`,
						propText(p, "order_id"), cid, ev.Timestamp.UnixMilli(), rev, ev.SourceID, ev.Seq); err != nil {
						return err
					}
				}
			}
		}
		return store.SetSetting(f.ctx, tx, ProcessorCursor, strconv.FormatInt(evs[len(evs)-1].Seq, 10))
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// drain runs processor and engine until both are idle.
func (f *fixture) drain() {
	f.t.Helper()
	for range 20 {
		if f.processFn != nil {
			f.processFn()
		} else {
			f.process()
		}
		n, err := f.eng.Step(f.ctx)
		if err != nil {
			f.t.Fatalf("engine step: %v", err)
		}
		if n == 0 {
			return
		}
	}
	f.t.Fatal("engine did not settle")
}

func (f *fixture) sends(where string, args ...any) map[string]int {
	f.t.Helper()
	rows, err := f.db.Query(f.ctx, `SELECT status, reason FROM journey_sends WHERE `+where, args...)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st, r string
		if err := rows.Scan(&st, &r); err != nil {
			f.t.Fatal(err)
		}
		if r != "" && st != "sent" {
			st += ":" + r
		}
		out[st]++
	}
	return out
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRow(f.ctx, q, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func asPerm(err error, p **PermanentError) bool { return errors.As(err, p) }
