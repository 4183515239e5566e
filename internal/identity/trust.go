package identity

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// What a public key can change. Events from a client source (store.KindClient: its key
// ships in web pages) may add analysis data and join anonymous history to a person, but
// the contact points and consent they carry are recorded as unverified: an unverified
// value never replaces a verified one, and an unverified consent trait never grants
// consent (internal/journey reads the flag). Trusted sources (server, imports,
// connectors, the journey engine's confirmations) write verified values. The flag is
// derived from events.source_id, so `omniroi rebuild` gives the same state.

// contactTraits are the traits the journey engine sends to.
var contactTraits = map[string]bool{"email": true, "phone": true, "push_token": true, "device_token": true}

// IsConsentTrait reports whether a trait key states consent ("consent" or "consent.*").
func IsConsentTrait(k string) bool { return k == "consent" || strings.HasPrefix(k, "consent.") }

// ProtectedTrait reports whether a trait key is a contact point or consent: the traits
// that carry a verified flag.
func ProtectedTrait(k string) bool { return contactTraits[k] || IsConsentTrait(k) }

// rank orders two values of trait k: a verified value beats an unverified one whatever
// their times; among equals the later event wins. An unverified consent withdrawal
// counts as verified (anyone may ask for fewer messages, and the person's own browser
// is the usual place to ask), an unverified grant does not. A total order, so the result
// does not depend on the order events are processed in.
func (a trait) better(k string, b trait) bool {
	if ProtectedTrait(k) {
		ca, cb := a.class(k), b.class(k)
		if ca != cb {
			return ca > cb
		}
	}
	return a.newer(b)
}

func (a trait) class(k string) int {
	if !a.U || IsConsentTrait(k) && Withdrawal(a.V) {
		return 1
	}
	return 0
}

// Withdrawal reports whether a consent value only refuses: false, "no", 0, or an object
// whose every leaf refuses.
func Withdrawal(v json.RawMessage) bool {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return false
	}
	leaves := 0
	var walk func(x any) bool
	walk = func(x any) bool {
		switch t := x.(type) {
		case map[string]any:
			for _, c := range t {
				if !walk(c) {
					return false
				}
			}
			return true
		case bool:
			leaves++
			return !t
		case string:
			leaves++
			s := strings.ToLower(strings.TrimSpace(t))
			return s == "false" || s == "no" || s == "denied" || s == "opt_out" || s == "0"
		case float64:
			leaves++
			return t == 0
		case nil:
			return true
		}
		return false
	}
	return walk(x) && leaves > 0
}

// trusted reports whether events of source id state verified facts. Sources created
// after the kinds were read are looked up once.
func (p *Processor) trusted(id int64) bool {
	t, ok := p.kinds[id]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.loadKinds(ctx); err != nil || p.kinds == nil {
			p.kinds = map[int64]bool{}
		}
		t = p.kinds[id]
		p.kinds[id] = t // an unknown source is not trusted, and not looked up again
	}
	return t
}

// loadKinds reads which sources are trusted at the start of a processing turn, so a
// kind changed with `omniroi source kind` applies to the events processed after it.
func (p *Processor) loadKinds(ctx context.Context) error {
	m, err := p.db.SourceKindsByID(ctx)
	if err != nil {
		return err
	}
	p.kinds = make(map[int64]bool, len(m))
	for id, k := range m {
		p.kinds[id] = store.KindTrusted(k)
	}
	return nil
}

// UnverifiedTraits lists the protected traits in a stored traits column whose current
// value came from a client source and was not confirmed.
func UnverifiedTraits(traits string) []string {
	if !strings.Contains(traits, `"u":`) {
		return nil
	}
	var m map[string]trait
	if json.Unmarshal([]byte(traits), &m) != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		if v.U {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Message ids of the events omniroi writes on its own initiative rather than the
// customer's (internal/journey builds them: "journey-" + "sent-…" for a message sent,
// "journey-" + "profile-…" for a trait a journey step set). Opens, clicks, unsubscribes
// and confirmations are the customer's doing and carry other ids.
const (
	ServerSentPrefix    = "journey-sent-"
	ServerProfilePrefix = "journey-profile-"
)

// ServerAction reports whether an event with this message id was written by omniroi on
// its own initiative (only meaningful for a trusted source: a public key could send any
// id). Such events do not move a customer's first or last seen.
func ServerAction(messageID string) bool {
	return strings.HasPrefix(messageID, ServerSentPrefix) || strings.HasPrefix(messageID, ServerProfilePrefix)
}
