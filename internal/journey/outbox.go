package journey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
)

// delivery is a claimed send on its way to a Sender.
type delivery struct {
	id       int64
	attempts int
	msg      *Message
	prof     *Profile
	err      error
}

type pendingSend struct {
	id         int64
	idem       string
	runID      int64
	journey    string
	customerID int64
	step       int
	channel    string
	purpose    string
	attempts   int
	version    int
	holdout    bool
	props      string
	key        string
	variant    string // the step's test variant this send carries; "" for none
}

// sendAction is the message a send carries: its step's, or its test variant's, on the
// channel it went to; nil when the plan no longer has it.
func sendAction(pl *Plan, step int, variant, channel string) *Action {
	if pl == nil || step >= len(pl.Nodes) || pl.Nodes[step].Send == nil {
		return nil
	}
	n := &pl.Nodes[step]
	a := n.Send
	if variant != "" && n.Test != nil {
		v := n.Test.variant(variant)
		if v == nil {
			return nil
		}
		a = v.Send
	}
	return a.option(channel)
}

// dispatch claims due sends, applies the guardrails, delivers outside the transaction
// and records the outcomes (and the "… Sent" events) in a second one. A crash between
// delivery and the record leaves the send 'sending' with an expired lease: it is sent
// again with the same idempotency key, which the receiver uses to drop the duplicate.
func (e *Engine) dispatch(ctx context.Context) (int, error) {
	now := e.opt.Now()
	var ds []*delivery
	handled := 0
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		// Two index range scans (status, not_before) instead of one OR: the table keeps
		// every sent row, and an OR with ORDER BY id scanned all of them.
		cols := `SELECT s.id, s.idem_key, s.run_id, s.journey, s.customer_id, s.step, s.channel, s.purpose, s.attempts, r.version, r.holdout, r.entry_props, r.entry_key, s.variant
			FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id `
		lock := ""
		if tx.Dialect == store.Postgres {
			lock = ` FOR UPDATE OF s SKIP LOCKED`
		}
		var ps []pendingSend
		ms := now.UnixMilli()
		if err := scanPending(ctx, tx, cols+`WHERE s.status = 'sending' AND s.lease_until < ? LIMIT ?`+lock, &ps, ms, e.opt.Batch); err != nil {
			return err
		}
		if err := scanPending(ctx, tx, cols+`WHERE s.status = 'pending' AND s.not_before <= ? ORDER BY s.not_before LIMIT ?`+lock, &ps, ms, e.opt.Batch-len(ps)); err != nil {
			return err
		}
		// Customer order: the cap's per-customer locks below are then always taken in
		// the same order by every process, so two engines cannot deadlock on them.
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].customerID != ps[j].customerID {
				return ps[i].customerID < ps[j].customerID
			}
			return ps[i].id < ps[j].id
		})
		w := e.newWork(tx, now)
		if err := w.prefetchSends(ctx, ps); err != nil {
			return err
		}
		var evs []event.Event
		for i := range ps {
			d, ev, err := e.decide(ctx, w, &ps[i])
			if err != nil {
				return fmt.Errorf("send %s: %w", ps[i].idem, err)
			}
			handled++
			if d != nil {
				ds = append(ds, d)
			}
			evs = append(evs, ev...)
		}
		if err := w.endScope(ctx); err != nil {
			return err
		}
		return e.insertEvents(ctx, tx, evs)
	})
	if err != nil {
		return 0, fmt.Errorf("journey outbox: %w", err)
	}
	e.wroteEvents()
	if len(ds) == 0 {
		return handled, nil
	}
	e.deliver(ctx, ds)
	now = e.opt.Now()
	err = e.db.Write(ctx, func(stx *store.Tx) error {
		w := e.newWork(stx, now)
		var evs []event.Event
		for _, d := range ds {
			if d.err == nil {
				w.updateSend("sent", d.id)
				evs = append(evs, e.trackEvent(d.prof, sentEvent[d.msg.Channel], "sent-"+d.msg.IdemKey, now, d.msg, nil)...)
				continue
			}
			var perm *PermanentError
			if errors.As(d.err, &perm) || d.attempts >= e.opt.MaxAttempts {
				w.updateSend("failed", d.id, trunc(d.err.Error()))
				continue
			}
			backoff := time.Duration(1<<min(d.attempts, 12)) * time.Second
			w.updateSend("retry", d.id, trunc(d.err.Error()), now.Add(backoff).UnixMilli())
		}
		if err := w.endScope(ctx); err != nil {
			return err
		}
		return e.insertEvents(ctx, stx, evs)
	})
	if err != nil {
		return handled, fmt.Errorf("journey outbox: record: %w", err)
	}
	e.wroteEvents()
	return handled, nil
}

func scanPending(ctx context.Context, tx *store.Tx, q string, ps *[]pendingSend, now int64, limit int) error {
	if limit <= 0 {
		return nil
	}
	rows, err := tx.Query(ctx, q, now, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p pendingSend
		var h int
		if err := rows.Scan(&p.id, &p.idem, &p.runID, &p.journey, &p.customerID, &p.step, &p.channel, &p.purpose, &p.attempts, &p.version, &h, &p.props, &p.key, &p.variant); err != nil {
			return err
		}
		p.holdout = h == 1
		*ps = append(*ps, p)
	}
	return rows.Err()
}

func trunc(s string) string {
	if len(s) > 500 {
		return strings.ToValidUTF8(s[:500], "")
	}
	return s
}

var sentEvent = map[string]string{"email": "Email Sent", "sms": "SMS Sent", "push": "Push Notification Sent", "webhook": "Webhook Sent"}

func (e *Engine) deliver(ctx context.Context, ds []*delivery) {
	ch := make(chan *delivery)
	var wg sync.WaitGroup
	for range min(e.opt.Workers, len(ds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range ch {
				s := e.opt.Senders[d.msg.Channel]
				if s == nil {
					// Permanent: a shop without push should see "failed: not configured", not
					// a week of retries.
					d.err = Permanent(fmt.Errorf("no sender configured for %s", d.msg.Channel))
					continue
				}
				sctx, cancel := context.WithTimeout(ctx, e.opt.LeaseTTL/2)
				d.err = s.Send(sctx, d.msg)
				cancel()
			}
		}()
	}
	for _, d := range ds {
		ch <- d
	}
	close(ch)
	wg.Wait()
}

func (e *Engine) suppress(w *work, id int64, reason string) error {
	w.updateSend("suppress", id, reason)
	return nil
}

func (e *Engine) hold(w *work, id int64, until time.Time, reason string) error {
	w.updateSend("hold", id, reason, until.UnixMilli())
	return nil
}

// prefetchSends reads, for a batch of claimed sends, the customers' profiles, consent
// rows and suppressed addresses, so decide asks the database only about caps.
func (w *work) prefetchSends(ctx context.Context, ps []pendingSend) error {
	var ids []int64
	for i := range ps {
		ids = append(ids, ps[i].customerID)
	}
	if err := w.loadProfiles(ctx, ids); err != nil {
		return err
	}
	var pids []int64
	var pairs [][2]string
	for i := range ps {
		p := w.profiles[ps[i].customerID]
		pids = append(pids, p.ID)
		pl := w.e.plan(ps[i].journey, ps[i].version)
		if a := sendAction(pl, ps[i].step, ps[i].variant, ps[i].channel); a != nil && (a.Channel == "email" || a.Channel == "sms") {
			if to := address(p, a); to != "" {
				pairs = append(pairs, [2]string{a.Channel, normAddr(a.Channel, to)})
			}
		}
	}
	if err := w.loadConsent(ctx, pids); err != nil {
		return err
	}
	return w.loadSuppressions(ctx, pairs)
}

// decide applies holdout, address, suppression, verification (verify.go), consent, quiet
// hours and the frequency cap, in that order, and claims the send when it may go out.
func (e *Engine) decide(ctx context.Context, w *work, p *pendingSend) (*delivery, []event.Event, error) {
	tx, now := w.q, w.now
	pl := e.plan(p.journey, p.version)
	a := sendAction(pl, p.step, p.variant, p.channel)
	if a == nil {
		return nil, nil, e.suppress(w, p.id, "plan missing")
	}
	prof, err := w.profile(ctx, p.customerID)
	if err != nil {
		return nil, nil, err
	}
	var entry map[string]any
	_ = json.Unmarshal([]byte(p.props), &entry)
	data := &renderData{Profile: *prof, Event: entry, Journey: p.journey, Business: e.opt.Business, ShopURL: e.opt.ShopURL, Now: event.FormatTime(now)}
	data.recommend = e.recommendFunc(ctx, p.customerID, entry)

	if a.Channel == "profile" {
		// A profile update is an identify event in the log: the processor applies it
		// like any other, so rebuilds replay it.
		traits := map[string]string{}
		for k, src := range a.Traits {
			v, err := renderText(k, src, data, nil)
			if err != nil {
				w.updateSend("fail", p.id, trunc(err.Error()))
				return nil, nil, nil
			}
			traits[k] = v
		}
		w.updateSend("profiled", p.id, now.UnixMilli())
		return nil, e.identifyEvent(prof, "profile-"+p.idem, now, traits), nil
	}
	if p.holdout {
		return nil, nil, e.suppress(w, p.id, ReasonHoldout)
	}
	to := address(prof, a)
	if to == "" {
		return nil, nil, e.suppress(w, p.id, "no address")
	}
	if a.Channel == "email" || a.Channel == "sms" {
		sup, err := w.isSuppressed(ctx, a.Channel, to)
		if err != nil {
			return nil, nil, err
		}
		if sup {
			return nil, nil, e.suppress(w, p.id, "suppression list")
		}
	}
	marketing := p.purpose == "marketing" && a.Channel != "webhook"
	// An address only a public key stated is not messaged: a confirmation goes instead.
	if reason, err := e.verifyGate(ctx, w, p, prof, a, to, marketing); err != nil {
		return nil, nil, err
	} else if reason != "" {
		return nil, nil, e.suppress(w, p.id, reason)
	}
	if marketing {
		ok, err := w.hasConsent(ctx, prof, a.Channel, p.purpose)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, e.suppress(w, p.id, ReasonNoConsent)
		}
		if until, quiet := QuietUntil(now, e.location(prof), e.quietFor(pl)); quiet {
			return nil, nil, e.hold(w, p.id, until, "quiet hours")
		}
		if c := e.capFor(pl, a.Channel); c != nil {
			if w.tx.Dialect == store.Postgres {
				// Another engine may be claiming this customer's sends right now; without
				// the lock both would count the same past sends and together exceed the cap.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(0x4A43)<<48|p.customerID&(1<<48-1)); err != nil {
					return nil, nil, err
				}
			}
			var n int
			var oldest sql.NullInt64
			err := tx.QueryRow(ctx, `SELECT COUNT(*), MIN(sent_at) FROM journey_sends WHERE customer_id = ? AND channel = ? AND purpose = 'marketing'
				AND status IN ('sent', 'sending') AND sent_at > ?`, p.customerID, a.Channel, now.Add(-c.Per).UnixMilli()).Scan(&n, &oldest)
			if err != nil {
				return nil, nil, err
			}
			if n >= c.Max {
				if c.Over == "delay" {
					return nil, nil, e.hold(w, p.id, time.UnixMilli(oldest.Int64).Add(c.Per+time.Second), ReasonFrequencyCap)
				}
				return nil, nil, e.suppress(w, p.id, ReasonFrequencyCap)
			}
		}
	}
	msg, err := render(a, data, e.clickLinker(p.id))
	if err != nil {
		w.updateSend("fail", p.id, trunc(err.Error()))
		return nil, nil, nil
	}
	msg.IdemKey, msg.SendID, msg.RunID, msg.CustomerID, msg.Journey, msg.Purpose, msg.To = p.idem, p.id, p.runID, p.customerID, p.journey, p.purpose, to
	if a.Channel == "email" {
		msg.Headers = map[string]string{}
		if e.opt.BaseURL != "" {
			msg.HTML = addPixel(msg.HTML, e.opt.BaseURL+"/j/o/"+signToken(e.secret, token{Kind: "o", SendID: p.id})+".gif")
		}
		if marketing {
			// RFC 8058 one-click unsubscribe, and a visible link for everyone else.
			u := e.opt.BaseURL + "/j/u/" + signToken(e.secret, token{Kind: "u", SendID: p.id, Customer: p.customerID, Channel: "email", Purpose: "marketing"})
			msg.Headers["List-Unsubscribe"] = "<" + u + ">"
			msg.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
			msg.Text += "\n--\nUnsubscribe: " + u + "\n"
			if msg.HTML != "" {
				msg.HTML += `<p style="font-size:small"><a href="` + html.EscapeString(u) + `">Unsubscribe</a></p>`
			}
		}
	}
	w.updateSend("claim", p.id, now.Add(e.opt.LeaseTTL).UnixMilli(), now.UnixMilli())
	return &delivery{id: p.id, attempts: p.attempts + 1, msg: msg, prof: prof}, nil, nil
}

func addPixel(h, src string) string {
	if h == "" {
		return h
	}
	img := `<img src="` + html.EscapeString(src) + `" width="1" height="1" alt="">`
	if i := strings.LastIndex(strings.ToLower(h), "</body>"); i >= 0 {
		return h[:i] + img + h[i:]
	}
	return h + img
}

// identity fields for events written about a customer.
func (e *Engine) who(p *Profile) map[string]any {
	m := map[string]any{}
	if p.UserID != "" {
		m["userId"] = p.UserID
	} else if p.AnonymousID != "" {
		m["anonymousId"] = p.AnonymousID
	} else {
		m["anonymousId"] = fmt.Sprintf("omniroi-customer-%d", p.ID)
	}
	// Only a verified email: these events come from the journeys source, a trusted one,
	// and must not vouch for an address a public key stated.
	if p.Email != "" && p.EmailVerified {
		m["context"] = map[string]any{"traits": map[string]any{"email": p.Email}}
	}
	return m
}

// trackEvent builds a track event on the journeys source; its messageId is derived from
// what it reports, so writing it twice stores it once.
func (e *Engine) trackEvent(p *Profile, name, msgID string, at time.Time, m *Message, extra map[string]any) []event.Event {
	if name == "" {
		return nil
	}
	props := map[string]any{"journey": m.Journey, "run_id": m.RunID, "send_id": m.SendID, "channel": m.Channel, "idempotency_key": m.IdemKey}
	if m.Subject != "" {
		props["email_subject"] = m.Subject
	}
	for k, v := range extra {
		props[k] = v
	}
	body := e.who(p)
	body["type"], body["event"], body["messageId"], body["timestamp"], body["properties"] = "track", name, "journey-"+msgID, event.FormatTime(at), props
	return e.mkEvent(body, at)
}

func (e *Engine) identifyEvent(p *Profile, msgID string, at time.Time, traits map[string]string) []event.Event {
	body := e.who(p)
	body["type"], body["messageId"], body["timestamp"], body["traits"] = "identify", "journey-"+msgID, event.FormatTime(at), traits
	return e.mkEvent(body, at)
}

func (e *Engine) mkEvent(body map[string]any, at time.Time) []event.Event {
	raw, _ := json.Marshal(body)
	ev, err := event.Normalize(raw, "", at, at)
	if err != nil {
		e.opt.Logger.Error("journey event", "err", err)
		return nil
	}
	ev.SourceID = e.sourceID
	return []event.Event{ev}
}

func (e *Engine) insertEvents(ctx context.Context, tx *store.Tx, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := store.LockEventLog(ctx, tx); err != nil {
		return err
	}
	// The privacy gate: a send recorded after its person was erased ("Email Sent" of a
	// delivery in flight) must not bring their email back into the log.
	evs, _, err := privacy.Gate(ctx, tx, evs, privacy.Everyone)
	if err != nil {
		return err
	}
	_, err = store.InsertEvents(ctx, tx, evs)
	return err
}

func (e *Engine) wroteEvents() {
	if e.opt.OnEvents != nil {
		e.opt.OnEvents()
	}
}
