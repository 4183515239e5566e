package journey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

type querier interface {
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// loadProfile reads what templates and conditions need about a customer.
func loadProfile(ctx context.Context, q querier, id int64) (*Profile, error) {
	return loadProfileDepth(ctx, q, id, 0)
}

func loadProfileDepth(ctx context.Context, q querier, id int64, depth int) (*Profile, error) {
	p := &Profile{ID: id, Traits: map[string]any{}}
	var traits string
	err := q.QueryRow(ctx, `SELECT name, email, phone, traits, user_id FROM customers WHERE id = ?`, id).Scan(&p.Name, &p.Email, &p.Phone, &traits, &p.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		// Merged into another customer since the run started: follow the merge.
		var survivor int64
		if err := q.QueryRow(ctx, `SELECT survivor_id FROM customer_merges WHERE merged_id = ? ORDER BY seq DESC LIMIT 1`, id).Scan(&survivor); err == nil && survivor != id && depth < 8 {
			return loadProfileDepth(ctx, q, survivor, depth+1)
		}
		return p, nil // not derived yet or erased: templates see an empty profile
	}
	if err != nil {
		return nil, fmt.Errorf("customer %d: %w", id, err)
	}
	p.fill(traits)
	if p.UserID == "" {
		err := q.QueryRow(ctx, `SELECT value FROM identities WHERE customer_id = ? AND kind = 'anonymous_id' ORDER BY first_seen LIMIT 1`, id).Scan(&p.AnonymousID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("customer %d identities: %w", id, err)
		}
	}
	if err := q.QueryRow(ctx, `SELECT segment FROM segment_changes WHERE customer_id = ? ORDER BY id DESC LIMIT 1`, id).Scan(&p.Segment); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("customer %d segment: %w", id, err)
	}
	return p, nil
}

// fill reads the stored traits ({"trait":{"v":value,"t":ms,"s":seq}}) and what templates
// take from them, for loadProfile and the batched loadProfiles alike.
func (p *Profile) fill(traits string) {
	var raw map[string]struct {
		V json.RawMessage `json:"v"`
		S int64           `json:"s"`
		U bool            `json:"u"`
	}
	if json.Unmarshal([]byte(traits), &raw) == nil {
		for k, v := range raw {
			var x any
			if json.Unmarshal(v.V, &x) == nil {
				p.Traits[k] = x
			}
			if identity.ProtectedTrait(k) {
				if p.traitSeq == nil {
					p.traitSeq = map[string]int64{}
				}
				p.traitSeq[k] = v.S
				if v.U {
					if p.unverified == nil {
						p.unverified = map[string]bool{}
					}
					p.unverified[k] = true
				}
			}
		}
	}
	p.EmailVerified = p.Email != "" && !p.unverified["email"]
	p.PhoneVerified = p.Phone != "" && !p.unverified["phone"]
	p.FirstName = traitString(p.Traits, "firstName", "first_name")
	if p.FirstName == "" && p.Name != "" {
		p.FirstName = strings.Fields(p.Name)[0]
	}
	p.Timezone = traitString(p.Traits, "timezone", "time_zone")
}

func traitString(t map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := t[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func (w *work) profile(ctx context.Context, id int64) (*Profile, error) {
	if p, ok := w.profiles[id]; ok {
		return p, nil
	}
	p, err := loadProfile(ctx, w.q, id)
	if err != nil {
		return nil, err
	}
	w.profiles[id] = p
	return p, nil
}

func (w *work) eval(ctx context.Context, r *run, pl *Plan, c *Cond) (bool, error) {
	switch c.Kind {
	case "all", "any":
		for i := range c.Sub {
			ok, err := w.eval(ctx, r, pl, &c.Sub[i])
			if err != nil {
				return false, err
			}
			if ok == (c.Kind == "any") {
				return ok, nil
			}
		}
		return c.Kind == "all", nil
	case "not":
		ok, err := w.eval(ctx, r, pl, &c.Sub[0])
		return !ok, err
	case "event":
		// activity is derived by the processor, which is never behind us; seq after the
		// entry event means "since entry".
		var n int
		err := w.q.QueryRow(ctx, `SELECT COUNT(*) FROM activity WHERE customer_id = ? AND name = ? AND seq > (SELECT entry_seq FROM journey_runs WHERE id = ?)`, r.CustomerID, c.Name, r.ID).Scan(&n)
		return n > 0, err
	case "opened", "clicked":
		var op, cl int64
		err := w.q.QueryRow(ctx, `SELECT opened_at, clicked_at FROM journey_sends WHERE run_id = ? AND step = ?`, r.ID, c.Step).Scan(&op, &cl)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if c.Kind == "opened" {
			return op > 0 || cl > 0, err // a click implies the message was opened
		}
		return cl > 0, err
	case "consent":
		p, err := w.profile(ctx, r.CustomerID)
		if err != nil {
			return false, err
		}
		return hasConsent(ctx, w.q, p, c.Channel, c.Purpose)
	case "next_best_action":
		a, err := w.e.nextBestAction(ctx, r.CustomerID)
		return a == c.Value, err
	}
	p, err := w.profile(ctx, r.CustomerID)
	if err != nil {
		return false, err
	}
	switch c.Kind {
	case "segment":
		return strings.EqualFold(p.Segment, c.Value), nil
	case "trait":
		v, ok := p.Traits[c.Name]
		if !ok || v == nil {
			return c.Op == "not_equals", nil
		}
		s := fmt.Sprint(v)
		switch c.Op {
		case "exists":
			return true, nil
		case "equals":
			return s == c.Value, nil
		case "not_equals":
			return s != c.Value, nil
		case "gt", "lt":
			a, err1 := strconv.ParseFloat(s, 64)
			b, err2 := strconv.ParseFloat(c.Value, 64)
			if err1 != nil || err2 != nil {
				return false, nil
			}
			return c.Op == "gt" && a > b || c.Op == "lt" && a < b, nil
		}
	}
	return false, fmt.Errorf("unknown condition %q", c.Kind)
}

// hasConsent: an explicit journey_consent row wins (unsubscribes and confirmations write
// one), then the trait consent.<channel>.<purpose> (or a nested consent object).
// Transactional messages need no opt-in; marketing needs one. A consent trait from a
// client source (unverified) can refuse but never grant (verify.go).
func hasConsent(ctx context.Context, q querier, p *Profile, channel, purpose string) (bool, error) {
	var g int
	err := q.QueryRow(ctx, `SELECT granted FROM journey_consent WHERE customer_id = ? AND channel = ? AND purpose = ?`, p.ID, channel, purpose).Scan(&g)
	if err == nil {
		return g == 1, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read consent: %w", err)
	}
	if v, ok, _ := consentTrait(p, channel, purpose); ok {
		return v, nil
	}
	return purpose == "transactional", nil
}

// consentTrait reads the consent trait for channel and purpose. found is false when
// there is none, or when it is an unverified grant; pending then says a confirmation
// of the address would turn it into consent.
func consentTrait(p *Profile, channel, purpose string) (granted, found, pending bool) {
	key, v, ok := "consent."+channel+"."+purpose, any(nil), false
	if v, ok = p.Traits[key]; !ok {
		key = "consent"
		if c, isMap := p.Traits["consent"].(map[string]any); isMap {
			if ch, isMap := c[channel].(map[string]any); isMap {
				v, ok = ch[purpose]
			}
		}
	}
	if !ok {
		return false, false, false
	}
	g := truthy(v)
	if p.unverified[key] && g {
		return false, false, true
	}
	return g, true, false
}

func truthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return t == "true" || t == "yes" || t == "granted" || t == "opt_in"
	case float64:
		return t != 0
	}
	return false
}

// SetConsent records a consent decision for a customer, channel and purpose.
func SetConsent(ctx context.Context, tx *store.Tx, customerID int64, channel, purpose string, granted bool, source string, at time.Time) error {
	g := 0
	if granted {
		g = 1
	}
	_, err := tx.Exec(ctx, `INSERT INTO journey_consent (customer_id, channel, purpose, granted, updated_at, source) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (customer_id, channel, purpose) DO UPDATE SET granted = excluded.granted, updated_at = excluded.updated_at, source = excluded.source`,
		customerID, channel, purpose, g, at.UnixMilli(), source)
	if err != nil {
		return fmt.Errorf("write consent: %w", err)
	}
	return nil
}

// Suppress adds an address to a channel's suppression list.
func Suppress(ctx context.Context, db *store.DB, channel, address, reason string) error {
	_, err := db.Exec(ctx, `INSERT INTO journey_suppressions (channel, address, reason, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (channel, address) DO NOTHING`,
		channel, normAddr(channel, address), reason, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("suppress %s: %w", channel, err)
	}
	return nil
}

func normAddr(channel, a string) string {
	switch channel {
	case "email":
		return strings.ToLower(strings.TrimSpace(a))
	case "sms":
		var b strings.Builder
		for _, r := range a {
			if r >= '0' && r <= '9' || r == '+' && b.Len() == 0 {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return strings.TrimSpace(a)
}

// RecordSegment appends a segment change for the value engine (internal/value): call it
// in the transaction that stores a customer's new RFM segment or probability alive
// (pAlive < 0 when unknown). Segment entries ("At Risk", p_alive_below) read this feed.
func RecordSegment(ctx context.Context, tx *store.Tx, customerID int64, segment string, pAlive float64, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO segment_changes (customer_id, segment, p_alive, changed_at) VALUES (?, ?, ?, ?)`, customerID, segment, pAlive, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("record segment change: %w", err)
	}
	return nil
}
