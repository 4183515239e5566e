package journey

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// HandlerOptions configure the /j/ routes. The provider routes each need a credential:
// a route whose credential is unset answers 503 and processes nothing (InboundRoutes).
type HandlerOptions struct {
	// InboundSecret is omniroi's own shared secret (OMNIROI_WEBHOOK_SECRET): /j/status, and
	// /j/sms/inbound from a relay, take requests signed with it (SignatureHeader over
	// TimestampHeader "." body, at most MaxAge old, each signature once).
	InboundSecret []byte
	// TwilioAuthToken lets /j/sms/inbound take Twilio's X-Twilio-Signature (the auth token
	// of the twilio:// URL in OMNIROI_SMS_URL).
	TwilioAuthToken string
	// MailgunSigningKey turns on /j/status/mailgun (Mailgun's HTTP webhook signing key).
	MailgunSigningKey string
	// PublicURL is the base URL providers call (serve's --public-url). Twilio signs the
	// full URL it called, which behind a proxy is not the one this server sees. Default:
	// the engine's BaseURL.
	PublicURL string
	// MaxAge bounds a signed request's age; default DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock signatures are checked against (default time.Now; not the engine's,
	// which may be simulated).
	Now func() time.Time
}

// NewHTTPHandler serves the routes under /j/ that customers and providers reach:
//
//	GET  /j/o/{token}.gif    open pixel ("Email Opened")
//	GET  /j/c/{token}        click: redirects to the shop's own domains or to a link the journey itself wrote; other targets get a page that names them
//	GET  /j/u/{token}        unsubscribe page with a confirm button
//	POST /j/u/{token}        RFC 8058 one-click unsubscribe: consent is withdrawn at once ("Unsubscribed")
//	POST /j/sms/inbound      inbound SMS (Twilio form From/Body, or JSON from/text from a signing relay): STOP withdraws SMS consent, START restores it
//	POST /j/status           delivery reports, JSON {"idempotency_key", "status": delivered|bounced|complained}, omniroi's HMAC
//	POST /j/status/mailgun   Mailgun's event webhooks (delivered, failed, complained, unsubscribed)
//	GET  /j/confirm/{token}  and POST: confirm an address (confirm.go)
func NewHTTPHandler(eng *Engine, opt HandlerOptions) http.Handler {
	if opt.PublicURL == "" {
		opt.PublicURL = eng.opt.BaseURL
	}
	opt.PublicURL = strings.TrimSuffix(opt.PublicURL, "/")
	if opt.MaxAge <= 0 {
		opt.MaxAge = DefaultMaxAge
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	h := &handler{e: eng, opt: opt}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /j/o/{tok}", h.open)
	mux.HandleFunc("GET /j/c/{tok}", h.click)
	mux.HandleFunc("GET /j/u/{tok}", h.unsubscribePage)
	mux.HandleFunc("POST /j/u/{tok}", h.unsubscribe)
	mux.HandleFunc("POST /j/sms/inbound", h.smsInbound)
	mux.HandleFunc("POST /j/status", h.status)
	mux.HandleFunc("POST /j/status/mailgun", h.mailgun)
	mux.HandleFunc("GET /j/confirm/{tok}", h.confirmPage)
	mux.HandleFunc("POST /j/confirm/{tok}", h.confirmPost)
	return mux
}

type handler struct {
	e      *Engine
	opt    HandlerOptions
	replay replays
}

// 1x1 transparent GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

type sendRow struct {
	id, runID, customer int64
	journey, channel    string
	idem                string
	opened, clicked     int64
}

func (h *handler) send(ctx context.Context, id int64) (sendRow, error) {
	s := sendRow{id: id}
	err := h.e.db.QueryRow(ctx, `SELECT run_id, customer_id, journey, channel, idem_key, opened_at, clicked_at FROM journey_sends WHERE id = ?`, id).
		Scan(&s.runID, &s.customer, &s.journey, &s.channel, &s.idem, &s.opened, &s.clicked)
	return s, err
}

// record writes the first open or click time and the event, once per (send, what).
func (h *handler) record(ctx context.Context, s sendRow, name, msgID string, setOpen, setClick bool, extra map[string]any) error {
	now := h.e.opt.Now()
	prof, err := loadProfile(ctx, h.e.db, s.customer)
	if err != nil {
		return err
	}
	m := &Message{Journey: s.journey, RunID: s.runID, SendID: s.id, Channel: s.channel, IdemKey: s.idem}
	evs := h.e.trackEvent(prof, name, msgID, now, m, extra)
	err = h.e.db.Write(ctx, func(tx *store.Tx) error {
		if setOpen {
			if _, err := tx.Exec(ctx, `UPDATE journey_sends SET opened_at = ? WHERE id = ? AND opened_at = 0`, now.UnixMilli(), s.id); err != nil {
				return err
			}
		}
		if setClick {
			if _, err := tx.Exec(ctx, `UPDATE journey_sends SET clicked_at = ? WHERE id = ? AND clicked_at = 0`, now.UnixMilli(), s.id); err != nil {
				return err
			}
		}
		return h.e.insertEvents(ctx, tx, evs)
	})
	if err == nil {
		h.e.wroteEvents()
	}
	return err
}

func (h *handler) open(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, private")
	t, err := parseToken(h.e.secret, strings.TrimSuffix(r.PathValue("tok"), ".gif"))
	if err == nil && t.Kind == "o" {
		if s, err := h.send(r.Context(), t.SendID); err == nil && s.opened == 0 {
			if err := h.record(r.Context(), s, "Email Opened", "opened-"+s.idem, true, false, nil); err != nil {
				h.e.opt.Logger.Error("journey open", "err", err)
			}
		}
	}
	w.Write(pixel)
}

func (h *handler) click(w http.ResponseWriter, r *http.Request) {
	t, err := parseToken(h.e.secret, r.PathValue("tok"))
	if err != nil || t.Kind != "c" {
		http.Error(w, "invalid link", http.StatusBadRequest)
		return
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		http.Error(w, "invalid link", http.StatusBadRequest)
		return
	}
	if s, err := h.send(r.Context(), t.SendID); err == nil {
		sum := sha256.Sum256([]byte(t.URL))
		// Each link's first click is an event; a click also proves the mail was opened.
		if err := h.record(r.Context(), s, "Email Link Clicked", "click-"+s.idem+"-"+hex.EncodeToString(sum[:6]), true, true, map[string]any{"link_url": t.URL}); err != nil {
			h.e.opt.Logger.Error("journey click", "err", err)
		}
	}
	if !t.Fixed && !h.linkAllowed(r.Context(), u.Hostname()) {
		h.leaving(w, u)
		return
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (h *handler) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	if t, err := parseToken(h.e.secret, r.PathValue("tok")); err != nil || t.Kind != "u" {
		http.Error(w, "invalid link", http.StatusBadRequest)
		return
	}
	// GET never unsubscribes: mail scanners follow links.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Unsubscribe</title><form method="post" action="%s"><input type="hidden" name="List-Unsubscribe" value="One-Click"><p>Stop receiving these emails?</p><button>Unsubscribe</button></form>`,
		html.EscapeString(r.URL.Path))
}

func (h *handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	t, err := parseToken(h.e.secret, r.PathValue("tok"))
	if err != nil || t.Kind != "u" {
		http.Error(w, "invalid link", http.StatusBadRequest)
		return
	}
	if err := h.withdraw(r.Context(), t.Customer, t.Channel, t.Purpose, "unsubscribe link", t.SendID); err != nil {
		h.e.opt.Logger.Error("journey unsubscribe", "err", err)
		http.Error(w, "could not unsubscribe, please try again", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "You are unsubscribed.")
}

// withdraw (or, with purpose prefixed "+", grant) consent and log "Unsubscribed".
func (h *handler) withdraw(ctx context.Context, customer int64, channel, purpose, source string, sendID int64) error {
	now := h.e.opt.Now()
	prof, err := loadProfile(ctx, h.e.db, customer)
	if err != nil {
		return err
	}
	m := &Message{Channel: channel, SendID: sendID}
	if sendID > 0 {
		if s, err := h.send(ctx, sendID); err == nil {
			m.Journey, m.RunID, m.IdemKey = s.journey, s.runID, s.idem
		}
	}
	evs := h.e.trackEvent(prof, "Unsubscribed", fmt.Sprintf("unsub-%d-%s-%s-%d", customer, channel, purpose, now.UnixMilli()), now, m, map[string]any{"purpose": purpose})
	err = h.e.db.Write(ctx, func(tx *store.Tx) error {
		if err := SetConsent(ctx, tx, customer, channel, purpose, false, source, now); err != nil {
			return err
		}
		// Held marketing sends on this channel must not go out after the opt-out.
		if _, err := tx.Exec(ctx, `UPDATE journey_sends SET status = 'suppressed', reason = 'no consent' WHERE customer_id = ? AND channel = ? AND purpose = ? AND status = 'pending'`, customer, channel, purpose); err != nil {
			return err
		}
		return h.e.insertEvents(ctx, tx, evs)
	})
	if err == nil {
		h.e.wroteEvents()
	}
	return err
}

var stopWords = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true, "ARRET": true}
var startWords = map[string]bool{"START": true, "UNSTOP": true, "YES": true}

// inbound reads a provider's request body and checks its credential: Twilio's signature
// (when twilio is true and a Twilio auth token is configured) or omniroi's HMAC. A route
// without any configured credential is off.
// The returned key names the request among those already taken: forget it when the
// request fails, so the provider's retry is not taken for a replay.
func (h *handler) inbound(w http.ResponseWriter, r *http.Request, twilio bool) (body []byte, key string, ok bool) {
	if rt := h.opt.route(r.URL.Path); !rt.On {
		http.Error(w, r.URL.Path+" is off: "+rt.Missing+" (docs/journeys.md, Security)", http.StatusServiceUnavailable)
		return nil, "", false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return nil, "", false
	}
	now := h.opt.Now()
	switch {
	case twilio && r.Header.Get(TwilioSignatureHeader) != "" && h.opt.TwilioAuthToken != "":
		var form url.Values
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			if form, err = url.ParseQuery(string(body)); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return nil, "", false
			}
		}
		if err := VerifyTwilio(h.opt.TwilioAuthToken, h.opt.PublicURL+r.URL.RequestURI(), r.Header.Get(TwilioSignatureHeader), form, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return nil, "", false
		}
		// Twilio signs no time; a message it sent twice (or a copy) is taken once.
		if sid := form.Get("MessageSid"); sid != "" {
			key = "twilio:" + sid
			if !h.replay.first(key, now.Add(24*time.Hour), now) {
				w.WriteHeader(http.StatusNoContent)
				return nil, "", false
			}
		}
	case len(h.opt.InboundSecret) > 0 && r.Header.Get(SignatureHeader) != "":
		sig := r.Header.Get(SignatureHeader)
		if err := verifySignatureAt(h.opt.InboundSecret, r.Header.Get(TimestampHeader), sig, body, now, h.opt.MaxAge); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return nil, "", false
		}
		key = "hmac:" + sig
		if !h.replay.first(key, now.Add(2*h.opt.MaxAge), now) {
			http.Error(w, "replayed request: sign each request afresh", http.StatusConflict)
			return nil, "", false
		}
	default:
		http.Error(w, "unsigned request: "+h.opt.route(r.URL.Path).Accepts+" required", http.StatusUnauthorized)
		return nil, "", false
	}
	return body, key, true
}

// failed answers a request that could not be recorded and lets its retry through.
func (h *handler) failed(w http.ResponseWriter, key, msg string) {
	h.replay.forget(key)
	http.Error(w, msg, http.StatusInternalServerError)
}

var deliveredEvent = map[string]string{"email": "Email Delivered", "sms": "SMS Delivered", "push": "Push Notification Delivered"}

// status takes delivery reports: delivered becomes an event; a bounce suppresses the
// address; a spam complaint withdraws marketing consent on the channel.
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	body, rkey, ok := h.inbound(w, r, false)
	if !ok {
		return
	}
	in, err := parseStatusReport(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	found, err := h.report(r.Context(), in.Key, in.Status, in.Reason)
	switch {
	case err != nil:
		h.failed(w, rkey, "could not record")
	case !found:
		http.Error(w, "unknown idempotency_key", http.StatusNotFound)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// report applies one delivery report to the send with idempotency key key; found is
// false when there is no such send.
func (h *handler) report(ctx context.Context, key, status, reason string) (found bool, err error) {
	var id int64
	err = h.e.db.QueryRow(ctx, `SELECT id FROM journey_sends WHERE idem_key = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s, err := h.send(ctx, id)
	if err != nil {
		return true, err
	}
	switch status {
	case "delivered":
		err = h.record(ctx, s, deliveredEvent[s.channel], "delivered-"+s.idem, false, false, nil)
	case "bounced":
		var prof *Profile
		if prof, err = loadProfile(ctx, h.e.db, s.customer); err == nil {
			addr := prof.Email
			if s.channel == "sms" {
				addr = prof.Phone
			}
			if addr != "" {
				err = Suppress(ctx, h.e.db, s.channel, addr, "bounced: "+trunc(reason))
			}
			if err == nil && s.channel == "email" {
				err = h.record(ctx, s, "Email Bounced", "bounced-"+s.idem, false, false, map[string]any{"reason": reason})
			}
		}
	case "complained":
		err = h.withdraw(ctx, s.customer, s.channel, "marketing", "spam complaint", s.id)
		if err == nil && s.channel == "email" {
			err = h.record(ctx, s, "Email Marked as Spam", "spam-"+s.idem, false, false, nil)
		}
	case "unsubscribed":
		err = h.withdraw(ctx, s.customer, s.channel, "marketing", "provider unsubscribe", s.id)
	default:
		return true, fmt.Errorf("unknown delivery status %q", status)
	}
	return true, err
}

func (h *handler) smsInbound(w http.ResponseWriter, r *http.Request) {
	body, rkey, ok := h.inbound(w, r, true)
	if !ok {
		return
	}
	in, err := parseInboundSMS(r.Header.Get("Content-Type"), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	from := in.From
	word, stop, start := smsKeyword(in.Text)
	if !stop && !start {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	phone := identity.NormalizePhone(from)
	if start {
		// YES to a confirmation SMS verifies the number (confirm.go).
		if _, err := h.confirmByReply(r.Context(), phone); err != nil {
			h.failed(w, rkey, "could not record")
			return
		}
	}
	ids, err := h.customersByPhone(r.Context(), phone)
	if err != nil {
		h.failed(w, rkey, "lookup failed")
		return
	}
	for _, id := range ids {
		if stop {
			err = h.withdraw(r.Context(), id, "sms", "marketing", "sms "+word, 0)
		} else {
			err = h.e.db.Write(r.Context(), func(tx *store.Tx) error {
				return SetConsent(r.Context(), tx, id, "sms", "marketing", true, "sms "+word, h.e.opt.Now())
			})
		}
		if err != nil {
			h.failed(w, rkey, "could not record")
			return
		}
	}
	if stop && phone != "" {
		// Also suppress the number itself: it may belong to nobody we know yet.
		if err := Suppress(r.Context(), h.e.db, "sms", phone, "STOP"); err != nil {
			h.failed(w, rkey, "could not record")
			return
		}
	} else if start && phone != "" {
		if _, err := h.e.db.Exec(r.Context(), `DELETE FROM journey_suppressions WHERE channel = 'sms' AND address = ?`, normAddr("sms", phone)); err != nil {
			h.failed(w, rkey, "could not record")
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) customersByPhone(ctx context.Context, phone string) ([]int64, error) {
	if phone == "" {
		return nil, nil
	}
	var id int64
	err := h.e.db.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = 'phone' AND value = ?`, phone).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []int64{id}, nil
}
