package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Document is the access and portability export (GDPR Art. 15 and 20): everything the
// store holds about one person, in one JSON document. docs/privacy.md lists each table
// and whether it holds personal data.
type Document struct {
	Format      string    `json:"format"` // "omniroi.privacy.export/1"
	GeneratedAt time.Time `json:"generated_at"`
	CustomerID  int64     `json:"customer_id,omitempty"`
	// Identifiers are the values this export was gathered by.
	Identifiers struct {
		UserIDs      []string `json:"user_ids"`
		AnonymousIDs []string `json:"anonymous_ids"`
		Emails       []string `json:"emails"`
		Phones       []string `json:"phones"`
		Shared       int      `json:"shared_identifiers_left_out,omitempty"`
	} `json:"identifiers"`
	Profile *identity.CustomerProfile `json:"profile,omitempty"` // traits, identities, orders, refunds, every touchpoint, conflicts, merges
	Consent struct {
		Signals  *identity.ConsentState `json:"signals,omitempty"` // newest Consent Mode / TCF / category signal
		Channels []channelConsent       `json:"channels"`          // messaging consent per channel and purpose
		History  []consentEvent         `json:"history"`           // every consent signal their events carried
		Required bool                   `json:"consent_required"`  // privacy.consent.required
	} `json:"consent"`
	Events         []eventRow       `json:"events"`            // every raw event of theirs, anonymous history included
	MentionedIn    []mention        `json:"mentioned_in"`      // other people's events that name them (not copied: they hold others' data)
	Rejected       []rejectedRow    `json:"rejected_payloads"` // payloads turned away at the door that name them
	JourneyRuns    []map[string]any `json:"journey_runs"`
	Messages       []map[string]any `json:"messages"`       // journey_sends: every message decided for them
	MessageCopies  []messageFile    `json:"message_copies"` // message bodies kept on disk (DATA/outbox)
	Decisions      []map[string]any `json:"journey_decisions"`
	Timers         []map[string]any `json:"journey_timers"`
	SegmentChanges []map[string]any `json:"segment_changes"`
	LeadScores     []map[string]any `json:"lead_score_changes"`   // lead-score crossings (journeys entering on a lead score)
	Suppressions   []map[string]any `json:"contact_suppressions"` // addresses never to contact (bounces, complaints, lists)
	AuditEntries   []audit.Entry    `json:"audit_entries"`        // what was done with their record (exports), without personal data
	NotHeld        []string         `json:"not_held"`             // tables checked that hold nothing personal
}

type channelConsent struct {
	Channel   string    `json:"channel"`
	Purpose   string    `json:"purpose"`
	Granted   bool      `json:"granted"`
	UpdatedAt time.Time `json:"updated_at"`
	Source    string    `json:"source,omitempty"`
}

type consentEvent struct {
	Seq   int64           `json:"seq"`
	Time  time.Time       `json:"ts"`
	Raw   json.RawMessage `json:"context_consent"`
	State consent.State   `json:"interpreted"`
}

type mention struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"ts"`
	Type string    `json:"type"`
	Name string    `json:"name,omitempty"`
}

// Export gathers a person's data and records the export in the audit log (the customer
// id and counts, no personal data).
func Export(ctx context.Context, db *store.DB, q Query, actor string) (*Document, error) {
	s, err := Find(ctx, db, q)
	if err != nil {
		return nil, err
	}
	d := &Document{Format: "omniroi.privacy.export/1", GeneratedAt: time.Now().UTC(), CustomerID: s.CustomerID}
	d.Identifiers.UserIDs, d.Identifiers.AnonymousIDs, d.Identifiers.Emails, d.Identifiers.Phones = nonNil(s.UserIDs), nonNil(s.AnonIDs), nonNil(s.Emails), nonNil(s.Phones)
	d.Identifiers.Shared = s.Shared
	m := newMatcher(s)
	mapping, err := workspace.ConsentMapping(ctx, db)
	if err != nil {
		return nil, err
	}
	if req, err := workspace.Bool(ctx, db, workspace.ConsentRequiredKey.Name); err == nil {
		d.Consent.Required = req
	}
	if s.CustomerID != 0 {
		p, err := identity.Profile(ctx, db, s.CustomerID)
		if err != nil {
			return nil, err
		}
		if p.Touchpoints, err = identity.Touchpoints(ctx, db, s.CustomerID, 1<<31-1); err != nil {
			return nil, err
		}
		p.Truncated = false
		d.Profile = &p
		if st, ok, err := identity.CustomerConsent(ctx, db, s.CustomerID); err != nil {
			return nil, err
		} else if ok {
			d.Consent.Signals = &st
		}
	}
	sc, err := scanEvents(ctx, db, s, m)
	if err != nil {
		return nil, err
	}
	d.Events = nonNil(sc.own)
	d.Consent.History = []consentEvent{}
	for _, e := range sc.own {
		if !consent.Present(e.Body) {
			continue
		}
		var ev struct {
			Context struct {
				Consent json.RawMessage `json:"consent"`
			} `json:"context"`
		}
		if json.Unmarshal(e.Body, &ev) != nil || len(ev.Context.Consent) == 0 {
			continue
		}
		st, _ := consent.Parse(ev.Context.Consent, mapping)
		d.Consent.History = append(d.Consent.History, consentEvent{Seq: e.Seq, Time: e.Time, Raw: ev.Context.Consent, State: st})
	}
	d.MentionedIn = []mention{}
	for _, e := range sc.mentions {
		d.MentionedIn = append(d.MentionedIn, mention{Seq: e.Seq, Time: e.Time, Type: e.Type, Name: e.Name})
	}
	if d.Rejected, err = rejectedNaming(ctx, db, m); err != nil {
		return nil, err
	}
	d.Rejected = nonNil(d.Rejected)
	in, arg := store.InInt64(db.Dialect, "customer_id", s.Customers)
	rin, _ := store.InInt64(db.Dialect, "r.customer_id", s.Customers)
	q2 := func(dst *[]map[string]any, query string, args ...any) {
		if err != nil {
			return
		}
		*dst, err = rowsAsMaps(ctx, db, query, args...)
	}
	args := []any{arg}
	q2(&d.JourneyRuns, `SELECT id, journey, version, customer_id, entry_key, status, step, holdout, entry_seq, entry_props, started_at, updated_at, ended_at, exit_reason
		FROM journey_runs WHERE `+in+` ORDER BY id`, args...)
	q2(&d.Messages, `SELECT id, idem_key, run_id, journey, customer_id, step, channel, purpose, status, reason, not_before, attempts, created_at, sent_at, opened_at, clicked_at
		FROM journey_sends WHERE `+in+` ORDER BY id`, args...)
	q2(&d.Decisions, `SELECT run_id, step, kind, journey, customer_id, at, text FROM journey_decisions WHERE `+in+` ORDER BY at, run_id, step`, args...)
	q2(&d.Timers, `SELECT t.run_id, t.due_at, t.step FROM journey_timers t JOIN journey_runs r ON r.id = t.run_id WHERE `+rin+` ORDER BY t.run_id`, args...)
	q2(&d.SegmentChanges, `SELECT id, customer_id, segment, p_alive, changed_at, baseline FROM segment_changes WHERE `+in+` ORDER BY id`, args...)
	q2(&d.LeadScores, `SELECT id, customer_id, score, previous, changed_at, baseline FROM lead_score_changes WHERE `+in+` ORDER BY id`, args...)
	addrs := append(append([]string{}, s.Emails...), s.Phones...)
	ain, aarg := store.InText(db.Dialect, "address", addrs)
	q2(&d.Suppressions, `SELECT channel, address, reason, created_at FROM journey_suppressions WHERE `+ain+` ORDER BY channel, address`, aarg)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	d.Consent.Channels = []channelConsent{}
	var cc []map[string]any
	q2(&cc, `SELECT channel, purpose, granted, updated_at, source FROM journey_consent WHERE `+in+` ORDER BY channel, purpose`, args...)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	for _, r := range cc {
		d.Consent.Channels = append(d.Consent.Channels, channelConsent{Channel: str(r["channel"]), Purpose: str(r["purpose"]),
			Granted: num(r["granted"]) != 0, UpdatedAt: time.UnixMilli(num(r["updated_at"])).UTC(), Source: str(r["source"])})
	}
	var keys []string
	for _, r := range d.Messages {
		keys = append(keys, str(r["idem_key"]))
	}
	if d.MessageCopies, err = outboxFiles(db.DataDir, keys, m, true); err != nil {
		return nil, err
	}
	d.MessageCopies = nonNil(d.MessageCopies)
	if s.CustomerID != 0 {
		d.AuditEntries, err = auditFor(ctx, db, s.CustomerID)
		if err != nil {
			return nil, err
		}
	}
	d.AuditEntries = nonNil(d.AuditEntries)
	d.NotHeld = []string{"sources", "spend", "settings", "leases", "api_tokens", "users", "sessions", "journeys", "schema_migrations"}
	for _, p := range []*[]map[string]any{&d.JourneyRuns, &d.Messages, &d.Decisions, &d.Timers, &d.SegmentChanges, &d.Suppressions} {
		*p = nonNil(*p)
	}
	target := "customer:" + strconv.FormatInt(s.CustomerID, 10)
	if s.CustomerID == 0 {
		target = "identifier"
	}
	if err := audit.Record(ctx, db, audit.Entry{Actor: actor, Action: "privacy.export", Target: target, Detail: map[string]any{
		"events": len(d.Events), "mentions": len(d.MentionedIn), "rejected": len(d.Rejected), "messages": len(d.Messages),
		"message_copies": len(d.MessageCopies), "journey_runs": len(d.JourneyRuns)}}); err != nil {
		return nil, err
	}
	return d, nil
}

func auditFor(ctx context.Context, db *store.DB, id int64) ([]audit.Entry, error) {
	rows, err := db.Query(ctx, `SELECT id, at, actor, action, target, detail FROM audit_log WHERE target = ? ORDER BY id`, "customer:"+strconv.FormatInt(id, 10))
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		_ = json.Unmarshal([]byte(detail), &e.Detail)
		out = append(out, e)
	}
	return out, rows.Err()
}

// rowsAsMaps reads a query's rows as column → value maps (text as strings, numbers as
// int64 or float64), for the parts of the export that are plain table rows.
func rowsAsMaps(ctx context.Context, db *store.DB, q string, args ...any) ([]map[string]any, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			v := vals[i]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if c == "entry_props" {
				if s, ok := v.(string); ok && json.Valid([]byte(s)) {
					v = json.RawMessage(s)
				}
			}
			m[c] = v
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
