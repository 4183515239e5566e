package journey

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// Without a configured secret the delivery-report route used to accept anything: anyone
// could mark a send bounced (suppressing the address) or complained (withdrawing consent).
func TestStatusRouteWithoutSecretProcessesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		m := oneEmail(t, f)
		h := NewHTTPHandler(f.eng, HandlerOptions{})
		for _, st := range []string{"bounced", "complained"} {
			rec := serve(h, httptest.NewRequest("POST", "/j/status", strings.NewReader(`{"idempotency_key":"`+m.IdemKey+`","status":"`+st+`"}`)))
			if rec.Code/100 == 2 {
				t.Fatalf("unsigned %s report with no secret configured: %d, want refused", st, rec.Code)
			}
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_suppressions`); n != 0 {
			t.Fatalf("an unsigned bounce suppressed %d addresses", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_consent`); n != 0 {
			t.Fatalf("an unsigned complaint changed consent (%d rows)", n)
		}
	})
}

// Inbound SMS without a credential used to flip consent: START re-subscribed anyone.
func TestSMSInboundWithoutSecretProcessesNothing(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.customer(1, nil)
	h := NewHTTPHandler(f.eng, HandlerOptions{})
	for _, word := range []string{"STOP", "START"} {
		req := httptest.NewRequest("POST", "/j/sms/inbound", strings.NewReader("From=%2B447000000001&Body="+word))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if rec := serve(h, req); rec.Code/100 == 2 {
			t.Fatalf("unsigned %s with no secret configured: %d, want refused", word, rec.Code)
		}
	}
	if n := f.count(`SELECT COUNT(*) FROM journey_consent`) + f.count(`SELECT COUNT(*) FROM journey_suppressions`); n != 0 {
		t.Fatalf("unsigned inbound SMS changed %d consent or suppression rows", n)
	}
}

// The example in Twilio's request-validation documentation: auth token 12345, this URL and
// these parameters sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
func TestTwilioSignatureDocumentedExample(t *testing.T) {
	t.Parallel()
	form := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"}, "From": {"+12349013030"}, "To": {"+18005551212"}}
	if got := TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form); got != "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" {
		t.Fatalf("signature %q, want 0/KCTR6DLpKmkAf8muzZqo1nDgQ=", got)
	}
}

// Vectors below were computed outside Go, with python3's hmac, hashlib and base64 modules:
// base64(hmac.new(token, url + "".join(k + v for k in sorted(params)), sha1).digest()).
const (
	twilioToken    = "f00dfacecafe0123456789abcdef0123"
	twilioStopForm = "MessageSid=SM0123456789abcdef0123456789abcdef&AccountSid=AC11111111111111111111111111111111&From=%2B447000000001&To=%2B15550001111&Body=STOP&NumMedia=0"
	// for https://sms.bakery.example/j/sms/inbound
	twilioStopSig = "qjmpdw73MCppScYKy2pjZ1tIntw="
	// the same, for https://sms.bakery.example:443/j/sms/inbound
	twilioStopSig443 = "yp75KVMureYqggGP6YT1VSNvTS4="
	// the same, for http://127.0.0.1:8080/j/sms/inbound (the address behind the proxy)
	twilioStopSigInternal = "XjerfJYA2mF5F/aoYIVhCMN0+Cc="
	twilioStartForm       = "MessageSid=SM0123456789abcdef0123456789abcde0&AccountSid=AC11111111111111111111111111111111&From=%2B447000000001&To=%2B15550001111&Body=START&NumMedia=0"
	twilioStartSig        = "gdfBgqtFmrxu4nnkDcb4q3j79Vg="
	// a JSON body: the URL carries its sha256, the signature covers the URL alone
	twilioJSONBody = `{"From":"+447000000001","Body":"STOP"}`
	twilioJSONURL  = "/j/sms/inbound?bodySHA256=716ed41036dd7934c3f5beffa28dd627b295b0baeacce9b8603f57ef52f54167"
	twilioJSONSig  = "UZaJTp5ACFEhvhBrlNNAhXrwyL0="
)

// Twilio calls the public URL; the server behind the proxy sees another one. The check
// uses the configured public URL, accepts Twilio's port variants, and refuses the rest.
func TestTwilioInboundBehindProxy(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.customer(1, nil)
	h := NewHTTPHandler(f.eng, HandlerOptions{TwilioAuthToken: twilioToken, PublicURL: "https://sms.bakery.example/"})
	post := func(path, ctype, body, sig string) int {
		req := httptest.NewRequest("POST", "http://127.0.0.1:8080"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if sig != "" {
			req.Header.Set(TwilioSignatureHeader, sig)
		}
		return serve(h, req).Code
	}
	const form = "application/x-www-form-urlencoded"
	consent := func() int {
		return f.count(`SELECT COUNT(*) FROM journey_consent WHERE customer_id = 1 AND granted = 0`)
	}
	for name, c := range map[string]struct{ body, sig string }{
		"no signature":                   {twilioStopForm, ""},
		"signed for the internal URL":    {twilioStopForm, twilioStopSigInternal},
		"signed with another auth token": {twilioStopForm, TwilioSignature("other", "https://sms.bakery.example/j/sms/inbound", mustQuery(twilioStopForm))},
		"START signature on a STOP body": {twilioStopForm, twilioStartSig},
	} {
		if code := post("/j/sms/inbound", form, c.body, c.sig); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if consent() != 0 {
		t.Fatal("a refused request changed consent")
	}
	if code := post("/j/sms/inbound", form, twilioStopForm, twilioStopSig); code != http.StatusNoContent || consent() != 1 {
		t.Fatalf("genuine STOP: %d, withdrawn %d", code, consent())
	}
	// The same message again (Twilio retried, or someone copied it) is taken once: START
	// in between, then the STOP copy, must leave consent granted.
	if code := post("/j/sms/inbound", form, twilioStartForm, twilioStartSig); code != http.StatusNoContent || consent() != 0 {
		t.Fatalf("genuine START: %d, withdrawn %d", code, consent())
	}
	if code := post("/j/sms/inbound", form, twilioStopForm, twilioStopSig); code/100 != 2 || consent() != 0 {
		t.Fatalf("replayed STOP: %d, withdrawn %d", code, consent())
	}
	// Port variant and a JSON body with bodySHA256.
	h = NewHTTPHandler(f.eng, HandlerOptions{TwilioAuthToken: twilioToken, PublicURL: "https://sms.bakery.example"})
	if code := post("/j/sms/inbound", form, twilioStopForm, twilioStopSig443); code != http.StatusNoContent || consent() != 1 {
		t.Fatalf("STOP signed with :443: %d, withdrawn %d", code, consent())
	}
	if code := post(twilioJSONURL, "application/json", twilioJSONBody, twilioJSONSig); code != http.StatusNoContent {
		t.Fatalf("JSON body with bodySHA256: %d", code)
	}
	if code := post(twilioJSONURL, "application/json", strings.Replace(twilioJSONBody, "STOP", "START", 1), twilioJSONSig); code != http.StatusUnauthorized {
		t.Fatalf("JSON body changed under bodySHA256: %d, want 401", code)
	}
}

func mustQuery(s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return v
}

// omniroi's own HMAC: timestamp and body signed, an old or future timestamp refused, each
// signed request taken once.
func TestOwnHMACReplayWindow(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	m := oneEmail(t, f)
	now := time.Unix(1_800_000_000, 0)
	h := NewHTTPHandler(f.eng, HandlerOptions{InboundSecret: []byte("k"), Now: func() time.Time { return now }})
	body := `{"idempotency_key":"` + m.IdemKey + `","status":"delivered"}`
	post := func(secret string, ts int64, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/j/status", strings.NewReader(body))
		req.Header.Set(TimestampHeader, itoa(ts))
		req.Header.Set(SignatureHeader, Sign([]byte(secret), ts, []byte(body)))
		return serve(h, req)
	}
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"wrong secret":     post("other", now.Unix(), body),
		"6 minutes old":    post("k", now.Add(-6*time.Minute).Unix(), body),
		"6 minutes future": post("k", now.Add(6*time.Minute).Unix(), body),
	} {
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, rec.Code)
		}
	}
	if rec := post("k", now.Add(-4*time.Minute).Unix(), body); rec.Code != http.StatusNoContent {
		t.Fatalf("signed 4 minutes ago: %d %s", rec.Code, rec.Body)
	}
	if rec := post("k", now.Add(-4*time.Minute).Unix(), body); rec.Code != http.StatusConflict {
		t.Fatalf("replayed: %d, want 409", rec.Code)
	}
	// A route without its credential says what to configure and processes nothing.
	h = NewHTTPHandler(f.eng, HandlerOptions{})
	rec := post("k", time.Now().Unix(), body)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "OMNIROI_WEBHOOK_SECRET") {
		t.Fatalf("route without a secret: %d %q", rec.Code, rec.Body)
	}
}

// Mailgun's event webhook (its documented JSON shape, signature inside the body). Vector
// from python3: hmac.new(b"mg-signing-key-0123", b"1767225600" + token, sha256).hexdigest().
func TestMailgunWebhook(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		m := oneEmail(t, f)
		now := time.Unix(1767225600+30, 0)
		opt := HandlerOptions{MailgunSigningKey: "mg-signing-key-0123", Now: func() time.Time { return now }}
		h := NewHTTPHandler(f.eng, opt)
		const token = "4c3f0e5d2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a098f7e"
		const sig = "d8e88fd6caaa6f1ce7f7d404ac9dc73499686f357b62fdf71a5df8825a295aee"
		payload := func(token, sig, event, severity string) string {
			return `{"signature": {"token": "` + token + `", "timestamp": "1767225600", "signature": "` + sig + `"},
 "event-data": {"event": "` + event + `", "severity": "` + severity + `", "reason": "bounce", "recipient": "c1@example.com",
  "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": 1767225599.1,
  "message": {"headers": {"to": "c1@example.com", "message-id": "` + m.IdemKey + `@bakery.example", "from": "hello@bakery.example", "subject": "news"}},
  "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist", "description": ""}}}`
		}
		post := func(body string) int {
			return serve(h, httptest.NewRequest("POST", "/j/status/mailgun", strings.NewReader(body))).Code
		}
		suppressed := func() int {
			return f.count(`SELECT COUNT(*) FROM journey_suppressions WHERE address = 'c1@example.com'`)
		}
		if code := post(payload(token, strings.Repeat("0", 64), "failed", "permanent")); code != http.StatusUnauthorized || suppressed() != 0 {
			t.Fatalf("forged Mailgun bounce: %d, suppressed %d", code, suppressed())
		}
		if code := post(payload(token+"x", sig, "failed", "permanent")); code != http.StatusUnauthorized || suppressed() != 0 {
			t.Fatalf("token changed under the signature: %d", code)
		}
		if code := post(payload(token, sig, "failed", "permanent")); code != http.StatusOK || suppressed() != 1 {
			t.Fatalf("genuine bounce: %d, suppressed %d", code, suppressed())
		}
		if code := post(payload(token, sig, "failed", "permanent")); code != http.StatusConflict {
			t.Fatalf("replayed token: %d, want 409", code)
		}
		if n := f.count(`SELECT COUNT(*) FROM events WHERE name = 'Email Bounced'`); n != 1 {
			t.Fatalf("Email Bounced events = %d", n)
		}
		// Too old: the same signature checked two hours later.
		now = now.Add(2 * time.Hour)
		h = NewHTTPHandler(f.eng, opt)
		if code := post(payload(token, sig, "failed", "permanent")); code != http.StatusUnauthorized {
			t.Fatalf("two-hour-old signature: %d, want 401", code)
		}
	})
}
