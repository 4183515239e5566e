package event

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// A hand-written JSON scanner: Normalize validates each event once and copies the
// members it keeps byte for byte, instead of decoding into a map and marshalling it
// again (which cost two full passes and an allocation per member; see
// docs/benchmarks.md, "Collection API" for the profile).

// maxDepth bounds nesting, so a hostile payload cannot grow the Go stack without limit.
const maxDepth = 512

// syntaxError reports where a payload stops being JSON.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func synErr(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanString validates the string starting at b[i] == '"' and returns the index after
// its closing quote, and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++ // opening quote
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, synErr(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, synErr(i, "short \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, false, synErr(i, "bad \\u escape")
					}
				}
				i += 6
			default:
				return 0, false, synErr(i, "bad escape")
			}
		case c < 0x20:
			return 0, false, synErr(i, "control character in string")
		default:
			i++
		}
	}
	return 0, false, synErr(i, "unterminated string")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber validates a JSON number at b[i].
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, synErr(start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, synErr(start, "bad number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, synErr(start, "bad number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, synErr(i, "unexpected character")
	}
	return i + len(lit), nil
}

// scanValue validates the JSON value starting at b[i] (no leading space) and returns
// the index just after it.
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, synErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		if depth >= maxDepth {
			return 0, synErr(i, "nested too deeply")
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, synErr(i, "object key must be a string")
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, synErr(i, "missing ':' after object key")
			}
			i = skipWS(b, i+1)
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, synErr(i, "unterminated object")
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, synErr(i, "expected ',' or '}' in object")
			}
			i = skipWS(b, i+1)
		}
	case c == '[':
		if depth >= maxDepth {
			return 0, synErr(i, "nested too deeply")
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, synErr(i, "unterminated array")
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, synErr(i, "expected ',' or ']' in array")
			}
			i = skipWS(b, i+1)
		}
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	default:
		return 0, synErr(i, "unexpected character")
	}
}

// Valid reports whether b is one JSON value, as encoding/json.Valid does.
func Valid(b []byte) bool {
	i := skipWS(b, 0)
	end, err := scanValue(b, i, 0)
	return err == nil && skipWS(b, end) == len(b)
}

// member is one key/value pair of a JSON object, as offsets into the object's bytes.
type member struct {
	ks, ke  int // key, quotes included
	vs, ve  int // value
	escaped bool
	role    byte // what Normalize does with it: roleKeep, roleDrop, roleContext, roleIntegrations
}

const (
	roleKeep byte = iota
	roleDrop
	roleContext
	roleIntegrations
)

func (m member) key(b []byte) string {
	if !m.escaped {
		return string(b[m.ks+1 : m.ke-1])
	}
	var s string
	_ = json.Unmarshal(b[m.ks:m.ke], &s) // validated by scanString
	return s
}

// keyIs compares without allocating for the usual unescaped key.
func (m member) keyIs(b []byte, k string) bool {
	if !m.escaped {
		return string(b[m.ks+1:m.ke-1]) == k
	}
	return m.key(b) == k
}

// scanObject validates the object b[i:] and appends its members to ms. It returns the
// index after the closing brace.
func scanObject(b []byte, i int, ms []member) ([]member, int, error) {
	if i >= len(b) || b[i] != '{' {
		return ms, 0, errNotObject
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return ms, i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return ms, 0, synErr(i, "object key must be a string")
		}
		var m member
		m.ks = i
		end, esc, err := scanString(b, i)
		if err != nil {
			return ms, 0, err
		}
		m.ke, m.escaped = end, esc
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return ms, 0, synErr(i, "missing ':' after object key")
		}
		i = skipWS(b, i+1)
		m.vs = i
		if i, err = scanValue(b, i, 1); err != nil {
			return ms, 0, err
		}
		m.ve = i
		ms = append(ms, m)
		i = skipWS(b, i)
		if i >= len(b) {
			return ms, 0, synErr(i, "unterminated object")
		}
		if b[i] == '}' {
			return ms, i + 1, nil
		}
		if b[i] != ',' {
			return ms, 0, synErr(i, "expected ',' or '}' in object")
		}
		i = skipWS(b, i+1)
	}
}

var errNotObject = &Error{Reason: "event must be a JSON object"}

// parseObject parses b as exactly one JSON object, nothing after it.
func parseObject(b []byte, ms []member) ([]member, error) {
	i := skipWS(b, 0)
	if i >= len(b) {
		return ms, synErr(i, "empty body")
	}
	if b[i] != '{' {
		if _, err := scanValue(b, i, 0); err != nil {
			return ms, err
		}
		return ms, errNotObject
	}
	ms, end, err := scanObject(b, i, ms)
	if err != nil {
		return ms, err
	}
	if skipWS(b, end) != len(b) {
		return ms, synErr(end, "data after the JSON object")
	}
	return ms, nil
}

// unsafeString views b as a string for comparisons that do not outlive b.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
