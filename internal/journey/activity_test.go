package journey

import "testing"

// TestOutcomeOf: every reason the engine stores is read as its outcome, and the texts
// stored are the named constants (a reworded reason would fall to "other" and vanish
// from the Automations page's counts).
func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status, reason string
		want           Outcome
	}{
		{"sent", "", OutcomeSent},
		{"suppressed", ReasonHoldout, OutcomeHoldout},
		{"suppressed", ReasonNoConsent, OutcomeNoConsent},
		{"suppressed", ReasonFrequencyCap, OutcomeCapped},
		{"suppressed", ReasonOverLimit + " for source web", OutcomeOverLimit},
		{"suppressed", ReasonOverLimit + " for one client IP address", OutcomeOverLimit},
		{"suppressed", ReasonConfirmSent, OutcomeUnverified},
		{"suppressed", ReasonConfirmWaiting, OutcomeUnverified},
		{"suppressed", ReasonPushUnverified, OutcomeUnverified},
		{"suppressed", "no address", OutcomeOther},
		{"pending", "", OutcomeOther},
		{"failed", ReasonHoldout, OutcomeOther},
	}
	for _, c := range cases {
		if got := OutcomeOf(c.status, c.reason); got != c.want {
			t.Errorf("OutcomeOf(%q, %q) = %q, want %q", c.status, c.reason, got, c.want)
		}
	}
}
