package journey

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// publicKeyRig is a shop as an attacker meets it: the real collection API behind a
// client (public) write key, the identity processor, the journey engine and its /j/
// routes, on the fixture's clock.
type publicKeyRig struct {
	*fixture
	api    *httptest.Server
	key    string // the web shop's public write key
	routes http.Handler
	proc   *identity.Processor
}

func newPublicKeyRig(t *testing.T, db *store.DB) *publicKeyRig {
	t.Helper()
	f := newFixture(t, db, Options{Business: "Crumb & Co"})
	proc := identity.NewProcessor(db, identity.Options{})
	f.processFn = func() {
		if err := proc.CatchUp(f.ctx); err != nil {
			t.Fatalf("processor: %v", err)
		}
	}
	_, key, err := db.CreateSource(f.ctx, "shop web") // client: the default
	if err != nil {
		t.Fatal(err)
	}
	h := collect.NewHandler(db, collect.Options{Now: f.clock})
	api := httptest.NewServer(h)
	t.Cleanup(func() {
		api.Close()
		_ = h.Close(context.Background())
	})
	return &publicKeyRig{fixture: f, api: api, key: key, routes: NewHTTPHandler(f.eng, HandlerOptions{InboundSecret: []byte("rig-secret")}), proc: proc}
}

// send posts a Segment call with the public key, as any browser (or attacker) can.
func (r *publicKeyRig) send(path string, call map[string]any, hdr ...string) {
	r.t.Helper()
	body, _ := json.Marshal(call)
	req, _ := http.NewRequest(http.MethodPost, r.api.URL+path, bytes.NewReader(body))
	req.SetBasicAuth(r.key, "")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		r.t.Fatalf("%s: %d", path, res.StatusCode)
	}
}

// trusted appends a call from the shop's back end (a server source).
func (r *publicKeyRig) trusted(call map[string]any) {
	r.t.Helper()
	r.insert(call) // the fixture's source "web" is made by EnsureSource: a server source
}

func (r *publicKeyRig) visit(method, link string) *httptest.ResponseRecorder {
	r.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		r.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r.routes.ServeHTTP(rec, httptest.NewRequest(method, u.RequestURI(), nil))
	return rec
}

var confirmLinkRe = regexp.MustCompile(`https://shop\.example/j/confirm/[A-Za-z0-9_\-.]+`)

func (r *publicKeyRig) mailsTo(addr string) []*Message {
	var out []*Message
	for _, m := range r.sink.byChannel("email") {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// TestPublicKeyCannotHijackCustomer reproduces the attack: with the shop's public key,
// identify an existing customer with the attacker's email, phone and a consent grant,
// then put something in a cart. Before, the processor rewrote the customer's contact
// and consent and the abandoned-cart email went to the attacker.
func TestPublicKeyCannotHijackCustomer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newPublicKeyRig(t, db)
		r.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		r.trusted(map[string]any{"type": "identify", "userId": "ana", "messageId": "srv-1",
			"traits": map[string]any{"email": "ana@customer.example", "phone": "+31 6 1111 2222", "first_name": "Ana",
				"consent": map[string]any{"email": map[string]any{"marketing": false}}}})
		r.drain()
		r.send("/v1/identify", map[string]any{"userId": "ana", "traits": map[string]any{
			"email": "mallory@evil.example", "phone": "+1 202 555 0100", "consent": map[string]any{"email": map[string]any{"marketing": true}, "sms": map[string]any{"marketing": true}}}})
		r.send("/v1/track", map[string]any{"userId": "ana", "event": "Product Added", "properties": map[string]any{"cart_id": "c-evil", "name": "Rye"}})
		r.drain()
		r.advance(61 * time.Minute)

		c, err := identity.FindCustomer(r.ctx, db, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if c.Email != "ana@customer.example" || c.Phone != "+31611112222" {
			t.Fatalf("the public key rewrote ana's contact: %q %q", c.Email, c.Phone)
		}
		if got := r.mailsTo("mallory@evil.example"); len(got) != 0 {
			t.Fatalf("the shop emailed the attacker: %+v", got[0])
		}
		if got := r.sink.byChannel("email"); len(got) != 0 {
			t.Fatalf("emails went out: %+v", got)
		}
		prof, err := loadProfile(r.ctx, db, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range []string{"email", "sms"} {
			if ok, err := hasConsent(r.ctx, db, prof, ch, "marketing"); err != nil || ok {
				t.Errorf("%s marketing consent after the attack: %v %v", ch, ok, err)
			}
		}
		if st := r.sends("journey = 'abandoned-cart'"); st["suppressed:no consent"] != 1 {
			t.Fatalf("cart email: %v, want suppressed for no consent", st)
		}
	})
}

// TestPublicKeyCannotMailAnyone reproduces the second attack: a made-up customer with a
// victim's address, a consent trait and the attacker's text in a cart. Before, the shop
// emailed the victim the attacker's text; now the victim gets a confirmation without it,
// and only once a day.
func TestPublicKeyCannotMailAnyone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newPublicKeyRig(t, db)
		r.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		spam := "WIN A PRIZE at http://evil.example/claim"
		for i, cart := range []string{"c1", "c2"} {
			r.send("/v1/batch", map[string]any{"batch": []any{
				map[string]any{"type": "identify", "userId": "fake-1", "traits": map[string]any{"email": "victim@elsewhere.example", "first_name": spam,
					"consent": map[string]any{"email": map[string]any{"marketing": true}}}},
				map[string]any{"type": "track", "userId": "fake-1", "event": "Product Added", "properties": map[string]any{"cart_id": cart, "name": spam, "url": "http://evil.example/x"}},
			}})
			r.drain()
			r.advance(61 * time.Minute)
			got := r.mailsTo("victim@elsewhere.example")
			if len(got) != 1 {
				t.Fatalf("round %d: %d emails to the victim, want exactly one confirmation", i, len(got))
			}
			m := got[0]
			if m.Purpose != PurposeConfirm || strings.Contains(m.Text+m.HTML+m.Subject, "evil") || strings.Contains(m.Text+m.HTML+m.Subject, "PRIZE") {
				t.Fatalf("the victim received %q: %s", m.Purpose, m.Text)
			}
			if !confirmLinkRe.MatchString(m.Text) || !strings.Contains(m.Subject, "Crumb & Co") {
				t.Fatalf("confirmation without a link: %s", m.Text)
			}
		}
		st := r.sends("journey = 'abandoned-cart'")
		if st["suppressed:"+ReasonConfirmSent] != 1 || st["suppressed:"+ReasonConfirmWaiting] != 1 {
			t.Fatalf("cart emails %v: the first asks for confirmation, the second waits for it", st)
		}

		// The victim's mail scanner follows the link: nothing happens. The victim never
		// clicks: the address stays unverified and is never mailed.
		link := confirmLinkRe.FindString(r.mailsTo("victim@elsewhere.example")[0].Text)
		if rec := r.visit(http.MethodGet, link); rec.Code != 200 || !strings.Contains(rec.Body.String(), "<form method=\"post\"") {
			t.Fatalf("GET confirm: %d %s", rec.Code, rec.Body.String())
		}
		r.drain()
		c, err := identity.FindCustomer(r.ctx, db, "fake-1")
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := identity.Profile(r.ctx, db, c.ID); !strings.Contains(strings.Join(p.Unverified, ","), "email") {
			t.Fatalf("a GET verified the address: unverified %v", p.Unverified)
		}
		// A forged or altered link is refused.
		if rec := r.visit(http.MethodPost, link+"x"); rec.Code != http.StatusBadRequest {
			t.Fatalf("tampered confirm link: %d", rec.Code)
		}
	})
}

// TestConfirmationVerifies: a real customer who signed up in the browser confirms; the
// address becomes verified, the consent the sign-up asked for is granted, the next
// message goes out, and a rebuild keeps it so.
func TestConfirmationVerifies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newPublicKeyRig(t, db)
		r.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		r.send("/v1/identify", map[string]any{"userId": "bo", "traits": map[string]any{"email": "Bo@Example.org", "first_name": "Bo",
			"consent": map[string]any{"email": map[string]any{"marketing": true}}}})
		r.send("/v1/track", map[string]any{"userId": "bo", "event": "Product Added", "properties": map[string]any{"cart_id": "b1"}})
		r.drain()
		r.advance(61 * time.Minute)
		got := r.mailsTo("bo@example.org")
		if len(got) != 1 || got[0].Purpose != PurposeConfirm || !strings.Contains(got[0].Text, "news and offers") {
			t.Fatalf("mails to bo: %+v", got)
		}
		link := confirmLinkRe.FindString(got[0].Text)
		if rec := r.visit(http.MethodPost, link); rec.Code != 200 {
			t.Fatalf("confirm: %d %s", rec.Code, rec.Body.String())
		}
		if rec := r.visit(http.MethodPost, link); rec.Code != 200 {
			t.Fatalf("confirm twice: %d %s", rec.Code, rec.Body.String())
		}
		r.drain()
		c, err := identity.FindCustomer(r.ctx, db, "bo")
		if err != nil {
			t.Fatal(err)
		}
		p, _ := identity.Profile(r.ctx, db, c.ID)
		if strings.Contains(strings.Join(p.Unverified, ","), "email") {
			t.Fatalf("after confirming: unverified %v", p.Unverified)
		}
		prof, err := loadProfile(r.ctx, db, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := hasConsent(r.ctx, db, prof, "email", "marketing"); !ok || err != nil {
			t.Fatalf("the confirmed sign-up's consent: %v %v", ok, err)
		}
		r.send("/v1/track", map[string]any{"userId": "bo", "event": "Product Added", "properties": map[string]any{"cart_id": "b2"}})
		r.drain()
		r.advance(61 * time.Minute)
		got = r.mailsTo("bo@example.org")
		if len(got) != 2 || got[1].Purpose != "marketing" {
			t.Fatalf("after confirming, mails to bo: %d", len(got))
		}
		// The browser keeps sending its cached traits: that changes nothing.
		r.send("/v1/identify", map[string]any{"userId": "bo", "traits": map[string]any{"email": "bo@example.org", "consent": map[string]any{"email": map[string]any{"marketing": true}}}})
		r.drain()
		before := dumpTraits(t, db, c.ID)
		if p, _ := identity.Profile(r.ctx, db, c.ID); strings.Contains(strings.Join(p.Unverified, ","), "email") {
			t.Fatalf("the browser's repeat made the address unverified again: %s", before)
		}
		if err := r.proc.Rebuild(r.ctx); err != nil {
			t.Fatal(err)
		}
		if after := dumpTraits(t, db, c.ID); after != before {
			t.Fatalf("rebuild changed the verified state:\n%s\n%s", before, after)
		}
	})
}

func dumpTraits(t *testing.T, db *store.DB, id int64) string {
	var s string
	if err := db.QueryRow(context.Background(), `SELECT email || '|' || traits FROM customers WHERE id = ?`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSMSConfirmationByReply: an unverified phone gets a confirmation SMS; YES through
// the inbound SMS route verifies it.
func TestSMSConfirmationByReply(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newPublicKeyRig(t, db)
		r.apply(`name: text-cart
entry: {event: Product Added, key: cart_id}
holdout: 0%
steps:
  - sms: {text: "Your cart is waiting"}
`)
		r.send("/v1/identify", map[string]any{"userId": "cy", "traits": map[string]any{"phone": "+44 7700 900456", "consent.sms.marketing": true}})
		r.send("/v1/track", map[string]any{"userId": "cy", "event": "Product Added", "properties": map[string]any{"cart_id": "s1"}})
		r.drain()
		sms := r.sink.byChannel("sms")
		if len(sms) != 1 || sms[0].Purpose != PurposeConfirm || !strings.Contains(sms[0].Text, "reply YES") {
			t.Fatalf("texts: %+v", sms)
		}
		rec := httptest.NewRecorder()
		body := "From=%2B447700900456&Body=yes"
		req := httptest.NewRequest(http.MethodPost, "/j/sms/inbound", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ts := time.Now().Unix()
		req.Header.Set(TimestampHeader, itoa(ts))
		req.Header.Set(SignatureHeader, Sign([]byte("rig-secret"), ts, []byte(body)))
		r.routes.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("inbound: %d %s", rec.Code, rec.Body.String())
		}
		r.drain()
		c, _ := identity.FindCustomer(r.ctx, db, "cy")
		if p, _ := identity.Profile(r.ctx, db, c.ID); len(p.Unverified) != 0 {
			t.Fatalf("after YES: unverified %v", p.Unverified)
		}
		r.send("/v1/track", map[string]any{"userId": "cy", "event": "Product Added", "properties": map[string]any{"cart_id": "s2"}})
		r.drain()
		if sms = r.sink.byChannel("sms"); len(sms) != 2 || sms[1].Text != "Your cart is waiting" || sms[1].To != "+447700900456" {
			t.Fatalf("texts after YES: %d", len(sms))
		}
	})
}

// TestNewRecipientLimits: one source, or one client address, cannot make the shop write
// to more than a few new addresses an hour; over it the events are kept, nothing is sent,
// and the held messages are counted per source.
func TestNewRecipientLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newPublicKeyRig(t, db)
		r.applyTemplate("welcome", "holdout: 10%", "holdout: 0%")
		if _, err := workspace.Set(r.ctx, db, audit.ActorCLI, workspace.NewRecipientsPerIPKey.Name, "3"); err != nil {
			t.Fatal(err)
		}
		signUp := func(i int) {
			u := "victim" + strings.Repeat("x", i)
			r.send("/v1/batch", map[string]any{"batch": []any{
				map[string]any{"type": "identify", "userId": u, "traits": map[string]any{"email": u + "@example.net", "consent.email.marketing": true}},
				map[string]any{"type": "track", "userId": u, "event": "Signed Up"},
			}})
		}
		for i := range 5 {
			signUp(i)
		}
		r.drain()
		if got := len(r.sink.byChannel("email")); got != 3 {
			t.Fatalf("%d confirmations from one address in an hour, want the limit 3", got)
		}
		st := r.sends("journey = 'welcome' AND step = 0")
		if st["suppressed:"+ReasonOverLimit+" for one client IP address"] != 2 {
			t.Fatalf("welcome sends %v", st)
		}
		var events int
		if err := db.QueryRow(r.ctx, `SELECT COUNT(*) FROM events WHERE client_ip = '127.0.0.1' AND name = 'Signed Up'`).Scan(&events); err != nil || events != 5 {
			t.Fatalf("stored %d sign-ups with their client address, want 5 (%v)", events, err)
		}
		held, err := HeldBySource(r.ctx, db, r.now.Add(-time.Hour))
		if err != nil || len(held) != 1 || held[0].Source != "shop web" || held[0].Held != 2 {
			t.Fatalf("held by source %+v %v", held, err)
		}
		// An hour later the limit has room again; the per-source limit applies too.
		if _, err := workspace.Set(r.ctx, db, audit.ActorCLI, workspace.NewRecipientsPerSourceKey.Name, "1"); err != nil {
			t.Fatal(err)
		}
		r.advance(61 * time.Minute)
		signUp(6)
		signUp(7)
		r.drain()
		st = r.sends("journey = 'welcome' AND step = 0")
		if st["suppressed:"+ReasonOverLimit+` for source "shop web"`] != 1 || len(r.sink.byChannel("email")) != 4 {
			t.Fatalf("per-source limit: %v, %d emails", st, len(r.sink.byChannel("email")))
		}
	})
}
