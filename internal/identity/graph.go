package identity

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// idKey is one identifier.
type idKey struct{ kind, value string }

// ident is the in-memory state of one identities row.
type ident struct {
	cust      int64
	firstSeen int64
	seq       int64
	userIDs   []string // distinct userIds seen with this identifier, capped at maxShared+1
	shared    bool
	dirty     bool
}

// trait is one trait value with the event time and seq that set it.
type trait struct {
	V json.RawMessage `json:"v"`
	T int64           `json:"t"`
	S int64           `json:"s"`
	U bool            `json:"u,omitempty"` // unverified: a contact point or consent from a client source (trust.go)
	P []consentLeaf   `json:"p,omitempty"` // the consent trait's categories, each ranked on its own (consent.go)
}

func (a trait) newer(b trait) bool { return a.T > b.T || (a.T == b.T && a.S > b.S) }

// customer is the in-memory state of one customers row.
type customer struct {
	id          int64
	userID      string
	first, last int64
	events      int64
	ids         []idKey
	traitsRaw   string           // as stored; parsed on first change
	traits      map[string]trait // nil until parsed
	name        string
	email       string
	phone       string
	dirty       bool
	traitsDirty bool // traits (or user id) changed since the row was last written
	traitBytes  int  // size of the stored traits JSON, estimated as traits change; 0 unknown
	dropped     droppedTraits
}

func (c *customer) traitMap() map[string]trait {
	if c.traits == nil {
		c.traits = map[string]trait{}
		if c.traitsRaw != "" && c.traitsRaw != "{}" {
			_ = json.Unmarshal([]byte(c.traitsRaw), &c.traits)
		}
	}
	return c.traits
}

// setTrait records v for k if it ranks above what the customer has: newer by event
// time, and for contact points and consent not unverified over verified (trust.go).
// trusted says whether the event's source states verified facts.
func (c *customer) setTrait(k string, v json.RawMessage, ts, seq int64, trusted bool) bool {
	return c.putTrait(k, trait{V: v, T: ts, S: seq, U: !trusted && ProtectedTrait(k)})
}

// putTrait records t for k if it ranks above what the customer has (trait.better) and
// the profile stays within event.MaxProfileBytes; a key that would grow it past that is
// dropped and noted in c.dropped (the event itself is kept).
func (c *customer) putTrait(k string, nt trait) bool {
	m := c.traitMap()
	old, had := m[k]
	var grow int
	if k == "consent" {
		// Merged per category (consent.go).
		if had {
			var changed bool
			if nt, changed = mergeConsent(old, nt); !changed {
				return false
			}
		} else {
			nt = consentTrait(consentLeaves(nt))
		}
		grow = traitSize(nt) - traitSize(old)
		if !had {
			grow += len(k) + 4
		}
	} else if had && !nt.better(k, old) {
		return false
	} else if grow = len(nt.V) - len(old.V); !had {
		grow = traitCost(k, nt.V)
	}
	if grow > 0 && c.profileBytes()+grow > event.MaxProfileBytes {
		c.dropped.add(k)
		return false
	}
	m[k] = nt
	c.traitBytes += grow
	c.traitsDirty = true
	return true
}

// traitSize is the length of a trait as stored; 0 for none.
func traitSize(t trait) int {
	if t.V == nil && t.P == nil {
		return 0
	}
	b, _ := json.Marshal(t)
	return len(b)
}

// traitCost bounds what one trait adds to the stored JSON: "k":{"v":V,"t":T,"s":S},
func traitCost(k string, v json.RawMessage) int { return len(k) + len(v) + 48 }

// profileBytes is the size of the customer's traits as stored, tracked from the stored
// row and the changes since.
func (c *customer) profileBytes() int {
	if c.traitBytes == 0 {
		c.traitBytes = len(c.traitsRaw)
		if c.traits != nil && (c.traitsRaw == "" || c.traitsRaw == "{}") {
			for k, t := range c.traits {
				c.traitBytes += traitCost(k, t.V)
			}
		}
		c.traitBytes = max(c.traitBytes, 2)
	}
	return c.traitBytes
}

// droppedTraits are the trait keys left out of a profile since they were last reported.
type droppedTraits struct {
	n    int
	keys []string // the first few
}

func (d *droppedTraits) add(k string) {
	d.n++
	if len(d.keys) < 10 {
		d.keys = append(d.keys, k)
	}
}

// take reports and forgets the dropped keys.
func (d *droppedTraits) take() (int, []string) {
	n, keys := d.n, d.keys
	*d = droppedTraits{}
	return n, keys
}

// refreshDisplay recomputes name, email and phone from the traits.
func (c *customer) refreshDisplay() {
	m := c.traitMap()
	str := func(k string) string {
		t, ok := m[k]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(t.V, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	name := str("name")
	if name == "" {
		first := str("first_name")
		if first == "" {
			first = str("firstName")
		}
		last := str("last_name")
		if last == "" {
			last = str("lastName")
		}
		name = strings.TrimSpace(first + " " + last)
	}
	if IsPlaceholder(name) {
		name = ""
	}
	c.name = name
	c.email = NormalizeEmail(str("email"))
	c.phone = NormalizePhone(str("phone"))
}

func (c *customer) traitsJSON() string {
	if c.traits == nil {
		if c.traitsRaw == "" {
			return "{}"
		}
		return c.traitsRaw
	}
	b, _ := json.Marshal(c.traits) // map keys are sorted: deterministic
	c.traitsRaw = string(b)
	c.traitBytes = len(b)
	return c.traitsRaw
}

// graph is the identity index the lease holder keeps in memory.
type graph struct {
	ids       map[idKey]*ident
	custs     map[int64]*customer
	conflicts map[[4]string]bool // kind, value, userId, other userId already recorded
	groups    map[string]*group
}

func newGraph() *graph {
	return &graph{ids: map[idKey]*ident{}, custs: map[int64]*customer{}, conflicts: map[[4]string]bool{}, groups: map[string]*group{}}
}

func sortKeys(ks []idKey) {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].kind != ks[j].kind {
			return ks[i].kind < ks[j].kind
		}
		return ks[i].value < ks[j].value
	})
}

// ProfileOrigin is the origin of the rejected_events rows that say which trait keys the
// processor left out of a profile over event.MaxProfileBytes. Rebuild deletes them with
// the derived tables, as it writes them again.
const ProfileOrigin = "processor: profile size"

// noteDropped records, for the Sources page, the trait keys ev could not add to c.
func (b *batch) noteDropped(ev *event.Event, c *customer) {
	n, keys := c.dropped.take()
	if n == 0 {
		return
	}
	more := ""
	if n > len(keys) {
		more = fmt.Sprintf(" and %d more", n-len(keys))
	}
	b.notes = append(b.notes, store.Rejection{SourceID: ev.SourceID, ReceivedAt: ev.ReceivedAt, Origin: ProfileOrigin, Position: -1,
		Reason: fmt.Sprintf("accepted in part: customer %d's traits reached the %d KB limit per profile; the event's keys %s%s were left out of the profile (event %s, seq %d)",
			c.id, event.MaxProfileBytes>>10, strings.Join(keys, ", "), more, ev.MessageID, ev.Seq)})
}
