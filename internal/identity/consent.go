package identity

import (
	"encoding/json"
	"slices"
)

// A `consent` trait is merged per category, not replaced: {"consent":{"personalisation":false}}
// from a website changes the personalisation choice and keeps the stored email and SMS
// consent. Each leaf of the object (its path, e.g. email.marketing or personalisation) is
// ranked on its own by the rules of trait.better: a verified value beats an unverified
// grant, a refusal from anyone counts as verified, and among equals the later event wins.
// The leaves are kept in the trait's P field; V is the object they make, so every reader
// of the `consent` trait keeps working. A value that is not an object (consent: false) is
// one leaf with the empty path, which covers every category.

// consentLeaf is one category's value inside the consent object, with its rank.
type consentLeaf struct {
	K []string        `json:"k"`
	V json.RawMessage `json:"v"`
	T int64           `json:"t"`
	S int64           `json:"s"`
	U bool            `json:"u,omitempty"`
}

func (l consentLeaf) rank() trait { return trait{V: l.V, T: l.T, S: l.S, U: l.U} }

// consentLeaves splits a consent trait into its leaves: the stored ones, or those of its
// value for a trait written before leaves were kept (or just received).
func consentLeaves(t trait) []consentLeaf {
	if len(t.P) > 0 {
		return t.P
	}
	var out []consentLeaf
	var walk func(path []string, v json.RawMessage)
	walk = func(path []string, v json.RawMessage) {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) == nil && m != nil {
			for k, c := range m { // an empty object states nothing
				walk(append(slices.Clip(path), k), c)
			}
			return
		}
		out = append(out, consentLeaf{K: path, V: v, T: t.T, S: t.S, U: t.U})
	}
	walk(nil, t.V)
	sortLeaves(out)
	return out
}

func sortLeaves(ls []consentLeaf) {
	slices.SortFunc(ls, func(a, b consentLeaf) int { return slices.Compare(a.K, b.K) })
}

// overlaps reports whether one path lies inside the other (email covers email.marketing).
func overlaps(a, b []string) bool {
	n := min(len(a), len(b))
	return slices.Equal(a[:n], b[:n])
}

// mergeConsent ranks each leaf of nt against the leaves of old that it overlaps: it
// replaces them when it ranks above every one, and is dropped otherwise. changed says
// whether anything was taken.
func mergeConsent(old, nt trait) (trait, bool) {
	leaves := slices.Clone(consentLeaves(old))
	changed := false
	for _, l := range consentLeaves(nt) {
		wins := true
		for _, o := range leaves {
			if overlaps(l.K, o.K) && !l.rank().better("consent", o.rank()) {
				wins = false
				break
			}
		}
		if !wins {
			continue
		}
		leaves = slices.DeleteFunc(leaves, func(o consentLeaf) bool { return overlaps(l.K, o.K) })
		leaves = append(leaves, l)
		changed = true
	}
	if !changed {
		return old, false
	}
	sortLeaves(leaves)
	return consentTrait(leaves), true
}

// consentTrait builds the consent trait from its leaves. A grant from a client source
// grants nothing, and readers treat every grant of an unverified consent object as
// unverified, so such a grant is left out of the value when a verified grant is there
// (it is still kept among the leaves, and counts again if the verified grants go).
// U then says the value holds an unverified grant; T and S are the newest leaf's.
func consentTrait(leaves []consentLeaf) trait {
	verifiedGrant := false
	for _, l := range leaves {
		if !l.U && !Withdrawal(l.V) {
			verifiedGrant = true
		}
	}
	t := trait{P: leaves}
	var shown []consentLeaf
	for _, l := range leaves {
		unverifiedGrant := l.U && !Withdrawal(l.V)
		if unverifiedGrant && verifiedGrant {
			continue
		}
		shown = append(shown, l)
		t.U = t.U || unverifiedGrant
		if r := l.rank(); r.newer(trait{T: t.T, S: t.S}) {
			t.T, t.S = l.T, l.S
		}
	}
	t.V = consentValue(shown)
	return t
}

// consentValue nests the leaves back into one JSON value.
func consentValue(leaves []consentLeaf) json.RawMessage {
	if len(leaves) == 1 && len(leaves[0].K) == 0 {
		return leaves[0].V
	}
	root := map[string]any{}
	for _, l := range leaves {
		if len(l.K) == 0 {
			continue
		}
		m := root
		for _, k := range l.K[:len(l.K)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[l.K[len(l.K)-1]] = l.V
	}
	b, _ := json.Marshal(root) // keys sorted: deterministic
	return b
}
