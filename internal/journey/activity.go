package journey

import (
	"context"
	"fmt"
	"strings"

	"github.com/omniroi/omniroi/internal/store"
)

// Reasons the guardrails give for a message that was not sent, stored with the send
// (journey_sends.reason). The unverified-address reasons are in verify.go.
const (
	ReasonHoldout      = "holdout"       // the run fell in the journey's holdout
	ReasonNoConsent    = "no consent"    // the customer has not agreed to the purpose
	ReasonFrequencyCap = "frequency cap" // the customer had enough messages already
)

// Outcome is what became of a send, as reports count it.
type Outcome string

// The outcomes of a send.
const (
	OutcomeSent       Outcome = "sent"
	OutcomeHoldout    Outcome = "holdout"
	OutcomeNoConsent  Outcome = "no_consent"
	OutcomeCapped     Outcome = "frequency_cap"
	OutcomeOverLimit  Outcome = "over_limit" // a new-recipient limit held it (confirmation included)
	OutcomeUnverified Outcome = "unverified" // the address was only stated by a public key
	OutcomeOther      Outcome = "other"      // pending, failed, or a reason not named above
)

// OutcomeOf classifies a send by its status and reason: the one place that reads the
// stored reason texts.
func OutcomeOf(status, reason string) Outcome {
	switch {
	case status == "sent":
		return OutcomeSent
	case status != "suppressed":
		return OutcomeOther
	case reason == ReasonHoldout:
		return OutcomeHoldout
	case reason == ReasonNoConsent:
		return OutcomeNoConsent
	case reason == ReasonFrequencyCap:
		return OutcomeCapped
	case strings.HasPrefix(reason, ReasonOverLimit):
		return OutcomeOverLimit
	case reason == ReasonConfirmSent, reason == ReasonConfirmWaiting, reason == ReasonPushUnverified, strings.HasPrefix(reason, "unverified"):
		return OutcomeUnverified
	}
	return OutcomeOther
}

// Activity is one journey's runs started and messages created in a period, by outcome
// (profile updates are not messages and are not counted).
type Activity struct {
	Runs       int64 `json:"runs"`
	Sent       int64 `json:"sent"`
	Holdout    int64 `json:"holdout"`
	NoConsent  int64 `json:"no_consent"`
	Capped     int64 `json:"frequency_cap"`
	Unverified int64 `json:"unverified"`
	OverLimit  int64 `json:"over_limit"`
}

// PeriodActivity counts every journey's runs started and messages created in
// [fromMS, toMS) (unix milliseconds), by journey name.
func PeriodActivity(ctx context.Context, db *store.DB, fromMS, toMS int64) (map[string]*Activity, error) {
	out := map[string]*Activity{}
	get := func(n string) *Activity {
		if out[n] == nil {
			out[n] = &Activity{}
		}
		return out[n]
	}
	rows, err := db.Query(ctx, `SELECT journey, COUNT(*) FROM journey_runs WHERE started_at >= ? AND started_at < ? GROUP BY journey`, fromMS, toMS)
	if err != nil {
		return nil, fmt.Errorf("journey runs: %w", err)
	}
	for rows.Next() {
		var n string
		var c int64
		if err := rows.Scan(&n, &c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journey runs: %w", err)
		}
		get(n).Runs = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journey runs: %w", err)
	}
	// status || '' keeps the planner off journey_sends_due (status, not_before), which
	// reads every send of those statuses: journey_sends_created covers the period.
	rows, err = db.Query(ctx, `SELECT journey, status, reason, COUNT(*) FROM journey_sends
		WHERE created_at >= ? AND created_at < ? AND (status || '') IN ('sent', 'suppressed') AND channel <> 'profile'
		GROUP BY journey, status, reason`, fromMS, toMS)
	if err != nil {
		return nil, fmt.Errorf("journey sends: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, st, reason string
		var c int64
		if err := rows.Scan(&n, &st, &reason, &c); err != nil {
			return nil, fmt.Errorf("journey sends: %w", err)
		}
		a := get(n)
		switch OutcomeOf(st, reason) {
		case OutcomeSent:
			a.Sent += c
		case OutcomeHoldout:
			a.Holdout += c
		case OutcomeNoConsent:
			a.NoConsent += c
		case OutcomeCapped:
			a.Capped += c
		case OutcomeOverLimit:
			a.OverLimit += c
		case OutcomeUnverified:
			a.Unverified += c
		}
	}
	return out, rows.Err()
}
