package channel

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FromSegment builds a Touch from a normalised Segment event. It is tolerant:
// missing or oddly typed fields leave the Touch field empty (numbers and
// booleans are read as text), and input that is not a JSON object gives an
// empty Touch, which classifies as Direct.
//
// Hint is properties.channel (or sales_channel/order_channel); Segment's own
// context.channel ("server", "browser") describes the library, not marketing,
// and is ignored. Location is properties.location, else properties.source or
// source_name (Shopify's "pos", "web"). properties.campaign_name (Segment's
// email spec) is the campaign when neither context.campaign nor the page URL
// names one. Keys match case-insensitively and the last duplicate wins, as
// with encoding/json.
//
// It walks the JSON once and skips what it does not need: encoding/json
// spent ~7µs per typical page event, six times the cost of Classify.
func FromSegment(raw []byte) Touch {
	var v segValues
	s := scanner{b: raw}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return Touch{}
	}
	if !s.object(&v, pathTop) {
		return Touch{}
	}
	if s.ws(); s.i != len(s.b) {
		return Touch{} // trailing garbage: not one JSON value
	}
	t := Touch{
		Type:     first(v[vType]),
		Event:    first(v[vEvent]),
		Source:   first(v[vCSource], v[vCUTMSource]),
		Medium:   first(v[vCMedium], v[vCUTMMedium]),
		Campaign: first(v[vCName], v[vCUTMCampaign]),
		Term:     first(v[vCTerm], v[vCUTMTerm]),
		Content:  first(v[vCContent], v[vCUTMContent]),
		PageURL:  first(v[vPageURL], v[vPURL]),
		Referrer: first(v[vPageReferrer], v[vRefURL], v[vRefLink], v[vPReferrer]),
		Hint:     first(v[vPChannel], v[vPSalesChannel], v[vPOrderChannel]),
		Location: first(v[vPLocation], v[vPSource], v[vPSourceName]),
	}
	if t.Campaign == "" && !pageHasCampaign(t.PageURL) {
		t.Campaign = first(v[vPCampaignName])
	}
	return t
}

// Value slots FromSegment collects.
const (
	vType = iota
	vEvent
	vPChannel
	vPSalesChannel
	vPOrderChannel
	vPLocation
	vPSource
	vPSourceName
	vPURL
	vPReferrer
	vPCampaignName
	vCName
	vCSource
	vCMedium
	vCTerm
	vCContent
	vCUTMCampaign
	vCUTMSource
	vCUTMMedium
	vCUTMTerm
	vCUTMContent
	vPageURL
	vPageReferrer
	vRefURL
	vRefLink
	numValues
)

type segValues [numValues]string

// Object paths the scanner descends into.
type path uint8

const (
	pathTop path = iota
	pathProperties
	pathContext
	pathCampaign
	pathPage
	pathReferrer
	pathSkip
)

type member struct {
	key  string
	slot int  // value slot, or -1
	sub  path // object to descend into when slot < 0
}

var members = [...][]member{
	pathTop: {{"type", vType, 0}, {"event", vEvent, 0}, {"properties", -1, pathProperties}, {"context", -1, pathContext}},
	pathProperties: {{"channel", vPChannel, 0}, {"sales_channel", vPSalesChannel, 0}, {"order_channel", vPOrderChannel, 0},
		{"location", vPLocation, 0}, {"source", vPSource, 0}, {"source_name", vPSourceName, 0}, {"url", vPURL, 0},
		{"referrer", vPReferrer, 0}, {"campaign_name", vPCampaignName, 0}},
	pathContext: {{"campaign", -1, pathCampaign}, {"page", -1, pathPage}, {"referrer", -1, pathReferrer}},
	pathCampaign: {{"name", vCName, 0}, {"source", vCSource, 0}, {"medium", vCMedium, 0}, {"term", vCTerm, 0},
		{"content", vCContent, 0}, {"utm_campaign", vCUTMCampaign, 0}, {"utm_source", vCUTMSource, 0},
		{"utm_medium", vCUTMMedium, 0}, {"utm_term", vCUTMTerm, 0}, {"utm_content", vCUTMContent, 0}},
	pathPage:     {{"url", vPageURL, 0}, {"referrer", vPageReferrer, 0}},
	pathReferrer: {{"url", vRefURL, 0}, {"link", vRefLink, 0}},
	pathSkip:     nil,
}

// maxDepth bounds nesting so a hostile payload cannot run the scanner deep.
const maxDepth = 256

type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads the object at s.i, storing wanted values in v. It reports
// false on malformed input.
func (s *scanner) object(v *segValues, p path) bool {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxDepth {
		return false
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		start := s.i
		end, escaped, ok := s.str()
		if !ok {
			return false
		}
		key := s.b[start+1 : end-1]
		var keyStr string
		if escaped {
			keyStr, ok = unquote(s.b[start:end])
			if !ok {
				return false
			}
			key = []byte(keyStr)
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		m := lookupMember(members[p], key)
		switch {
		case m == nil:
			if !s.skip() {
				return false
			}
		case m.slot >= 0:
			val, set, ok := s.leaf()
			if !ok {
				return false
			}
			if set {
				v[m.slot] = val
			}
		case s.b[s.i] == '{':
			if !s.object(v, m.sub) {
				return false
			}
		default: // a wanted object that is not one: ignore it
			if !s.skip() {
				return false
			}
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// lookupMember matches keys case-insensitively, as encoding/json does.
func lookupMember(ms []member, key []byte) *member {
	for i := range ms {
		if len(ms[i].key) == len(key) && equalFoldASCII(ms[i].key, key) {
			return &ms[i]
		}
	}
	return nil
}

func equalFoldASCII(want string, key []byte) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// leaf reads a value as text: strings decoded, numbers and booleans verbatim;
// objects, arrays and null are skipped (set is false).
func (s *scanner) leaf() (val string, set, ok bool) {
	switch c := s.b[s.i]; {
	case c == '"':
		start := s.i
		end, escaped, ok := s.str()
		if !ok {
			return "", false, false
		}
		body := s.b[start+1 : end-1]
		if !escaped && utf8.Valid(body) {
			return string(body), true, true
		}
		val, ok = unquote(s.b[start:end])
		return val, ok, ok
	case c == '{' || c == '[' || c == 'n':
		return "", false, s.skip()
	default:
		start := s.i
		if !s.skip() {
			return "", false, false
		}
		return string(s.b[start:s.i]), true, true
	}
}

// unquote decodes a JSON string literal with escapes or invalid UTF-8 the way
// encoding/json does (invalid bytes become U+FFFD).
func unquote(lit []byte) (string, bool) {
	var out string
	if err := json.Unmarshal(lit, &out); err != nil {
		return "", false
	}
	return out, true
}

// str scans the string at s.i and returns the index after it.
func (s *scanner) str() (end int, escaped, ok bool) {
	i := s.i + 1
	for i < len(s.b) {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return s.i, escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(s.b) {
				return 0, false, false
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) {
					return 0, false, false
				}
				for _, h := range s.b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return 0, false, false
					}
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default:
			i++
		}
	}
	return 0, false, false
}

// skip passes over one value of any kind.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{':
		return s.object(nil, pathSkip)
	case c == '[':
		s.depth++
		defer func() { s.depth-- }()
		if s.depth > maxDepth {
			return false
		}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			s.ws()
			if !s.skip() {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// number checks JSON number syntax: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (s *scanner) number() bool {
	b, i := s.b, s.i
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}

func first(vals ...string) string {
	for _, v := range vals {
		if s := strings.TrimSpace(v); s != "" {
			return s
		}
	}
	return ""
}

func pageHasCampaign(u string) bool {
	_, _, q := splitURL(u)
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if k, v, _ := strings.Cut(kv, "="); strings.EqualFold(k, "utm_campaign") && v != "" {
			return true
		}
	}
	return false
}

// String renders a Result on one line, for logs and golden files.
func (res Result) String() string {
	return "channel=" + quote(res.Channel) + " source=" + quote(res.Source) + " medium=" + quote(res.Medium) +
		" campaign=" + quote(res.Campaign) + " rule=" + quote(res.Rule)
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \"=\t") {
		return strconv.Quote(s)
	}
	return s
}
