// Package consent reads the consent signals a Segment event carries in context.consent
// and interprets them as the four Google Consent Mode v2 purposes plus personalisation:
//
//   - Segment Consent Management (analytics.js consent tools, OneTrust wrapper):
//     context.consent.categoryPreferences = {"Analytics": true, "Advertising": false, ...},
//     category ids mapped to purposes by Mapping (the privacy.consent.* settings).
//   - Google Consent Mode v2: ad_storage, analytics_storage, ad_user_data,
//     ad_personalization (and personalization_storage) as "granted"/"denied" (or
//     booleans), directly in context.consent, in context.consent.consentMode, or among
//     the categoryPreferences.
//   - IAB TCF v2: context.consent.tcString (or context.consent.tcf.tcString), decoded, or
//     context.consent.tcf.purposeConsents = {"1": true, ...}; gdprApplies false means the
//     string grants and denies nothing.
//
// When signals disagree, a denial wins. It depends on nothing else in omniroi, so the
// event processor and the collection gate read consent the same way.
package consent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// Value is one purpose's state.
type Value string

const (
	Unknown Value = ""
	Granted Value = "granted"
	Denied  Value = "denied"
)

// State is what an event's signals say about each purpose.
type State struct {
	Analytics         Value    `json:"analytics"`          // analytics_storage: measuring and joining what people do
	AdStorage         Value    `json:"ad_storage"`         // advertising cookies
	AdUserData        Value    `json:"ad_user_data"`       // sending personal data to ad platforms
	AdPersonalization Value    `json:"ad_personalization"` // remarketing, personalised ads, ad audiences
	Personalization   Value    `json:"personalization"`    // personalised content
	Signals           []string `json:"signals,omitempty"`  // consent_mode, categories, tcf
}

// Empty reports whether no purpose is known.
func (s State) Empty() bool {
	return s.Analytics == "" && s.AdStorage == "" && s.AdUserData == "" && s.AdPersonalization == "" && s.Personalization == ""
}

// Mapping names the Segment consent categories (matched case-insensitively) that stand
// for each purpose. Ads categories stand for all three advertising purposes.
type Mapping struct {
	Analytics       []string
	Ads             []string
	Personalization []string
}

// Default category ids: common names, and OneTrust's C0002 (performance), C0003
// (functional) and C0004 (targeting).
const (
	DefaultAnalytics       = "analytics,statistics,performance,measurement,C0002"
	DefaultAds             = "advertising,marketing,targeting,ads,C0004"
	DefaultPersonalization = "personalization,personalisation,functional,preferences,C0003"
)

// ParseList splits a comma-separated category list.
func ParseList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// DefaultMapping is the mapping of the default settings.
func DefaultMapping() Mapping {
	return Mapping{Analytics: ParseList(DefaultAnalytics), Ads: ParseList(DefaultAds), Personalization: ParseList(DefaultPersonalization)}
}

// ChangeEvent is the track event analytics.js consent tools send when a person changes
// their choice. It is the record of the choice, so it keeps the person's ids even when
// analytics is denied.
const ChangeEvent = "Segment Consent Preference"

// votes gathers each signal's say per purpose; a denial wins over a grant.
type votes [5]Value

func (v *votes) add(i int, x Value) {
	if x == Denied || v[i] == "" {
		v[i] = x
	}
}

const (
	pAnalytics = iota
	pAdStorage
	pAdUserData
	pAdPersonalization
	pPersonalization
)

var modeKeys = map[string]int{
	"analytics_storage": pAnalytics, "ad_storage": pAdStorage, "ad_user_data": pAdUserData,
	"ad_personalization": pAdPersonalization, "personalization_storage": pPersonalization,
}

// Present reports cheaply whether body may carry a consent object.
func Present(body []byte) bool { return bytes.Contains(body, []byte(`"consent"`)) }

// FromBody reads context.consent from a stored event body. ok is false when the event
// has no consent object (or an empty one).
func FromBody(body []byte, m Mapping) (s State, ok bool) {
	if !Present(body) {
		return State{}, false
	}
	c := Member(Member(body, "context"), "consent")
	if len(c) == 0 || c[0] != '{' || !json.Valid(c) {
		return State{}, false
	}
	return Parse(c, m)
}

// Parse interprets a context.consent object.
func Parse(raw json.RawMessage, m Mapping) (State, bool) {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil || len(obj) == 0 {
		return State{}, false
	}
	var v votes
	signals := map[string]bool{}
	mode := func(o map[string]json.RawMessage) {
		for k, raw := range o {
			if i, ok := modeKeys[strings.ToLower(k)]; ok {
				if x := value(raw); x != "" {
					v.add(i, x)
					signals["consent_mode"] = true
				}
			}
		}
	}
	mode(obj)
	for _, k := range []string{"consentMode", "consent_mode", "googleConsentMode"} {
		if raw, ok := obj[k]; ok {
			var o map[string]json.RawMessage
			if json.Unmarshal(raw, &o) == nil {
				mode(o)
			}
		}
	}
	if raw, ok := obj["categoryPreferences"]; ok {
		var cats map[string]json.RawMessage
		if json.Unmarshal(raw, &cats) == nil {
			mode(cats)
			for k, raw := range cats {
				x := value(raw)
				if x == "" {
					continue
				}
				name := strings.ToLower(strings.TrimSpace(k))
				if has(m.Analytics, name) {
					v.add(pAnalytics, x)
					signals["categories"] = true
				}
				if has(m.Ads, name) {
					v.add(pAdStorage, x)
					v.add(pAdUserData, x)
					v.add(pAdPersonalization, x)
					signals["categories"] = true
				}
				if has(m.Personalization, name) {
					v.add(pPersonalization, x)
					signals["categories"] = true
				}
			}
		}
	}
	if tcfVotes(obj, &v) {
		signals["tcf"] = true
	}
	s := State{Analytics: v[pAnalytics], AdStorage: v[pAdStorage], AdUserData: v[pAdUserData],
		AdPersonalization: v[pAdPersonalization], Personalization: v[pPersonalization]}
	for k := range signals {
		s.Signals = append(s.Signals, k)
	}
	sort.Strings(s.Signals)
	return s, !s.Empty()
}

func has(list []string, name string) bool {
	for _, c := range list {
		if c == name {
			return true
		}
	}
	return false
}

// value reads true/false and the Consent Mode words.
func value(raw json.RawMessage) Value {
	s := strings.TrimSpace(string(raw))
	if s == "true" {
		return Granted
	}
	if s == "false" {
		return Denied
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return ""
	}
	switch strings.ToLower(strings.TrimSpace(str)) {
	case "granted", "true", "yes", "opt-in", "optin", "1", "allow", "allowed":
		return Granted
	case "denied", "false", "no", "opt-out", "optout", "0", "deny":
		return Denied
	}
	return ""
}

// tcfVotes adds what an IAB TCF v2 signal says. Purposes map as Google maps them to
// Consent Mode (ad_storage: 1; ad_user_data: 1 and 7; ad_personalization: 3 and 4),
// analytics needs 1 and one of the measurement purposes 7, 8 or 9, personalisation 5 and 6.
func tcfVotes(obj map[string]json.RawMessage, v *votes) bool {
	tcf := obj
	if raw, ok := obj["tcf"]; ok {
		var o map[string]json.RawMessage
		if json.Unmarshal(raw, &o) != nil {
			return false
		}
		tcf = o
	}
	if raw, ok := tcf["gdprApplies"]; ok && strings.TrimSpace(string(raw)) == "false" {
		return false
	}
	var purposes map[int]bool
	var tc string
	if raw, ok := tcf["tcString"]; ok && json.Unmarshal(raw, &tc) == nil && tc != "" {
		p, ok := DecodeTCString(tc)
		if !ok {
			return false
		}
		purposes = p
	} else if raw, ok := tcf["purposeConsents"]; ok {
		purposes = map[int]bool{}
		var byNum map[string]json.RawMessage
		var list []int
		switch {
		case json.Unmarshal(raw, &byNum) == nil:
			for k, raw := range byNum {
				n, err := strconv.Atoi(k)
				if err == nil && value(raw) == Granted {
					purposes[n] = true
				}
			}
		case json.Unmarshal(raw, &list) == nil:
			for _, n := range list {
				purposes[n] = true
			}
		default:
			return false
		}
	} else {
		return false
	}
	say := func(ok bool) Value {
		if ok {
			return Granted
		}
		return Denied
	}
	p := purposes
	v.add(pAdStorage, say(p[1]))
	v.add(pAdUserData, say(p[1] && p[7]))
	v.add(pAdPersonalization, say(p[3] && p[4]))
	v.add(pAnalytics, say(p[1] && (p[7] || p[8] || p[9])))
	v.add(pPersonalization, say(p[5] && p[6]))
	return true
}

// DecodeTCString reads the purpose consents of a TCF v2 TC string's core segment: bits
// 152 to 175 (purposes 1 to 24) after the version, timestamps, CMP, screen, language,
// vendor list, policy version, service-specific and special-feature fields.
func DecodeTCString(tc string) (map[int]bool, bool) {
	core, _, _ := strings.Cut(strings.TrimSpace(tc), ".")
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(core, "="))
	if err != nil || len(b) < 22 {
		return nil, false
	}
	bit := func(i int) bool { return b[i/8]&(0x80>>(i%8)) != 0 }
	version := 0
	for i := 0; i < 6; i++ {
		version <<= 1
		if bit(i) {
			version |= 1
		}
	}
	if version != 2 {
		return nil, false
	}
	out := map[int]bool{}
	for p := 1; p <= 24; p++ {
		if bit(152 + p - 1) {
			out[p] = true
		}
	}
	return out, true
}

// Allows reports whether a state permits a purpose: only an explicit grant does.
func (s State) Allows(purpose string) bool {
	switch purpose {
	case "analytics":
		return s.Analytics == Granted
	case "ad_storage":
		return s.AdStorage == Granted
	case "ad_user_data":
		return s.AdUserData == Granted
	case "ad_personalization":
		return s.AdPersonalization == Granted
	case "personalization":
		return s.Personalization == Granted
	}
	return false
}
