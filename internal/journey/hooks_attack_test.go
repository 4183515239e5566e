package journey

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// Attacks on the routes providers call and on what journeys send, each refused.

// oneEmail applies a one-step journey and sends customer 1 one email; it returns the message.
func oneEmail(t *testing.T, f *fixture) *Message {
	t.Helper()
	f.apply(`name: news
entry: {event: Visited}
holdout: 0
steps:
  - email: {subject: "news", text: "hi"}
`)
	f.track(f.customer(1, consented), "Visited", nil)
	mails := f.sink.byChannel("email")
	if len(mails) != 1 {
		t.Fatalf("emails = %d, want 1", len(mails))
	}
	return mails[0]
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Idempotency keys are what providers report back; a sequential key (run, step, channel)
// let anyone name any send.
func TestIdempotencyKeysAreRandom(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.apply(`name: two
entry: {event: Visited}
holdout: 0
steps:
  - email: {subject: "a", text: "a"}
  - sms: {text: "b"}
`)
		f.track(f.customer(1, consented), "Visited", nil)
		f.track(f.customer(2, consented), "Visited", nil)
		keys := map[string]bool{}
		hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
		rows, err := db.Query(f.ctx, `SELECT idem_key, run_id, step, channel FROM journey_sends`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var k, ch string
			var run int64
			var step int
			if err := rows.Scan(&k, &run, &step, &ch); err != nil {
				t.Fatal(err)
			}
			n++
			if !hex32.MatchString(k) || strings.Contains(k, itoa(run)+"-") {
				t.Errorf("send (run %d, step %d, %s) has key %q: want 32 hex digits carrying 80 random bits", run, step, ch, k)
			}
			if keys[k] {
				t.Errorf("key %q used twice", k)
			}
			keys[k] = true
		}
		if n != 4 {
			t.Fatalf("sends = %d, want 4", n)
		}
		for _, m := range append(f.sink.byChannel("email"), f.sink.byChannel("sms")...) {
			if !keys[m.IdemKey] {
				t.Errorf("delivered key %q is not a stored send's key", m.IdemKey)
			}
		}
		// Once only: queueing run 1's first step again (a new random key, the same run ×
		// step × channel) adds no send.
		err = db.Write(f.ctx, func(tx *store.Tx) error {
			w := f.eng.newWork(tx, f.clock())
			w.buf.sends = append(w.buf.sends, queuedSend{idem: NewIdemKey(), dedupe: DedupeKey(1, 0, "email"), runID: 1, journey: "two", customerID: 1,
				channel: "email", purpose: "marketing", notBefore: f.clock().UnixMilli(), createdAt: f.clock().UnixMilli()})
			return w.endScope(f.ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_sends`); n != 4 {
			t.Fatalf("sends after re-queueing a step = %d, want 4", n)
		}
		// A row from before random keys (idem_key = dedupe_key) is still found by /j/status.
		err = db.Write(f.ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(f.ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, not_before, created_at)
				VALUES ('jr9-s0-email', 1, 'two', 1, 0, 'email', 'marketing', 'sent', 0, 0)`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		h := NewHTTPHandler(f.eng, HandlerOptions{InboundSecret: []byte("k")})
		body := `{"idempotency_key":"jr9-s0-email","status":"delivered"}`
		req := httptest.NewRequest("POST", "/j/status", strings.NewReader(body))
		ts := time.Now().Unix()
		req.Header.Set(TimestampHeader, itoa(ts))
		req.Header.Set(SignatureHeader, Sign([]byte("k"), ts, []byte(body)))
		if rec := serve(h, req); rec.Code != http.StatusNoContent {
			t.Fatalf("report for an old send: %d %s", rec.Code, rec.Body)
		}
	})
}
