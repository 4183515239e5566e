package event

import (
	"fmt"
	"time"
)

// Batch is a parsed /v1/batch (or /v1/import) request body.
type Batch struct {
	Items        [][]byte // raw bytes of each item, sub-slices of the body
	SentAt       time.Time
	Context      []byte // batch-level context object, merged into each item
	Integrations []byte
	WriteKey     string
}

// ErrTooManyEvents names the per-request event limit.
var ErrTooManyEvents = &Error{Field: "batch", Reason: fmt.Sprintf("more than %d events in one request (the limit per batch)", MaxBatchEvents)}

// ParseBatch validates a batch body and splits it into items without decoding them.
// A syntax error anywhere fails the whole request (item boundaries are unknown past
// it); an item that is valid JSON but a bad event is left for Normalize to reject.
func ParseBatch(body []byte) (Batch, error) {
	var b Batch
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return b, &Error{Reason: "the request body must be a JSON object with a batch array"}
	}
	sawBatch := false
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			if i >= len(body) || body[i] != '"' {
				return b, syntax(synErr(i, "object key must be a string"))
			}
			m := member{ks: i}
			end, esc, err := scanString(body, i)
			if err != nil {
				return b, syntax(err)
			}
			m.ke, m.escaped = end, esc
			i = skipWS(body, end)
			if i >= len(body) || body[i] != ':' {
				return b, syntax(synErr(i, "missing ':' after object key"))
			}
			i = skipWS(body, i+1)
			m.vs = i
			key := m.key(body)
			if key == "batch" && i < len(body) && body[i] == '[' {
				// Split and validate the items in one pass.
				sawBatch = true
				b.Items = b.Items[:0]
				if i, err = b.scanItems(body, i); err != nil {
					return b, err
				}
			} else if i, err = scanValue(body, i, 1); err != nil {
				return b, syntax(err)
			}
			m.ve = i
			if key != "batch" {
				if err := b.setMember(key, body[m.vs:m.ve]); err != nil {
					return b, err
				}
			} else if body[m.vs] != '[' {
				// Not an array, even after an earlier batch array: the last member wins,
				// as encoding/json reads duplicates.
				return b, &Error{Field: "batch", Reason: "must be an array of events"}
			}
			i = skipWS(body, i)
			if i >= len(body) {
				return b, syntax(synErr(i, "unterminated object"))
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return b, syntax(synErr(i, "expected ',' or '}' in object"))
			}
			i = skipWS(body, i+1)
		}
	}
	if skipWS(body, i) != len(body) {
		return b, syntax(synErr(i, "data after the JSON object"))
	}
	if !sawBatch {
		return b, &Error{Field: "batch", Reason: "missing; send {\"batch\": [event, ...]}"}
	}
	return b, nil
}

func syntax(err error) error { return &Error{Reason: err.Error()} }

func (b *Batch) scanItems(body []byte, i int) (int, error) {
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == ']' {
		return i + 1, nil
	}
	if b.Items == nil {
		b.Items = make([][]byte, 0, 128)
	}
	for {
		end, err := scanValue(body, i, 2)
		if err != nil {
			return 0, syntax(err)
		}
		if len(b.Items) == MaxBatchEvents {
			return 0, ErrTooManyEvents
		}
		b.Items = append(b.Items, body[i:end])
		i = skipWS(body, end)
		if i >= len(body) {
			return 0, syntax(synErr(i, "unterminated array"))
		}
		if body[i] == ']' {
			return i + 1, nil
		}
		if body[i] != ',' {
			return 0, syntax(synErr(i, "expected ',' or ']' in array"))
		}
		i = skipWS(body, i+1)
	}
}

func (b *Batch) setMember(key string, v []byte) error {
	var err error
	switch key {
	case "sentAt":
		s, err := strField(v, "sentAt")
		if err != nil {
			return err
		}
		if s != "" {
			if b.SentAt, err = ParseTime(s); err != nil {
				return &Error{Field: "sentAt", Reason: fmt.Sprintf("%q is not an ISO-8601 date-time", s)}
			}
		}
	case "context", "integrations":
		if !isObjectOrNull(v) {
			return &Error{Field: key, Reason: "must be an object"}
		}
		if v[0] != '{' {
			v = nil
		}
		if key == "context" {
			b.Context = v
		} else {
			b.Integrations = v
		}
	case "writeKey":
		b.WriteKey, err = strField(v, "writeKey")
	}
	return err
}

// WriteKey returns the top-level "writeKey" string of a single-event body, or "".
func WriteKey(raw []byte) string {
	mp := getMembers()
	defer putMembers(mp)
	ms, err := parseObject(raw, *mp)
	*mp = ms
	if err != nil {
		return ""
	}
	key := ""
	for _, m := range ms {
		if m.keyIs(raw, "writeKey") {
			key, _ = strField(raw[m.vs:m.ve], "writeKey")
		}
	}
	return key
}
