package journey

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var consented = map[string]any{"consent.email.marketing": true, "consent.push.marketing": true, "consent.sms.marketing": true, "firstName": "Ada"}

func TestAbandonedCart(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		a := f.customer(1, consented)
		b := f.customer(2, consented)
		c := f.customer(3, consented)

		f.track(a, "Product Added", map[string]any{"cart_id": "A1", "name": "Sourdough"})
		f.track(a, "Product Added", map[string]any{"cart_id": "A1", "name": "Baguette"}) // same cart: no second run
		f.track(a, "Product Added", map[string]any{"cart_id": "A2", "name": "Croissant"})
		f.track(b, "Product Added", map[string]any{"cart_id": "B1"})
		f.track(c, "Product Added", map[string]any{"cart_id": "C1"})
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'active'`); n != 4 {
			t.Fatalf("active runs = %d, want 4 (one per cart)", n)
		}
		f.advance(30 * time.Minute)
		// b buys cart B1 in the shop (another source, another channel): exits, no email.
		f.track(b, "Order Completed", map[string]any{"cart_id": "B1", "order_id": "o-b", "revenue_minor": 1200})
		// a buys a different cart: A1 and A2 runs keep waiting for their own cart.
		f.track(a, "Order Completed", map[string]any{"cart_id": "A2", "order_id": "o-a2"})
		if got := len(f.sink.byChannel("email")); got != 0 {
			t.Fatalf("emails before the 1 h wait: %d", got)
		}
		f.advance(31 * time.Minute)
		mails := f.sink.byChannel("email")
		if len(mails) != 2 {
			t.Fatalf("emails after 1 h = %d, want 2 (a's A1 and c's C1)", len(mails))
		}
		var m *Message
		for _, x := range mails {
			if x.To == "c1@example.com" {
				m = x
			}
		}
		if m == nil {
			t.Fatalf("no email to c1@example.com: %+v", mails)
		}
		if !strings.Contains(m.Subject, "Ada") || !strings.Contains(m.Text, "Sourdough") {
			t.Errorf("personalisation missing: subject %q text %q", m.Subject, m.Text)
		}
		if !strings.HasPrefix(m.Headers["List-Unsubscribe"], "<https://shop.example/j/u/") || m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
			t.Errorf("RFC 8058 headers: %v", m.Headers)
		}
		if !strings.Contains(m.HTML, "/j/o/") {
			t.Errorf("no open pixel in %q", m.HTML)
		}
		if n := f.count(`SELECT COUNT(*) FROM events e JOIN sources s ON s.id = e.source_id WHERE s.name = 'journeys' AND e.name = 'Email Sent'`); n != 2 {
			t.Errorf("Email Sent events = %d, want 2", n)
		}

		// c opens the email: c gets no push; a does.
		h := NewHTTPHandler(f.eng, HandlerOptions{})
		var cm *Message
		for _, x := range mails {
			if x.To == "c3@example.com" {
				cm = x
			}
		}
		pix := pixelURL(t, cm.HTML)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", pix, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/gif" {
			t.Fatalf("pixel: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		f.advance(24*time.Hour + time.Minute)
		push := f.sink.byChannel("push")
		if len(push) != 1 || push[0].CustomerID != 1 {
			t.Fatalf("push after 24 h = %+v, want one to customer 1", push)
		}
		if n := f.count(`SELECT COUNT(*) FROM events WHERE name = 'Email Opened'`); n != 1 {
			t.Errorf("Email Opened events = %d", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'active'`); n != 0 {
			t.Errorf("runs still active: %d", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'exited'`); n != 2 {
			t.Errorf("exited runs = %d, want 2 (B1, A2)", n)
		}
		// Show counts per step.
		d, err := Show(f.ctx, db, "abandoned-cart")
		if err != nil {
			t.Fatal(err)
		}
		if d.Steps[1].Sends["sent"] != 2 || d.Steps[4].Sends["sent"] != 1 || d.Steps[1].Opened != 1 {
			t.Errorf("show counts: %+v", d.Steps)
		}
	})
}

func pixelURL(t *testing.T, html string) string {
	t.Helper()
	i := strings.Index(html, "https://shop.example/j/o/")
	if i < 0 {
		t.Fatalf("no pixel in %q", html)
	}
	s := html[i+len("https://shop.example"):]
	return s[:strings.Index(s, `"`)]
}

func TestVersioning(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	doc := `name: v
entry: {event: Signed Up}
holdout: 0
steps:
  - wait: 1h
  - email: {subject: "one", text: "first version"}
`
	r, err := Apply(f.ctx, db, []byte(doc))
	if err != nil || r.Version != 1 || !r.Changed {
		t.Fatalf("apply: %+v %v", r, err)
	}
	if r, _ := Apply(f.ctx, db, []byte(doc+"# a comment\n")); r.Changed || r.Version != 1 {
		t.Fatalf("same plan made a new version: %+v", r)
	}
	u := f.customer(1, consented)
	f.track(u, "Signed Up", nil)
	if r, _ := Apply(f.ctx, db, []byte(strings.Replace(doc, "first version", "second version", 1))); r.Version != 2 {
		t.Fatalf("changed document: %+v", r)
	}
	f.customer(2, consented)
	f.track("u2", "Signed Up", nil)
	f.advance(time.Hour + time.Second)
	got := map[int64]string{}
	for _, m := range f.sink.byChannel("email") {
		got[m.CustomerID] = strings.Fields(m.Text)[0]
	}
	if got[1] != "first" || got[2] != "second" {
		t.Fatalf("runs must keep their version: %v", got)
	}
}

func TestConsentAndCap(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{Policy: &WorkspacePolicy{Caps: map[string]Cap{"email": {Max: 1, Per: 24 * time.Hour, Over: "skip"}}}})
		for _, name := range []string{"a", "b"} {
			f.apply(`name: ` + name + `
entry: {event: Visited}
holdout: 0
steps:
  - email: {subject: "` + name + `", text: "hi"}
`)
		}
		f.apply(`name: receipt
purpose: transactional
entry: {event: Visited}
holdout: 0
steps:
  - email: {subject: "receipt", text: "thanks"}
`)
		f.apply(`name: delayed
entry: {event: Browsed}
holdout: 0
policy: {frequency_cap: {max: 1, per: 1d, over: delay}}
steps:
  - email: {subject: "delayed", text: "later"}
`)
		yes := f.customer(1, map[string]any{"consent.email.marketing": true})
		no := f.customer(2, nil)
		nested := f.customer(3, map[string]any{"consent": map[string]any{"email": map[string]any{"marketing": false}}})
		f.track(yes, "Visited", nil)
		f.track(no, "Visited", nil)
		f.track(nested, "Visited", nil)
		// Customer 1: one of a/b passes the cap, the other is skipped; the receipt is exempt.
		if got := f.sends(`customer_id = 1 AND purpose = 'marketing'`); got["sent"] != 1 || got["suppressed:frequency cap"] != 1 {
			t.Errorf("customer 1 marketing: %v", got)
		}
		if got := f.sends(`customer_id = 1 AND purpose = 'transactional'`); got["sent"] != 1 {
			t.Errorf("customer 1 transactional (cap exempt): %v", got)
		}
		// Customers 2 and 3: no opt-in, no marketing; transactional still goes.
		for _, c := range []int{2, 3} {
			if got := f.sends(`customer_id = ? AND purpose = 'marketing'`, c); got["suppressed:no consent"] != 2 || got["sent"] != 0 {
				t.Errorf("customer %d marketing without consent: %v", c, got)
			}
			if got := f.sends(`customer_id = ? AND purpose = 'transactional'`, c); got["sent"] != 1 {
				t.Errorf("customer %d transactional: %v", c, got)
			}
		}
		// Delay: held until the window has room, then sent.
		f.track(yes, "Browsed", nil)
		if got := f.sends(`journey = 'delayed'`); got["pending:frequency cap"] != 1 {
			t.Fatalf("delayed: %v", got)
		}
		f.advance(24*time.Hour + 2*time.Second)
		if got := f.sends(`journey = 'delayed'`); got["sent"] != 1 {
			t.Fatalf("delayed after a day: %v", got)
		}
		// Suppression list beats consent.
		if err := Suppress(f.ctx, db, "email", "C1@example.com ", "bounced"); err != nil {
			t.Fatal(err)
		}
		f.advance(2 * 24 * time.Hour)
		f.track(yes, "Browsed", nil)
		if n := f.count(`SELECT COUNT(*) FROM journey_sends WHERE reason = 'suppression list'`); n != 1 {
			t.Errorf("suppressed sends = %d, want 1", n)
		}
	})
}

func TestUnsubscribeAndStop(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.apply(`name: news
entry: {event: Visited}
reentry: {cooldown: 1h}
holdout: 0
steps:
  - email: {subject: "news", text: "hi"}
  - sms: {text: "hi"}
`)
		u := f.customer(1, consented)
		f.track(u, "Visited", nil)
		mails := f.sink.byChannel("email")
		if len(mails) != 1 || len(f.sink.byChannel("sms")) != 1 {
			t.Fatalf("first run: %d emails", len(mails))
		}
		lu := strings.Trim(mails[0].Headers["List-Unsubscribe"], "<>")
		pu, _ := url.Parse(lu)
		h := NewHTTPHandler(f.eng, HandlerOptions{InboundSecret: []byte("k")})
		// Tampered token: refused.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", pu.Path+"x", strings.NewReader("List-Unsubscribe=One-Click")))
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("tampered token: %d", rec.Code)
		}
		// GET shows a page and changes nothing.
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", pu.Path, nil))
		if rec.Code != 200 || f.count(`SELECT COUNT(*) FROM journey_consent`) != 0 {
			t.Fatalf("GET must not unsubscribe: %d", rec.Code)
		}
		req := httptest.NewRequest("POST", pu.Path, strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("one-click POST: %d %s", rec.Code, rec.Body)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_consent WHERE customer_id = 1 AND channel = 'email' AND granted = 0`); n != 1 {
			t.Fatal("consent not withdrawn")
		}
		// SMS STOP, signed; unsigned is refused.
		body := "From=%2B447000000001&Body=stop"
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/j/sms/inbound", strings.NewReader(body)))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned STOP: %d", rec.Code)
		}
		req = httptest.NewRequest("POST", "/j/sms/inbound", strings.NewReader(body))
		ts := time.Now().Unix()
		req.Header.Set(TimestampHeader, itoa(ts))
		req.Header.Set(SignatureHeader, Sign([]byte("k"), ts, []byte(body)))
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("STOP: %d %s", rec.Code, rec.Body)
		}
		// Delivery reports: delivered → event; bounce → suppression.
		signed := func(path, body string) int {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			ts := time.Now().Unix()
			req.Header.Set(TimestampHeader, itoa(ts))
			req.Header.Set(SignatureHeader, Sign([]byte("k"), ts, []byte(body)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		if c := signed("/j/status", `{"idempotency_key":"`+mails[0].IdemKey+`","status":"delivered"}`); c != http.StatusNoContent {
			t.Fatalf("status delivered: %d", c)
		}
		if c := signed("/j/status", `{"idempotency_key":"nope","status":"delivered"}`); c != http.StatusNotFound {
			t.Fatalf("unknown key: %d", c)
		}
		if n := f.count(`SELECT COUNT(*) FROM events WHERE name = 'Email Delivered'`); n != 1 {
			t.Errorf("Email Delivered events = %d", n)
		}
		if c := signed("/j/status", `{"idempotency_key":"`+mails[0].IdemKey+`","status":"bounced","reason":"550 no such user"}`); c != http.StatusNoContent {
			t.Fatalf("status bounced: %d", c)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_suppressions WHERE channel = 'email' AND address = 'c1@example.com'`); n != 1 {
			t.Errorf("bounce did not suppress the address")
		}
		if n := f.count(`SELECT COUNT(*) FROM events WHERE name = 'Unsubscribed'`); n != 2 {
			t.Errorf("Unsubscribed events = %d, want 2", n)
		}
		f.advance(2 * time.Hour)
		f.track(u, "Visited", nil)
		if got := f.sends(`run_id = (SELECT MAX(id) FROM journey_runs)`); got["suppressed:suppression list"] != 2 {
			t.Errorf("after opt-outs: %v", got)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
