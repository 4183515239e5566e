// Package event defines the stored event, the source of truth of omniroi, and turns
// Segment Tracking API payloads into it.
//
// Everything else (customers, identities, channels, orders) is derived from events
// and can be rebuilt from them.
package event

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	// ClientIP is the address the collection API saw the request come from (behind a
	// trusted proxy, from X-Forwarded-For); "" for imports and omniroi's own events.
	ClientIP string
	// Notice says what Normalize left out of an accepted event (trait keys over the
	// limit), for the reply; "" normally. It is not stored.
	Notice string
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

// NewMessageID returns a random message id for events that came without one.
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "omniroi-" + hex.EncodeToString(b[:])
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
