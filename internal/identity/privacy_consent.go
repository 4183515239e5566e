package identity

// Per-person consent state (customer_consent): the processor keeps, for each customer,
// the newest consent signal by event time, interpreted by internal/privacy/consent. It
// is derived like the other tables (merges fold it into the survivor, rebuild replays
// it), so features that must only use consenting people (ad audiences, personalisation)
// can filter on it. docs/privacy.md, "Consent signals".

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// consentRec is a customer's newest consent signal within one batch.
type consentRec struct {
	st           consent.State
	ts, seq, src int64
}

func (r consentRec) newer(o consentRec) bool { return r.ts > o.ts || r.ts == o.ts && r.seq > o.seq }

// loadConsentMapping reads the privacy.consent.* category settings once per run.
func (p *Processor) loadConsentMapping(ctx context.Context) error {
	m, err := workspace.ConsentMapping(ctx, p.db)
	if err != nil {
		return err
	}
	p.consentMap = m
	return nil
}

// noteConsent records ev's consent signal, if it has one, for customer c.
func (p *Processor) noteConsent(b *batch, c *customer, ev *event.Event, ts int64) {
	if !consent.Present(ev.Body) {
		return
	}
	st, ok := consent.FromBody(ev.Body, p.consentMap)
	if !ok {
		return
	}
	r := consentRec{st: st, ts: ts, seq: ev.Seq, src: ev.SourceID}
	if b.consent == nil {
		b.consent = map[int64]consentRec{}
	}
	if old, ok := b.consent[c.id]; !ok || r.newer(old) {
		b.consent[c.id] = r
	}
}

// buildConsent turns the batch's consent signals into rows keyed by the surviving customer.
func (p *Processor) buildConsent(b *batch, j *job) {
	if len(b.consent) == 0 {
		return
	}
	final := map[int64]consentRec{}
	for id, r := range b.consent {
		f := b.final(id)
		if old, ok := final[f]; !ok || r.newer(old) {
			final[f] = r
		}
	}
	for id, r := range final {
		j.consent = append(j.consent, id, string(r.st.Analytics), string(r.st.AdStorage), string(r.st.AdUserData),
			string(r.st.AdPersonalization), string(r.st.Personalization), strings.Join(r.st.Signals, ","), r.ts, r.seq, r.src)
	}
}

const consentNewer = `WHERE excluded.ts > customer_consent.ts OR (excluded.ts = customer_consent.ts AND excluded.seq > customer_consent.seq)`

const consentSet = `analytics = excluded.analytics, ad_storage = excluded.ad_storage, ad_user_data = excluded.ad_user_data,
	ad_personalization = excluded.ad_personalization, personalization = excluded.personalization, signals = excluded.signals,
	ts = excluded.ts, seq = excluded.seq, source_id = excluded.source_id`

// writeConsent folds merged customers' consent rows into their survivors and upserts the
// batch's signals; the newer signal by event time wins, as for traits.
func (p *Processor) writeConsent(ctx context.Context, tx *store.Tx, w *writer, j *job) error {
	for _, m := range j.moves {
		if _, err := tx.Exec(ctx, `INSERT INTO customer_consent (customer_id, analytics, ad_storage, ad_user_data, ad_personalization, personalization, signals, ts, seq, source_id)
			SELECT ?, analytics, ad_storage, ad_user_data, ad_personalization, personalization, signals, ts, seq, source_id FROM customer_consent WHERE customer_id = ?
			ON CONFLICT (customer_id) DO UPDATE SET `+consentSet+` `+consentNewer, m[1], m[0]); err != nil {
			return fmt.Errorf("merge consent: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM customer_consent WHERE customer_id = ?`, m[0]); err != nil {
			return fmt.Errorf("merge consent: %w", err)
		}
	}
	if len(j.consent) == 0 {
		return nil
	}
	if _, err := w.insert(`INSERT INTO customer_consent (customer_id, analytics, ad_storage, ad_user_data, ad_personalization, personalization, signals, ts, seq, source_id) VALUES`,
		`ON CONFLICT (customer_id) DO UPDATE SET `+consentSet+` `+consentNewer, 10, j.consent); err != nil {
		return fmt.Errorf("write consent: %w", err)
	}
	return nil
}

// ConsentState is a customer's newest consent signal.
type ConsentState struct {
	consent.State
	At       time.Time `json:"at"`        // event time of the signal
	Seq      int64     `json:"seq"`       // the event that carried it
	SourceID int64     `json:"source_id"` // where it came from
}

// CustomerConsent reads a customer's consent state; ok is false when no event of theirs
// carried a consent signal.
func CustomerConsent(ctx context.Context, db *store.DB, customerID int64) (ConsentState, bool, error) {
	var s ConsentState
	var a, as, au, ap, pe, sig string
	var ts int64
	err := db.QueryRow(ctx, `SELECT analytics, ad_storage, ad_user_data, ad_personalization, personalization, signals, ts, seq, source_id
		FROM customer_consent WHERE customer_id = ?`, customerID).Scan(&a, &as, &au, &ap, &pe, &sig, &ts, &s.Seq, &s.SourceID)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read consent of customer %d: %w", customerID, err)
	}
	s.Analytics, s.AdStorage, s.AdUserData, s.AdPersonalization, s.Personalization = consent.Value(a), consent.Value(as), consent.Value(au), consent.Value(ap), consent.Value(pe)
	if sig != "" {
		s.Signals = strings.Split(sig, ",")
	}
	s.At = time.UnixMilli(ts).UTC()
	return s, true, nil
}

// ConsentingCustomers lists the customers whose newest signal grants purpose
// (analytics, ad_storage, ad_user_data, ad_personalization or personalization): the
// people ad audiences and personalisation may use. No signal is no consent.
func ConsentingCustomers(ctx context.Context, db *store.DB, purpose string) ([]int64, error) {
	switch purpose {
	case "analytics", "ad_storage", "ad_user_data", "ad_personalization", "personalization":
	default:
		return nil, fmt.Errorf("unknown consent purpose %q", purpose)
	}
	rows, err := db.Query(ctx, `SELECT customer_id FROM customer_consent WHERE `+purpose+` = ? ORDER BY customer_id`, string(consent.Granted))
	if err != nil {
		return nil, fmt.Errorf("consenting customers: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
