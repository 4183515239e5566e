package identity

import (
	"encoding/json"
	"sort"
	"strings"
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
	m := c.traitMap()
	nt := trait{V: v, T: ts, S: seq, U: !trusted && ProtectedTrait(k)}
	if old, ok := m[k]; ok && !nt.better(k, old) {
		return false
	}
	m[k] = nt
	c.traitsDirty = true
	return true
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
