package journey

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/omniroi/omniroi/internal/identity"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestRetryThenFail(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{MaxAttempts: 3})
	f.apply(`name: r
entry: {event: Visited}
holdout: 0
steps:
  - email: {subject: "hi", text: "hi"}
`)
	f.sink.fail = errors.New("421 try later")
	f.track(f.customer(1, consented), "Visited", nil)
	if got := f.sends("1=1"); got["pending:421 try later"] != 1 {
		t.Fatalf("after a transient error: %v", got)
	}
	f.advance(3 * time.Second) // backoff 2 s
	if f.sink.calls != 2 {
		t.Fatalf("calls = %d, want a retry", f.sink.calls)
	}
	f.sink.fail = nil
	f.advance(5 * time.Second)
	if got := f.sends("1=1"); got["sent"] != 1 || len(f.sink.byChannel("email")) != 1 {
		t.Fatalf("after recovery: %v", got)
	}
	// A channel without a sender fails at once.
	f.apply(`name: p
entry: {event: Visited}
holdout: 0
steps:
  - push: {text: "hi"}
`)
	delete(f.eng.opt.Senders, "push")
	f.track(f.customer(2, consented), "Visited", nil)
	if got := f.sends("channel = 'push'"); got["failed:no sender configured for push"] != 1 {
		t.Fatalf("push without sender: %v", got)
	}
}

func TestBranchesWebhookAndProfile(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.apply(`name: b
purpose: transactional
entry: {event: Order Completed, key: order_id}
holdout: 0
steps:
  - condition:
      if: {trait: {name: vip, equals: "true"}}
      then: split
      else: end
  - id: split
    split:
      - {percent: 50, goto: hook}
      - {percent: 50, goto: thanks}
  - id: hook
    webhook: {url: "https://crm.example/hook", body: '{"order":"{{.Event.order_id}}"}'}
  - goto: end
  - id: thanks
    update_profile: {traits: {thanked: "order {{.Event.order_id}}"}}
`)
	for i := int64(1); i <= 30; i++ {
		tr := map[string]any{}
		if i <= 25 {
			tr["vip"] = "true"
		}
		f.track(f.customer(i, tr), "Order Completed", map[string]any{"order_id": "o" + itoa(i)})
	}
	hooks := f.sink.byChannel("webhook")
	ids := f.count(`SELECT COUNT(*) FROM events WHERE type = 'identify'`)
	if len(hooks)+ids != 25 || len(hooks) < 5 || ids < 5 {
		t.Fatalf("25 VIPs split into %d webhooks and %d profile updates", len(hooks), ids)
	}
	var body map[string]string
	if err := json.Unmarshal(hooks[0].Data, &body); err != nil || body["order"] == "" || hooks[0].To != "https://crm.example/hook" {
		t.Fatalf("webhook: %s %v", hooks[0].Data, err)
	}
	var traits string
	if err := db.QueryRow(f.ctx, `SELECT body FROM events WHERE type = 'identify' LIMIT 1`).Scan(&traits); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Traits map[string]string `json:"traits"`
	}
	if json.Unmarshal([]byte(traits), &ev); len(ev.Traits["thanked"]) < 7 {
		t.Fatalf("identify traits: %s", traits)
	}
	// The engine's own events carry the message ids the identity processor reads as the
	// server's doing, so they do not move the customers' "last seen".
	rows, err := db.Query(f.ctx, `SELECT message_id FROM events WHERE type = 'identify' OR name = 'Webhook Sent'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		n++
		if !identity.ServerAction(id) {
			t.Errorf("the engine's event %q is not marked as the server's", id)
		}
	}
	if n != 25 {
		t.Errorf("%d profile updates and webhook sends, want 25", n)
	}
}

// TestConcurrentEngines runs two engines on one database; every send goes out once.
func TestConcurrentEngines(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{Batch: 7})
		f.apply(`name: c
entry: {event: Visited}
holdout: 0
steps:
  - wait: 1h
  - email: {subject: "hi", text: "hi"}
`)
		for i := int64(1); i <= 40; i++ {
			f.customer(i, consented)
			f.trackNoDrain(itoa(i), "u"+itoa(i), "Visited", nil)
		}
		f.process()
		other, err := NewEngine(f.ctx, db, f.eng.opt)
		if err != nil {
			t.Fatal(err)
		}
		other.opt.Owner = "other"
		run := func() {
			var wg sync.WaitGroup
			for _, e := range []*Engine{f.eng, other} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 200 {
						n, err := e.Step(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						if n == 0 {
							return
						}
					}
				}()
			}
			wg.Wait()
		}
		run()
		// Either engine may hold the event lease; let the other finish its share.
		for range 3 {
			run()
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs`); n != 40 {
			t.Fatalf("runs = %d, want 40", n)
		}
		f.mu.Lock()
		f.now = f.now.Add(time.Hour + time.Second)
		f.mu.Unlock()
		for range 4 {
			run()
		}
		if f.sink.calls != 40 || len(f.sink.byChannel("email")) != 40 {
			t.Fatalf("sink calls %d, distinct %d; want 40 each", f.sink.calls, len(f.sink.byChannel("email")))
		}
	})
}

func TestEventConditionAndAnniversary(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.apply(`name: nudge
entry: {event: Signed Up}
holdout: 0
steps:
  - wait: 1h
  - condition:
      if: {event: Order Completed}
      then: end
  - email: {subject: "first order?", text: "hi"}
`)
		f.apply(`name: anniversary
entry: {date: first_purchase_anniversary}
holdout: 0
steps:
  - email: {subject: "a year already", text: "thanks"}
`)
		a := f.customer(1, consented)
		b := f.customer(2, consented)
		// Customer 2 ordered before signing up: that order is not "since entry".
		f.track(b, "Order Completed", map[string]any{"order_id": "old"})
		f.track(a, "Signed Up", nil)
		f.track(b, "Signed Up", nil)
		f.advance(10 * time.Minute)
		f.track(a, "Order Completed", map[string]any{"order_id": "o1"})
		f.advance(time.Hour)
		var nudged []int64
		for _, m := range f.sink.byChannel("email") {
			if m.Journey == "nudge" {
				nudged = append(nudged, m.CustomerID)
			}
		}
		if len(nudged) != 1 || nudged[0] != 2 {
			t.Fatalf("nudged %v, want only customer 2", nudged)
		}
		// Anniversary: customer 3's first order was a year ago today.
		f.customer(3, consented)
		ago := f.clock().AddDate(-1, 0, 0).UnixMilli()
		if _, err := db.Exec(f.ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES ('y', 3, ?, 100, 'EUR', 'store', 'offline', 1, 0)`, ago); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(f.ctx, `DELETE FROM settings WHERE key = ?`, DatesSetting); err != nil {
			t.Fatal(err)
		}
		f.drain()
		var anniv []int64
		for _, m := range f.sink.byChannel("email") {
			if m.Journey == "anniversary" {
				anniv = append(anniv, m.CustomerID)
			}
		}
		if len(anniv) != 1 || anniv[0] != 3 {
			t.Fatalf("anniversary emails to %v, want customer 3", anniv)
		}
	})
}

func TestTwilioSender(t *testing.T) {
	t.Parallel()
	var got url.Values
	var idem, user, pass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2010-04-01/Accounts/AC1/Messages.json" {
			w.WriteHeader(404)
			return
		}
		r.ParseForm()
		got, idem = r.PostForm, r.Header.Get("I-Twilio-Idempotency-Token")
		user, pass, _ = r.BasicAuth()
		if got.Get("To") == "+1bad" {
			w.WriteHeader(400)
			w.Write([]byte(`{"code":21211,"message":"Invalid 'To' Phone Number"}`))
			return
		}
		w.WriteHeader(201)
	}))
	defer srv.Close()
	s, err := ParseTwilioURL("twilio://AC1:tok@api.twilio.com?from=%2B15550001111")
	if err != nil {
		t.Fatal(err)
	}
	s.BaseURL = srv.URL
	if err := s.Send(context.Background(), &Message{To: "+4470000", Text: "hi", IdemKey: "jr1-s1-sms"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("From") != "+15550001111" || got.Get("Body") != "hi" || idem != "jr1-s1-sms" || user != "AC1" || pass != "tok" {
		t.Fatalf("request: %v %q %q", got, idem, user)
	}
	err = s.Send(context.Background(), &Message{To: "+1bad", Text: "hi", IdemKey: "k"})
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "21211") {
		t.Fatalf("400 must be permanent with Twilio's code: %v", err)
	}
	if _, err := (SenderConfig{SMSURL: "twilio://AC1@x"}).Senders(); err == nil {
		t.Fatal("twilio URL without token accepted")
	}
}
