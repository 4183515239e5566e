package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Verified contact points. An email address or phone number that only a client source
// (a public write key) stated is unverified (internal/identity/trust.go): a journey
// never messages it. When a journey would, the engine sends a confirmation instead (a
// double opt-in email with a signed link, or an SMS to answer YES), at most once per
// address per day and within the new-recipient limits per source and client IP, and
// suppresses the journey's message with a named reason. Confirming verifies the address
// and, when the customer's consent was itself an unverified grant, grants it.

// PurposeConfirm is the purpose of confirmation messages.
const PurposeConfirm = "confirmation"

// Reasons a send is suppressed for an unverified contact point.
const (
	ReasonConfirmSent    = "unverified address: confirmation sent"
	ReasonConfirmWaiting = "unverified address: waiting for confirmation"
	ReasonPushUnverified = "unverified push token"
	ReasonOverLimit      = "over the new-recipient limit" // prefix: "... for source NAME" or "... for one client IP address"
)

// ConfirmValidity is how long a confirmation link or SMS reply is accepted.
const ConfirmValidity = 7 * 24 * time.Hour

// verifyGate decides whether send p may go to address to: "" when it may, else the
// reason to suppress it with (after queuing a confirmation when one can help).
func (e *Engine) verifyGate(ctx context.Context, w *work, p *pendingSend, prof *Profile, a *Action, to string, marketing bool) (string, error) {
	switch a.Channel {
	case "push":
		// A device token from a client source cannot be confirmed by the customer: the
		// app's back end (a server source) must state it.
		for _, k := range []string{"push_token", "device_token"} {
			if traitString(prof.Traits, k) != "" {
				if prof.unverified[k] {
					return ReasonPushUnverified, nil
				}
				break
			}
		}
		return "", nil
	case "email", "sms":
	default:
		return "", nil
	}
	verified := prof.EmailVerified
	if a.Channel == "sms" {
		verified = prof.PhoneVerified
	}
	consentOK, pending := true, false
	if marketing {
		g, found, err := w.consentRow(ctx, prof, a.Channel, p.purpose)
		if err != nil {
			return "", err
		}
		if found {
			consentOK = g
		} else {
			v, ok, pend := consentTrait(prof, a.Channel, p.purpose)
			consentOK, pending = ok && v, pend
		}
	}
	if !consentOK && !pending {
		return "", nil // nothing a confirmation could change: the consent check says "no consent"
	}
	if verified && consentOK {
		return "", nil
	}
	return e.confirmInstead(ctx, w, p, prof, a.Channel, to, verified, pending)
}

// confirmInstead queues a confirmation of address to (and of the pending consent grant)
// unless one went out in the last day or a new-recipient limit is reached, and returns
// the reason the journey's own message is suppressed.
func (e *Engine) confirmInstead(ctx context.Context, w *work, p *pendingSend, prof *Profile, channel, to string, verified, consent bool) (string, error) {
	now := w.now
	addr := normAddr(channel, to)
	if w.tx.Dialect == store.Postgres {
		// Two engines must not both queue a confirmation for the address.
		h := fnv.New64a()
		h.Write([]byte(channel + ":" + addr))
		if _, err := w.q.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(0x4A56)<<48|int64(h.Sum64()&(1<<48-1))); err != nil {
			return "", err
		}
	}
	var n int
	if err := w.q.QueryRow(ctx, `SELECT COUNT(*) FROM journey_confirmations WHERE channel = ? AND address = ? AND created_at > ? AND status <> 'held'`,
		channel, addr, now.Add(-24*time.Hour).UnixMilli()).Scan(&n); err != nil {
		return "", fmt.Errorf("confirmations: %w", err)
	}
	if n > 0 {
		return ReasonConfirmWaiting, nil
	}
	// Who brought what needs confirming: the event that set the unverified trait.
	key := map[string]string{"email": "email", "sms": "phone"}[channel]
	if verified {
		key = "consent." + channel + ".marketing"
		if _, ok := prof.traitSeq[key]; !ok {
			key = "consent"
		}
	}
	var srcID int64
	var ip string
	if seq := prof.traitSeq[key]; seq > 0 {
		err := w.q.QueryRow(ctx, `SELECT source_id, client_ip FROM events WHERE seq = ?`, seq).Scan(&srcID, &ip)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("confirmations: %w", err)
		}
	}
	status, reason := "pending", ""
	held, err := e.overNewRecipientLimit(ctx, w, srcID, ip)
	if err != nil {
		return "", err
	}
	if held != "" {
		status, reason = "held", held
	}
	c := 0
	if consent {
		c = 1
	}
	if _, err := w.q.Exec(ctx, `INSERT INTO journey_confirmations (channel, address, customer_id, consent, journey, source_id, client_ip, status, reason, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, channel, addr, prof.ID, c, p.journey, srcID, ip, status, reason, now.UnixMilli()); err != nil {
		return "", fmt.Errorf("queue confirmation: %w", err)
	}
	if held != "" {
		return held, nil
	}
	return ReasonConfirmSent, nil
}

// newRecipientLimits are the hourly limits, read once per work.
type newRecipientLimits struct {
	perSource, perIP int64
	read             bool
}

// overNewRecipientLimit says whether one more confirmation for an address brought by
// source srcID from client address ip would pass an hourly limit, and which.
func (e *Engine) overNewRecipientLimit(ctx context.Context, w *work, srcID int64, ip string) (string, error) {
	if !w.limits.read {
		var err error
		if w.limits.perSource, err = workspace.Int(ctx, e.db, workspace.NewRecipientsPerSourceKey.Name); err != nil {
			return "", err
		}
		if w.limits.perIP, err = workspace.Int(ctx, e.db, workspace.NewRecipientsPerIPKey.Name); err != nil {
			return "", err
		}
		w.limits.read = true
	}
	hourAgo := w.now.Add(-time.Hour).UnixMilli()
	if srcID != 0 {
		if w.tx.Dialect == store.Postgres {
			if _, err := w.q.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(0x4A53)<<48|srcID&(1<<48-1)); err != nil {
				return "", err
			}
		}
		var n int64
		if err := w.q.QueryRow(ctx, `SELECT COUNT(*) FROM journey_confirmations WHERE source_id = ? AND created_at > ? AND status <> 'held'`, srcID, hourAgo).Scan(&n); err != nil {
			return "", fmt.Errorf("new-recipient limit: %w", err)
		}
		if n >= w.limits.perSource {
			var name string
			if err := w.q.QueryRow(ctx, `SELECT name FROM sources WHERE id = ?`, srcID).Scan(&name); err != nil {
				name = fmt.Sprint(srcID)
			}
			return fmt.Sprintf("%s for source %q", ReasonOverLimit, name), nil
		}
	}
	if ip != "" {
		var n int64
		if err := w.q.QueryRow(ctx, `SELECT COUNT(*) FROM journey_confirmations WHERE client_ip = ? AND created_at > ? AND status <> 'held'`, ip, hourAgo).Scan(&n); err != nil {
			return "", fmt.Errorf("new-recipient limit: %w", err)
		}
		if n >= w.limits.perIP {
			return ReasonOverLimit + " for one client IP address", nil
		}
	}
	return "", nil
}

// confirmation is one journey_confirmations row on its way out.
type confirmation struct {
	id, customer int64
	channel      string
	address      string
	consent      bool
	attempts     int
}

// dispatchConfirmations delivers queued confirmations through the channel's sender,
// with the outbox's lease and retry rules.
func (e *Engine) dispatchConfirmations(ctx context.Context) (int, error) {
	now := e.opt.Now()
	var cs []confirmation
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		q := `SELECT id, customer_id, channel, address, consent, attempts FROM journey_confirmations
			WHERE status IN ('pending', 'sending') AND lease_until <= ? ORDER BY id LIMIT ?`
		if tx.Dialect == store.Postgres {
			q += ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.Query(ctx, q, now.UnixMilli(), e.opt.Batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c confirmation
			var consent int
			if err := rows.Scan(&c.id, &c.customer, &c.channel, &c.address, &consent, &c.attempts); err != nil {
				rows.Close()
				return err
			}
			c.consent = consent == 1
			cs = append(cs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range cs {
			if _, err := tx.Exec(ctx, `UPDATE journey_confirmations SET status = 'sending', lease_until = ?, attempts = attempts + 1 WHERE id = ?`,
				now.Add(e.opt.LeaseTTL).UnixMilli(), c.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("confirmations: %w", err)
	}
	if len(cs) == 0 {
		return 0, nil
	}
	ds := make([]*delivery, len(cs))
	for i, c := range cs {
		ds[i] = &delivery{id: c.id, attempts: c.attempts + 1, msg: e.confirmMessage(c)}
	}
	e.deliver(ctx, ds)
	now = e.opt.Now()
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		for _, d := range ds {
			var err error
			var perm *PermanentError
			switch {
			case d.err == nil:
				_, err = tx.Exec(ctx, `UPDATE journey_confirmations SET status = 'sent', sent_at = ?, lease_until = 0, reason = '' WHERE id = ? AND status = 'sending'`, now.UnixMilli(), d.id)
			case errors.As(d.err, &perm) || d.attempts >= e.opt.MaxAttempts:
				_, err = tx.Exec(ctx, `UPDATE journey_confirmations SET status = 'failed', lease_until = 0, reason = ? WHERE id = ?`, trunc(d.err.Error()), d.id)
			default:
				backoff := time.Duration(1<<min(d.attempts, 12)) * time.Second
				_, err = tx.Exec(ctx, `UPDATE journey_confirmations SET status = 'pending', lease_until = ?, reason = ? WHERE id = ?`, now.Add(backoff).UnixMilli(), trunc(d.err.Error()), d.id)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return len(cs), fmt.Errorf("confirmations: record: %w", err)
	}
	return len(cs), nil
}

// ConfirmIdemKey is a confirmation message's idempotency key.
func ConfirmIdemKey(id int64) string { return fmt.Sprintf("confirm-%d", id) }

// confirmMessage writes the confirmation. It says nothing a sender of events chose (no
// name, no trait, no product): only the business's name and the link.
func (e *Engine) confirmMessage(c confirmation) *Message {
	t := token{Kind: "v", SendID: c.id, Customer: c.customer, Channel: c.channel}
	if c.consent {
		t.Purpose = "marketing"
	}
	link := e.opt.BaseURL + "/j/confirm/" + signToken(e.secret, t)
	m := &Message{IdemKey: ConfirmIdemKey(c.id), SendID: c.id, CustomerID: c.customer, Channel: c.channel, Purpose: PurposeConfirm, To: c.address}
	biz := e.opt.Business
	switch c.channel {
	case "sms":
		what := "confirm this number"
		if c.consent {
			what = "confirm this number and get our offers by text"
		}
		m.Text = fmt.Sprintf("%s: reply YES to %s, or open %s\nNot you? Ignore this message.", biz, what, link)
	default:
		what, action := "Please confirm this email address", "Confirm my address"
		if c.consent {
			what, action = "Please confirm this email address and that you would like our news and offers", "Confirm and subscribe"
		}
		m.Subject = "Please confirm your email address for " + biz
		m.Text = fmt.Sprintf("Hello,\n\nThis address was given to %s. %s:\n\n%s\n\nIf it was not you, ignore this email: we will not write to this address.\n", biz, what, link)
		m.HTML = fmt.Sprintf(`<p>Hello,</p><p>This address was given to %s. %s:</p><p><a href="%s">%s</a></p><p>If it was not you, ignore this email: we will not write to this address.</p>`,
			html.EscapeString(biz), html.EscapeString(what), html.EscapeString(link), html.EscapeString(action))
	}
	return m
}

// HeldCount is how many messages one source's events asked for that a new-recipient
// limit held back.
type HeldCount struct {
	SourceID int64  `json:"source_id"`
	Source   string `json:"source"`
	Held     int64  `json:"held"`
}

// HeldBySource counts the messages held by the new-recipient limits since a time, per
// source that brought the addresses, most first. The dashboard shows it.
func HeldBySource(ctx context.Context, db *store.DB, since time.Time) ([]HeldCount, error) {
	rows, err := db.Query(ctx, `SELECT c.source_id, COALESCE(MAX(s.name), ''), COUNT(*) FROM journey_confirmations c LEFT JOIN sources s ON s.id = c.source_id
		WHERE c.status = 'held' AND c.created_at >= ? GROUP BY c.source_id ORDER BY COUNT(*) DESC, c.source_id`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("held messages: %w", err)
	}
	defer rows.Close()
	var out []HeldCount
	for rows.Next() {
		var h HeldCount
		if err := rows.Scan(&h.SourceID, &h.Source, &h.Held); err != nil {
			return nil, fmt.Errorf("held messages: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
