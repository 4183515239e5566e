package privacy

// Finding a person's data: their own events (of every joined identity), other people's
// events that mention them, rejected payloads and message copies that name them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// matcher recognises a subject's identifiers in stored text.
type matcher struct {
	users, anons map[string]bool
	emails       [][]byte // lower case, plain and URL-encoded
	phones       map[string]bool
	quoted       [][]byte // userIds and anonymousIds as JSON strings
	names        [][]byte // lower case; only for message copies and rejected payloads
}

func newMatcher(s *Subject) *matcher {
	m := &matcher{users: map[string]bool{}, anons: map[string]bool{}, phones: map[string]bool{}}
	for _, u := range s.UserIDs {
		m.users[u] = true
		m.quoted = append(m.quoted, quote(u))
	}
	for _, a := range s.AnonIDs {
		m.anons[a] = true
		m.quoted = append(m.quoted, quote(a))
	}
	for _, e := range s.Emails {
		m.emails = append(m.emails, []byte(e))
		if enc := strings.ToLower(url.QueryEscape(e)); enc != e {
			m.emails = append(m.emails, []byte(enc))
		}
	}
	for _, p := range s.Phones {
		m.phones[p] = true
	}
	for _, n := range s.Names {
		if len(n) >= 5 {
			m.names = append(m.names, bytes.ToLower([]byte(n)))
		}
	}
	return m
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// mentions reports whether text names the subject: an email (any case, or URL-encoded),
// a userId or anonymousId as a JSON string, or a phone number in any spelling.
func (m *matcher) mentions(text []byte, withNames bool) bool {
	for _, q := range m.quoted {
		if bytes.Contains(text, q) {
			return true
		}
	}
	if len(m.emails) > 0 && (bytes.IndexByte(text, '@') >= 0 || bytes.Contains(text, []byte("%40"))) {
		lower := bytes.ToLower(text)
		for _, e := range m.emails {
			if bytes.Contains(lower, e) {
				return true
			}
		}
	}
	if len(m.phones) > 0 && m.hasPhone(text) {
		return true
	}
	if withNames && len(m.names) > 0 {
		lower := bytes.ToLower(text)
		for _, n := range m.names {
			if bytes.Contains(lower, n) {
				return true
			}
		}
	}
	return false
}

// hasPhone finds runs of digits and phone separators and compares each, spelled as
// identity.NormalizePhone spells numbers (+digits, a leading 00 read as +), with the
// subject's phones.
func (m *matcher) hasPhone(text []byte) bool {
	var buf [24]byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '+' && (c < '0' || c > '9') {
			continue
		}
		d := buf[:0]
		plus := c == '+'
		j := i
		if plus {
			j++
		}
	run:
		for ; j < len(text) && j-i < 40; j++ {
			switch x := text[j]; {
			case x >= '0' && x <= '9':
				if len(d) == cap(d) {
					break run
				}
				d = append(d, x)
			case x == ' ' || x == '-' || x == '(' || x == ')' || x == '.' || x == '/':
			default:
				break run
			}
		}
		if len(d) >= 6 {
			if !plus && len(d) > 2 && d[0] == '0' && d[1] == '0' {
				d, plus = d[2:], true
			}
			if plus {
				if m.phones["+"+string(d)] {
					return true
				}
			} else if m.phones[string(d)] {
				return true
			}
		}
		i = j
	}
	return false
}

// matchString reports whether one stored string value is (or contains) the subject's.
func (m *matcher) matchString(s string) bool {
	if m.users[s] || m.anons[s] {
		return true
	}
	if e := identity.NormalizeEmail(s); e != "" {
		for _, x := range m.emails {
			if string(x) == e {
				return true
			}
		}
	}
	if p := identity.NormalizePhone(s); p != "" && m.phones[p] {
		return true
	}
	return m.mentions([]byte(s), false)
}

// eventRow is one stored event as the scan reads it.
type eventRow struct {
	Seq        int64           `json:"seq"`
	SourceID   int64           `json:"source_id"`
	MessageID  string          `json:"message_id"`
	Type       string          `json:"type"`
	Name       string          `json:"name,omitempty"`
	UserID     string          `json:"user_id,omitempty"`
	AnonID     string          `json:"anonymous_id,omitempty"`
	Time       time.Time       `json:"ts"`
	ReceivedAt time.Time       `json:"received_at"`
	Body       json.RawMessage `json:"body"`
}

// scanResult splits the event log for a subject.
type scanResult struct {
	own      []eventRow // the person's events: deleted by an erasure
	mentions []eventRow // other people's events that mention them: redacted by an erasure
	maxSeq   int64
}

// derivedSeqs are the events the processor attributed to the subject's customers.
func derivedSeqs(ctx context.Context, db *store.DB, s *Subject) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(s.Customers) == 0 {
		return out, nil
	}
	in, arg := store.InInt64(db.Dialect, "customer_id", s.Customers)
	for _, q := range []string{
		`SELECT seq FROM activity WHERE ` + in,
		`SELECT seq FROM orders WHERE ` + in,
		`SELECT seq FROM refunds WHERE ` + in,
		`SELECT seq FROM identities WHERE ` + in,
	} {
		rows, err := db.Query(ctx, q, arg)
		if err != nil {
			return nil, fmt.Errorf("derived events: %w", err)
		}
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return nil, err
			}
			out[seq] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanChunk is how many events one read of the scan holds.
const scanChunk = 5000

// scanEvents reads the whole log once and sorts the subject's events from the rest. Own
// events keep their bodies; mentions too (an erasure rewrites them).
func scanEvents(ctx context.Context, db *store.DB, s *Subject, m *matcher) (*scanResult, error) {
	derived, err := derivedSeqs(ctx, db, s)
	if err != nil {
		return nil, err
	}
	res := &scanResult{}
	var after int64
	for {
		rows, err := db.Query(ctx, `SELECT seq, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body
			FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, scanChunk)
		if err != nil {
			return nil, fmt.Errorf("scan events: %w", err)
		}
		n := 0
		for rows.Next() {
			var e eventRow
			var ts, recv int64
			var body []byte
			if err := rows.Scan(&e.Seq, &e.SourceID, &e.MessageID, &e.Type, &e.Name, &e.UserID, &e.AnonID, &ts, &recv, &body); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan events: %w", err)
			}
			n++
			after = e.Seq
			uid, aid := identity.NormalizeID(e.UserID), identity.NormalizeID(e.AnonID)
			own := uid != "" && m.users[uid] || uid == "" && aid != "" && m.anons[aid] || derived[e.Seq]
			switch {
			case own:
			case aid != "" && m.anons[aid], m.mentions(body, false):
			default:
				continue
			}
			e.Time, e.ReceivedAt = time.UnixMilli(ts).UTC(), time.UnixMilli(recv).UTC()
			e.Body = append(json.RawMessage(nil), body...)
			if own {
				res.own = append(res.own, e)
			} else {
				res.mentions = append(res.mentions, e)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("scan events: %w", err)
		}
		if n < scanChunk {
			break
		}
	}
	res.maxSeq = after
	return res, nil
}

// redact replaces the subject's identifiers in a body with "[erased]".
func (m *matcher) redact(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return []byte("{}")
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			return m.redactString(x)
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
			return x
		}
		return v
	}
	v = walk(v)
	out, err := json.Marshal(v)
	if err != nil {
		return []byte("{}")
	}
	return out
}

const erased = "[erased]"

// redactValue redacts one JSON value (a trait); ok is false when nothing in it is the
// subject's.
func (m *matcher) redactValue(raw json.RawMessage) (json.RawMessage, bool) {
	if !m.mentions(raw, false) && !m.anyString(raw) {
		return raw, false
	}
	return json.RawMessage(m.redact(raw)), true
}

// anyString reports whether a string inside a JSON value matches the subject.
func (m *matcher) anyString(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case string:
			return m.matchString(x)
		case map[string]any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func (m *matcher) redactString(s string) string {
	if !m.matchString(s) {
		return s
	}
	if m.users[s] || m.anons[s] || identity.NormalizeEmail(s) != "" || identity.NormalizePhone(s) != "" {
		return erased
	}
	// Longer text mentioning an email: replace each occurrence, keep the rest.
	out := s
	for _, e := range m.emails {
		out = replaceFold(out, string(e), erased)
	}
	if m.matchString(out) {
		return erased
	}
	return out
}

func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	lower := strings.ToLower(s)
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lower[i:], old)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		b.WriteString(s[i : i+j])
		b.WriteString(repl)
		i += j + len(old)
	}
}

// ---- rejected payloads and message copies ----

type rejectedRow struct {
	ID         int64     `json:"id"`
	SourceID   int64     `json:"source_id"`
	ReceivedAt time.Time `json:"received_at"`
	Origin     string    `json:"origin"`
	Position   int64     `json:"position"`
	Reason     string    `json:"reason"`
	Body       string    `json:"body"`
}

// rejectedNaming lists the rejected payloads that name the subject (names included: a
// rejected payload is diagnostic only, and a full name in one is theirs).
func rejectedNaming(ctx context.Context, db *store.DB, m *matcher) ([]rejectedRow, error) {
	var out []rejectedRow
	var after int64
	for {
		rows, err := db.Query(ctx, `SELECT id, source_id, received_at, origin, position, reason, body FROM rejected_events WHERE id > ? ORDER BY id LIMIT ?`, after, scanChunk)
		if err != nil {
			return nil, fmt.Errorf("scan rejected events: %w", err)
		}
		n := 0
		for rows.Next() {
			var r rejectedRow
			var at int64
			if err := rows.Scan(&r.ID, &r.SourceID, &at, &r.Origin, &r.Position, &r.Reason, &r.Body); err != nil {
				rows.Close()
				return nil, err
			}
			n++
			after = r.ID
			if m.mentions([]byte(r.Body), true) || m.mentions([]byte(r.Reason), true) {
				r.ReceivedAt = time.UnixMilli(at).UTC()
				out = append(out, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if n < scanChunk {
			return out, nil
		}
	}
}

// OutboxDir is where journey senders in the demo (and any file-writing relay set up the
// same way) keep message copies: DATA/outbox/{email,sms,push}/<idempotency key>.{eml,json}.
const OutboxDir = "outbox"

// outboxName is the file name the demo outbox gives a send's idempotency key
// (internal/demo/demojourney, safeName).
func outboxName(key string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, key)
}

// messageFile is one message copy on disk.
type messageFile struct {
	Path    string `json:"path"`
	Channel string `json:"channel"`
	Content string `json:"content,omitempty"`
}

// outboxFiles finds the message copies of the subject: those named by their sends'
// idempotency keys, and any other that names their email, phone or ids.
func outboxFiles(dataDir string, keys []string, m *matcher, withContent bool) ([]messageFile, error) {
	if dataDir == "" {
		return nil, nil
	}
	root := filepath.Join(dataDir, OutboxDir)
	mine := map[string]bool{}
	for _, k := range keys {
		mine[outboxName(k)] = true
	}
	var out []messageFile
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		base := strings.TrimSuffix(d.Name(), filepath.Ext(d.Name()))
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !mine[base] && !m.mentions(b, false) {
			return nil
		}
		f := messageFile{Path: path, Channel: filepath.Base(filepath.Dir(path))}
		if withContent {
			f.Content = string(b)
		}
		out = append(out, f)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return out, fmt.Errorf("outbox: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
