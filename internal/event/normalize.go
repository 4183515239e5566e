package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Input is what Normalize knows about a payload besides its bytes.
type Input struct {
	// TypeHint is the call type implied by the route (/v1/track → "track"), or "" for
	// batch items, which carry their own type.
	TypeHint string
	// ReceivedAt is the server's clock when the request arrived.
	ReceivedAt time.Time
	// BatchSentAt is the batch's sentAt, used when the item has none.
	BatchSentAt time.Time
	// BatchContext and BatchIntegrations are the batch-level "context" and
	// "integrations" objects (analytics-go puts its library there); their keys are
	// added to each event that lacks them.
	BatchContext      []byte
	BatchIntegrations []byte
	// Now is the server's clock the timestamp is checked against; zero: ReceivedAt (an
	// import of a Segment archive keeps the archive's ReceivedAt and passes the import's
	// time here).
	Now time.Time
	// MaxFuture is how far ahead of Now a timestamp may be; 0: DefaultMaxFuture.
	MaxFuture time.Duration
}

// Normalize validates one Segment payload and builds the Event to store.
//
// typeHint is the call type implied by the route (/v1/track → "track"), or "" for
// batch items, which carry their own type. batchSentAt is the batch's sentAt, used
// when the item has none. receivedAt is the server's clock when the request arrived.
func Normalize(raw []byte, typeHint string, receivedAt time.Time, batchSentAt time.Time) (Event, error) {
	in := Input{TypeHint: typeHint, ReceivedAt: receivedAt, BatchSentAt: batchSentAt}
	return in.Normalize(raw)
}

var memberPool = sync.Pool{New: func() any { s := make([]member, 0, 32); return &s }}

func getMembers() *[]member { return memberPool.Get().(*[]member) }

func putMembers(p *[]member) {
	if cap(*p) <= 1024 {
		*p = (*p)[:0]
		memberPool.Put(p)
	}
}

// field indices into the member list; -1 when absent. Duplicate keys: the last wins,
// as in encoding/json and PostgreSQL's jsonb.
type fields struct {
	typ, messageID, userID, anonymousID, timestamp, origTimestamp, sentAt int
	event, name, previousID, groupID, context, integrations               int
	properties, traits                                                    int
}

// Normalize validates one Segment payload and builds the Event to store.
//
// The stored body keeps every member the client sent, byte for byte and in order,
// and then sets type, messageId, userId/anonymousId (as strings), originalTimestamp,
// sentAt, receivedAt and the clock-skew corrected timestamp. writeKey is dropped.
func (in *Input) Normalize(raw []byte) (Event, error) {
	var ev Event
	if len(raw) > MaxEventBytes {
		return ev, reject("", "event is %d bytes, over the 32 KB limit per event", len(raw))
	}
	mp := getMembers()
	defer putMembers(mp)
	ms, err := parseObject(raw, *mp)
	*mp = ms
	if err != nil {
		if e, ok := err.(*Error); ok {
			return ev, e
		}
		return ev, reject("", "%v", err)
	}

	f := fields{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	for i := range ms {
		m := &ms[i]
		var k string
		if m.escaped {
			k = m.key(raw)
		} else {
			k = unsafeString(raw[m.ks+1 : m.ke-1])
		}
		m.role = roleDrop // replaced by what Normalize writes, or never kept
		switch k {
		case "type":
			f.typ = i
		case "messageId":
			f.messageID = i
		case "userId":
			f.userID = i
		case "anonymousId":
			f.anonymousID = i
		case "timestamp":
			f.timestamp = i
		case "originalTimestamp":
			f.origTimestamp = i
		case "sentAt":
			f.sentAt = i
		case "receivedAt", "writeKey":
		default:
			m.role = roleKeep
		}
		switch k {
		case "event":
			f.event = i
		case "name":
			f.name = i
		case "previousId":
			f.previousID = i
		case "groupId":
			f.groupID = i
		case "context":
			f.context = i
			m.role = roleContext
		case "integrations":
			f.integrations = i
			m.role = roleIntegrations
		case "properties", "traits":
			if !isObjectOrNull(raw[m.vs:m.ve]) {
				return ev, reject(strings.Clone(k), "must be an object")
			}
			if k == "properties" {
				f.properties = i
			} else {
				f.traits = i
			}
		}
	}
	get := func(i int) []byte {
		if i < 0 {
			return nil
		}
		return raw[ms[i].vs:ms[i].ve]
	}

	var typ string
	if tv := get(f.typ); len(tv) > 1 && tv[0] == '"' && bytes.IndexByte(tv, '\\') < 0 {
		typ = unsafeString(tv[1 : len(tv)-1]) // compared, then replaced by a constant
	} else if typ, err = strField(tv, "type"); err != nil {
		return ev, err
	}
	if in.TypeHint != "" {
		if typ != "" && !strings.EqualFold(typ, in.TypeHint) {
			return ev, reject("type", "%q does not match the %s endpoint", strings.Clone(typ), in.TypeHint)
		}
		typ = in.TypeHint
	}
	switch strings.ToLower(typ) {
	case Track:
		ev.Type = Track
	case Identify:
		ev.Type = Identify
	case Page:
		ev.Type = Page
	case Screen:
		ev.Type = Screen
	case Group:
		ev.Type = Group
	case Alias:
		ev.Type = Alias
	case "":
		return ev, reject("type", "missing; batch items need one of track, identify, page, screen, group, alias")
	default:
		return ev, reject("type", "%q is not one of track, identify, page, screen, group, alias", strings.Clone(typ))
	}

	if ev.UserID, err = idField(get(f.userID), "userId"); err != nil {
		return ev, err
	}
	if ev.AnonymousID, err = idField(get(f.anonymousID), "anonymousId"); err != nil {
		return ev, err
	}
	if ev.UserID == "" && ev.AnonymousID == "" {
		return ev, reject("userId", "either userId or anonymousId is required")
	}
	if len(ev.UserID) > 1024 || len(ev.AnonymousID) > 1024 {
		return ev, reject("userId", "identifier longer than 1024 bytes")
	}

	switch ev.Type {
	case Track:
		if ev.Name, err = strField(get(f.event), "event"); err != nil {
			return ev, err
		}
		if strings.TrimSpace(ev.Name) == "" {
			return ev, reject("event", "track calls need a non-empty event name")
		}
	case Page, Screen:
		if ev.Name, err = strField(get(f.name), "name"); err != nil {
			return ev, err
		}
	case Alias:
		prev, err := idField(get(f.previousID), "previousId")
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
		g, err := idField(get(f.groupID), "groupId")
		if err != nil {
			return ev, err
		}
		if g == "" {
			return ev, reject("groupId", "group calls need groupId")
		}
	}
	if len(ev.Name) > 1024 {
		return ev, reject("event", "name longer than 1024 bytes")
	}
	ctx, integ := get(f.context), get(f.integrations)
	if ctx != nil && !isObjectOrNull(ctx) {
		return ev, reject("context", "must be an object")
	}
	if integ != nil && !isObjectOrNull(integ) {
		return ev, reject("integrations", "must be an object")
	}

	if ev.MessageID, err = strField(get(f.messageID), "messageId"); err != nil {
		return ev, err
	}
	if utf8.RuneCountInString(ev.MessageID) > MaxMessageIDChars {
		return ev, reject("messageId", "longer than %d characters", MaxMessageIDChars)
	}
	if ev.MessageID == "" {
		ev.MessageID = NewMessageID()
	}

	// Segment's clock-skew correction: timestamp = receivedAt - (sentAt - originalTimestamp),
	// where originalTimestamp is the client's timestamp. Without sentAt the client's
	// timestamp is taken as is (imports); without either, the server's clock.
	origField := f.origTimestamp
	if origField < 0 {
		origField = f.timestamp
	}
	origName := "originalTimestamp"
	if f.origTimestamp < 0 {
		origName = "timestamp"
	}
	orig, err := timeField(get(origField), origName)
	if err != nil {
		return ev, err
	}
	sent, err := timeField(get(f.sentAt), "sentAt")
	if err != nil {
		return ev, err
	}
	if sent.IsZero() {
		sent = in.BatchSentAt
	}
	// Bodies and columns keep milliseconds: the correction uses exactly the times the body
	// shows, so that the body normalised again gives the same timestamp.
	orig, sent = orig.Truncate(time.Millisecond), sent.Truncate(time.Millisecond)
	ev.ReceivedAt = in.ReceivedAt.UTC().Truncate(time.Millisecond)
	switch {
	case !orig.IsZero() && !sent.IsZero():
		ev.Timestamp = ev.ReceivedAt.Add(-sent.Sub(orig)).UTC()
	case !orig.IsZero():
		ev.Timestamp = orig.UTC()
	default:
		ev.Timestamp = ev.ReceivedAt
	}
	if err := in.checkTime(ev.Timestamp, origName); err != nil {
		return ev, err
	}
	if ev.Type == Track {
		if err := checkMoney(get(f.properties)); err != nil {
			return ev, err
		}
	}
	// Oversized traits objects lose the keys past MaxTraitKeys; the event is kept.
	traits, droppedTraits := capTraits(get(f.traits), MaxTraitKeys)
	ctx, droppedCtx := capContextTraits(ctx, MaxTraitKeys)
	batchCtx, droppedBatch := capContextTraits(in.BatchContext, MaxTraitKeys)
	if droppedCtx == 0 && !bytes.Contains(ctx, []byte(`"traits"`)) {
		droppedCtx = droppedBatch // the event's own context.traits would win over the batch's
	}
	switch {
	case droppedTraits > 0 && droppedCtx > 0:
		ev.Notice = fmt.Sprintf("traits and context.traits over the %d keys allowed per call: accepted without the last %d and %d", MaxTraitKeys, droppedTraits, droppedCtx)
	case droppedTraits > 0:
		ev.Notice = fmt.Sprintf("traits has %d keys, over the %d allowed per call: accepted without the last %d", MaxTraitKeys+droppedTraits, MaxTraitKeys, droppedTraits)
	case droppedCtx > 0:
		ev.Notice = fmt.Sprintf("context.traits has %d keys, over the %d allowed per call: accepted without the last %d", MaxTraitKeys+droppedCtx, MaxTraitKeys, droppedCtx)
	}

	// Build the stored body: the client's members minus the ones set here.
	out := make([]byte, 0, len(raw)+len(in.BatchContext)+len(in.BatchIntegrations)+256)
	out = append(out, '{')
	mergeCtx := len(in.BatchContext) > 0
	mergeInteg := len(in.BatchIntegrations) > 0
	for i := range ms {
		m := ms[i]
		switch {
		case m.role == roleDrop,
			m.role == roleContext && mergeCtx,
			m.role == roleIntegrations && mergeInteg:
			continue // written below (duplicates included), or never kept
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, raw[m.ks:m.ke]...)
		out = append(out, ':')
		switch i {
		case f.traits:
			out = append(out, traits...)
		case f.context:
			out = append(out, ctx...)
		default:
			out = append(out, raw[m.vs:m.ve]...)
		}
	}
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"type":"`...)
	out = append(out, ev.Type...)
	out = append(out, `","messageId":`...)
	out = appendJSONString(out, ev.MessageID)
	if ev.UserID != "" {
		out = append(out, `,"userId":`...)
		out = appendJSONString(out, ev.UserID)
	}
	if ev.AnonymousID != "" {
		out = append(out, `,"anonymousId":`...)
		out = appendJSONString(out, ev.AnonymousID)
	}
	if !orig.IsZero() {
		out = append(out, `,"originalTimestamp":`...)
		out = appendTime(out, orig)
	}
	if !sent.IsZero() && !orig.IsZero() {
		// sentAt only beside the client time it corrected: alone, it would make the stored
		// "timestamp" look like a client time to correct again when the body is imported.
		out = append(out, `,"sentAt":`...)
		out = appendTime(out, sent)
	}
	out = append(out, `,"receivedAt":`...)
	out = appendTime(out, ev.ReceivedAt)
	out = append(out, `,"timestamp":`...)
	out = appendTime(out, ev.Timestamp)
	if mergeCtx {
		out = append(out, `,"context":`...)
		out = mergeObjects(out, ctx, batchCtx)
	}
	if mergeInteg {
		out = append(out, `,"integrations":`...)
		out = mergeObjects(out, integ, in.BatchIntegrations)
	}
	out = append(out, '}')
	if !utf8.Valid(out) {
		// Invalid bytes can only sit inside strings; PostgreSQL refuses them in TEXT.
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	ev.Body = out
	return ev, nil
}

// mergeObjects writes ev (an object or null/absent) with the members of batch whose
// keys ev lacks. Both were validated by the scanner.
func mergeObjects(out, ev, batch []byte) []byte {
	bp, ep := getMembers(), getMembers()
	defer putMembers(bp)
	defer putMembers(ep)
	bms, _, err := scanObject(batch, skipWS(batch, 0), *bp)
	*bp = bms
	if err != nil { // not an object: nothing to merge
		bms = nil
	}
	var ems []member
	if len(ev) > 0 && ev[0] == '{' {
		ems, _, _ = scanObject(ev, 0, *ep)
		*ep = ems
	}
	out = append(out, '{')
	n := 0
	for _, m := range ems {
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, ev[m.ks:m.ve]...)
		n++
	}
outer:
	for _, bm := range bms {
		for _, em := range ems {
			if sameKey(ev, em, batch, bm) {
				continue outer
			}
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, batch[bm.ks:bm.ve]...)
		n++
	}
	return append(out, '}')
}

// sameKey compares two members' keys, without allocating when neither is escaped.
func sameKey(a []byte, am member, b []byte, bm member) bool {
	if !am.escaped && !bm.escaped {
		return string(a[am.ks:am.ke]) == string(b[bm.ks:bm.ke])
	}
	return am.key(a) == bm.key(b)
}

func isObjectOrNull(v []byte) bool {
	return len(v) > 0 && (v[0] == '{' || v[0] == 'n')
}

// strField decodes a string member; absent and null are "".
func strField(v []byte, field string) (string, error) {
	if len(v) == 0 || v[0] == 'n' {
		return "", nil
	}
	if v[0] != '"' {
		return "", reject(field, "must be a string")
	}
	return decodeString(v, field)
}

// idField accepts strings and numbers: some SDKs send numeric user ids.
func idField(v []byte, field string) (string, error) {
	if len(v) == 0 || v[0] == 'n' {
		return "", nil
	}
	if v[0] == '"' {
		return decodeString(v, field)
	}
	if v[0] == '-' || isDigit(v[0]) {
		return string(v), nil // validated as a JSON number by the scanner
	}
	return "", reject(field, "must be a string or a number")
}

func decodeString(v []byte, field string) (string, error) {
	var s string
	if bytes.IndexByte(v, '\\') < 0 {
		s = string(v[1 : len(v)-1])
	} else {
		var err error
		if s, err = unescape(v, field); err != nil {
			return "", err
		}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", reject(field, "must not contain NUL characters")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s, nil
}

// unescape is apart from decodeString so that only escaped strings pay for the
// heap-allocated target json.Unmarshal needs.
func unescape(v []byte, field string) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", reject(field, "must be a string")
	}
	return s, nil
}

func timeField(v []byte, name string) (time.Time, error) {
	if len(v) == 0 || v[0] == 'n' {
		return time.Time{}, nil
	}
	var s string
	if v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		s = unsafeString(v[1 : len(v)-1]) // parsed, not kept: no copy
	} else {
		var err error
		if s, err = strField(v, name); err != nil {
			return time.Time{}, err
		}
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, reject(name, "%q is not an ISO-8601 date-time", strings.Clone(s))
	}
	if t.IsZero() {
		// 0001-01-01T00:00:00Z would read as "no time" below.
		return time.Time{}, reject(name, "%s is before 1990-01-01: no event can be that old", strings.Clone(s))
	}
	return t, nil
}

// appendTime writes t as FormatTime does, without the layout interpreter (it showed
// at a fifth of Normalize's time in the profile).
func appendTime(out []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		out = append(out, '"')
		out = t.AppendFormat(out, "2006-01-02T15:04:05.000Z")
		return append(out, '"')
	}
	h, mi, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(out, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
}

// appendJSONString quotes s; the ids it sees are nearly always plain ASCII.
func appendJSONString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b, _ := json.Marshal(s)
			return append(out, b...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}
