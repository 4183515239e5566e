package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

// eventsConverter reads Segment payloads: JSONL as is, or CSV with one column per field.
type eventsConverter struct{ base }

func (c *eventsConverter) isHeader(keys map[string]int) bool { return true }
func (c *eventsConverter) wantsObjects() bool                { return false }
func (c *eventsConverter) flush(func(*unit))                 {}

// csvColumn maps Segment field names (in event.Error) back to CSV column names.
var csvColumn = map[string]string{
	"type": "type", "event": "event", "userId": "user_id", "anonymousId": "anonymous_id",
	"timestamp": "timestamp", "originalTimestamp": "timestamp", "messageId": "message_id",
	"properties": "properties", "traits": "traits", "context": "context", "name": "name",
	"previousId": "previous_id", "groupId": "group_id", "sentAt": "sent_at",
}

func (c *eventsConverter) add(r *row, emit func(*unit)) bool {
	var payload []byte
	var recv time.Time
	var perr *RowError
	if r.hdr == nil {
		payload, recv = c.jsonPayload(r.raw)
	} else {
		payload, perr = c.csvPayload(r)
	}
	u := &unit{rows: []*row{r}}
	if perr != nil {
		u.err = perr
		emit(u)
		return true
	}
	ev, err := c.normalize(payload, recv)
	if err == nil && r.hdr == nil && !bytes.Contains(r.raw, []byte(ev.MessageID)) {
		// "messageId" occurs in the line but not as a usable top-level id: Normalize made a
		// random one, which would defeat re-import. Put a content hash first instead.
		ev, err = c.normalize(withMessageID(r.raw), recv)
	}
	if err != nil {
		u.err = eventErr(r, err)
	} else {
		u.events = []event.Event{ev}
	}
	emit(u)
	return true
}

// eventErr turns a Normalize rejection into a RowError naming the column (CSV) or field (JSONL).
func eventErr(r *row, err error) *RowError {
	var ee *event.Error
	if !errors.As(err, &ee) {
		return rowErr(r, "", "%v", err)
	}
	col := ee.Field
	if r.hdr != nil {
		if c, ok := csvColumn[col]; ok {
			col = c
		}
	}
	return rowErr(r, col, "%s", ee.Reason)
}

// jsonPayload adds a messageId derived from the line when it has none, and finds the time
// the event was first received. The common case (messageId present, no sentAt) costs
// two byte searches, not a second JSON parse.
func (c *eventsConverter) jsonPayload(raw []byte) ([]byte, time.Time) {
	payload := raw
	if !bytes.Contains(raw, []byte(`"messageId"`)) {
		payload = withMessageID(raw)
	}
	var recv time.Time
	if bytes.Contains(raw, []byte(`"receivedAt"`)) || bytes.Contains(raw, []byte(`"sentAt"`)) {
		var t struct {
			ReceivedAt string `json:"receivedAt"`
			SentAt     string `json:"sentAt"`
		}
		if json.Unmarshal(raw, &t) == nil {
			for _, s := range []string{t.ReceivedAt, t.SentAt} {
				if s == "" {
					continue
				}
				if v, err := event.ParseTime(s); err == nil {
					recv = v
					break
				}
			}
		}
	}
	return payload, recv
}

// withMessageID adds "messageId":"import-<hash of the line>" as the object's last member,
// which wins over an empty or null messageId earlier in the line.
func withMessageID(raw []byte) []byte {
	t := bytes.TrimSpace(raw)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return raw
	}
	id, _ := json.Marshal(hashID("import-", string(raw)))
	body := bytes.TrimSpace(t[1 : len(t)-1])
	p := make([]byte, 0, len(t)+64)
	p = append(p, '{')
	p = append(p, body...)
	if len(body) > 0 {
		p = append(p, ',')
	}
	p = append(p, `"messageId":`...)
	p = append(p, id...)
	return append(p, '}')
}

// csvPayload builds a Segment payload from CSV columns.
func (c *eventsConverter) csvPayload(r *row) ([]byte, *RowError) {
	m := map[string]any{}
	str := func(field string, keys ...string) {
		if v, _ := r.get(keys...); v != "" {
			m[field] = v
		}
	}
	str("type", "type")
	str("event", "event")
	if _, ok := m["type"]; !ok && m["event"] != nil {
		m["type"] = "track" // a named event without a type is a track call
	}
	str("name", "name")
	str("userId", "user_id", "userid")
	str("anonymousId", "anonymous_id", "anonymousid")
	str("previousId", "previous_id")
	str("groupId", "group_id")
	if v, col := r.get("timestamp"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return nil, rowErr(r, col, "%v", err)
		}
		m["timestamp"] = event.FormatTime(t)
	}
	for _, k := range []string{"properties", "traits", "context"} {
		v, col := r.get(k)
		if v == "" {
			continue
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(v)))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return nil, rowErr(r, col, "%q is not a JSON object", v)
		}
		m[k] = obj
	}
	// email and phone columns are shortcuts for traits (identify) or context.traits (others).
	extra := map[string]any{}
	for _, k := range []string{"email", "phone"} {
		if v, _ := r.get(k); v != "" {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		target := "traits"
		if t, _ := m["type"].(string); !strings.EqualFold(t, "identify") {
			ctx, _ := m["context"].(map[string]any)
			if ctx == nil {
				ctx = map[string]any{}
				m["context"] = ctx
			}
			t, _ := ctx["traits"].(map[string]any)
			if t == nil {
				t = map[string]any{}
				ctx["traits"] = t
			}
			for k, v := range extra {
				t[k] = v
			}
		} else {
			t, _ := m[target].(map[string]any)
			if t == nil {
				t = map[string]any{}
				m[target] = t
			}
			for k, v := range extra {
				t[k] = v
			}
		}
	}
	if v, _ := r.get("message_id", "messageid"); v != "" {
		m["messageId"] = v
	} else {
		m["messageId"] = hashID("import-", rowHash(r))
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, rowErr(r, "", "cannot encode event: %v", err)
	}
	return b, nil
}
