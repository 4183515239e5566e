// Package event defines the stored event, the source of truth of omniroi, and turns
// Segment Tracking API payloads into it.
//
// Everything else (customers, identities, channels, orders) is derived from events
// and can be rebuilt from them.
package event

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Call types accepted by the Segment Tracking API.
const (
	Track    = "track"
	Identify = "identify"
	Page     = "page"
	Screen   = "screen"
	Group    = "group"
	Alias    = "alias"
)

// Limits the Segment HTTP Tracking API documents.
const (
	MaxEventBytes     = 32 * 1024
	MaxBatchBytes     = 500 * 1024
	MaxBatchEvents    = 2500
	MaxMessageIDChars = 100
)

// Event is one stored event. Body is the normalised Segment payload as JSON: it keeps
// every field the client sent and adds messageId, type, originalTimestamp, sentAt,
// receivedAt and the derived timestamp.
type Event struct {
	Seq         int64 // position in the append-only log, assigned by the store
	SourceID    int64
	MessageID   string
	Type        string
	Name        string // track event name, or page/screen name
	UserID      string
	AnonymousID string
	Timestamp   time.Time // clock-skew corrected event time
	ReceivedAt  time.Time
	Body        []byte
}

// Error is a rejection of one event, with the reason a client can act on.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func reject(field, format string, args ...any) error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Normalize validates one Segment payload and builds the Event to store.
//
// typeHint is the call type implied by the route (/v1/track → "track"), or "" for
// batch items, which carry their own type. batchSentAt is the batch's sentAt, used
// when the item has none. receivedAt is the server's clock when the request arrived.
func Normalize(raw []byte, typeHint string, receivedAt time.Time, batchSentAt time.Time) (Event, error) {
	var ev Event
	if len(raw) > MaxEventBytes {
		return ev, reject("", "event is %d bytes, over the 32 KB limit per event", len(raw))
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return ev, reject("", "invalid JSON: %v", err)
	}
	if m == nil {
		return ev, reject("", "event must be a JSON object")
	}

	typ, err := optString(m, "type")
	if err != nil {
		return ev, err
	}
	typ = strings.ToLower(typ)
	if typeHint != "" {
		if typ != "" && typ != typeHint {
			return ev, reject("type", "%q does not match the %s endpoint", typ, typeHint)
		}
		typ = typeHint
	}
	switch typ {
	case Track, Identify, Page, Screen, Group, Alias:
	case "":
		return ev, reject("type", "missing; batch items need one of track, identify, page, screen, group, alias")
	default:
		return ev, reject("type", "%q is not one of track, identify, page, screen, group, alias", typ)
	}
	ev.Type = typ

	if ev.UserID, err = idString(m, "userId"); err != nil {
		return ev, err
	}
	if ev.AnonymousID, err = idString(m, "anonymousId"); err != nil {
		return ev, err
	}
	if ev.UserID == "" && ev.AnonymousID == "" {
		return ev, reject("userId", "either userId or anonymousId is required")
	}
	if len(ev.UserID) > 1024 || len(ev.AnonymousID) > 1024 {
		return ev, reject("userId", "identifier longer than 1024 bytes")
	}

	switch typ {
	case Track:
		if ev.Name, err = optString(m, "event"); err != nil {
			return ev, err
		}
		if strings.TrimSpace(ev.Name) == "" {
			return ev, reject("event", "track calls need a non-empty event name")
		}
	case Page, Screen:
		if ev.Name, err = optString(m, "name"); err != nil {
			return ev, err
		}
	case Alias:
		prev, err := idString(m, "previousId")
		if err != nil {
			return ev, err
		}
		if prev == "" {
			return ev, reject("previousId", "alias calls need previousId")
		}
		if ev.UserID == "" {
			return ev, reject("userId", "alias calls need userId")
		}
	case Group:
		g, err := idString(m, "groupId")
		if err != nil {
			return ev, err
		}
		if g == "" {
			return ev, reject("groupId", "group calls need groupId")
		}
	}
	for _, k := range []string{"properties", "traits", "context", "integrations"} {
		if v, ok := m[k]; ok && !isObjectOrNull(v) {
			return ev, reject(k, "must be an object")
		}
	}

	if ev.MessageID, err = optString(m, "messageId"); err != nil {
		return ev, err
	}
	if len([]rune(ev.MessageID)) > MaxMessageIDChars {
		return ev, reject("messageId", "longer than %d characters", MaxMessageIDChars)
	}
	if ev.MessageID == "" {
		ev.MessageID = NewMessageID()
	}

	// Segment's clock-skew correction: timestamp = receivedAt - (sentAt - originalTimestamp).
	orig, err := optTime(m, "originalTimestamp")
	if err != nil {
		return ev, err
	}
	if orig.IsZero() {
		if orig, err = optTime(m, "timestamp"); err != nil {
			return ev, err
		}
	}
	sent, err := optTime(m, "sentAt")
	if err != nil {
		return ev, err
	}
	if sent.IsZero() {
		sent = batchSentAt
	}
	ev.ReceivedAt = receivedAt.UTC()
	switch {
	case !orig.IsZero() && !sent.IsZero():
		ev.Timestamp = receivedAt.Add(-sent.Sub(orig)).UTC()
	case !orig.IsZero():
		ev.Timestamp = orig.UTC()
	default:
		ev.Timestamp = receivedAt.UTC()
	}

	delete(m, "writeKey")
	setString(m, "type", ev.Type)
	setString(m, "messageId", ev.MessageID)
	setTime(m, "receivedAt", ev.ReceivedAt)
	setTime(m, "timestamp", ev.Timestamp)
	if !orig.IsZero() {
		setTime(m, "originalTimestamp", orig)
	}
	if !sent.IsZero() {
		setTime(m, "sentAt", sent)
	}
	if ev.UserID != "" {
		setString(m, "userId", ev.UserID)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return ev, reject("", "cannot encode event: %v", err)
	}
	ev.Body = body
	return ev, nil
}

// NewMessageID returns a random message id for events that came without one.
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "omniroi-" + hex.EncodeToString(b[:])
}

func optString(m map[string]json.RawMessage, k string) (string, error) {
	v, ok := m[k]
	if !ok || isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", reject(k, "must be a string")
	}
	return s, nil
}

// idString accepts strings and numbers: some SDKs send numeric user ids.
func idString(m map[string]json.RawMessage, k string) (string, error) {
	v, ok := m[k]
	if !ok || isNull(v) {
		return "", nil
	}
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", reject(k, "must be a string")
		}
		return s, nil
	}
	if _, err := strconv.ParseFloat(string(v), 64); err == nil {
		return string(v), nil
	}
	return "", reject(k, "must be a string or a number")
}

func optTime(m map[string]json.RawMessage, k string) (time.Time, error) {
	s, err := optString(m, k)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, reject(k, "%q is not an ISO-8601 date-time", s)
	}
	return t, nil
}

// ParseTime accepts the ISO-8601 forms SDKs send: RFC 3339 with or without
// fractional seconds, and a date-time without a zone (taken as UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an ISO-8601 date-time")
}

// FormatTime is the one time format written into stored bodies.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func setString(m map[string]json.RawMessage, k, v string) {
	b, _ := json.Marshal(v)
	m[k] = b
}

func setTime(m map[string]json.RawMessage, k string, t time.Time) {
	m[k] = json.RawMessage(`"` + FormatTime(t) + `"`)
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func isObjectOrNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '{' || isNull(v))
}
