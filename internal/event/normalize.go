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
//
// The steps run in a fixed order, and the first one to fail gives the error: parse
// the object, index its members, then check the type, the identifiers, the fields the
// type requires, context and integrations, the messageId, the times and the money,
// and last cap the traits and write the stored body.
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
	n := normalizer{in: in, raw: raw, ms: ms}
	if err := n.indexFields(); err != nil {
		return ev, err
	}
	if ev.Type, err = in.callType(n.get(n.f.typ)); err != nil {
		return ev, err
	}
	if err := n.checkIDs(&ev); err != nil {
		return ev, err
	}
	if err := n.checkCallFields(&ev); err != nil {
		return ev, err
	}
	if err := n.checkObjects(); err != nil {
		return ev, err
	}
	if ev.MessageID, err = messageID(n.get(n.f.messageID)); err != nil {
		return ev, err
	}
	if err := n.stamp(&ev); err != nil {
		return ev, err
	}
	if ev.Type == Track {
		if err := checkMoney(n.get(n.f.properties)); err != nil {
			return ev, err
		}
	}
	ev.Notice = n.capTraits()
	ev.Body = n.body(&ev)
	return ev, nil
}

// normalizer holds one payload while Normalize works through its steps: the raw
// bytes, their members, where the known fields sit, and what the steps derive.
type normalizer struct {
	in  *Input
	raw []byte
	ms  []member
	f   fields
	// ctx and integ are the event's context and integrations (nil when absent);
	// capTraits replaces ctx with its capped copy and sets traits and batchCtx.
	ctx, integ, traits, batchCtx []byte
	// orig and sent are the client's time and sentAt, truncated to milliseconds.
	orig, sent time.Time
}

// get returns the value of member i, or nil when i is -1 (absent).
func (n *normalizer) get(i int) []byte {
	if i < 0 {
		return nil
	}
	return n.raw[n.ms[i].vs:n.ms[i].ve]
}

// indexFields records where each known field sits (the last duplicate wins), marks
// each member as kept, dropped (set by Normalize, or writeKey) or merged (context,
// integrations), and rejects properties or traits that are not objects.
func (n *normalizer) indexFields() error {
	raw, f := n.raw, &n.f
	*f = fields{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	for i := range n.ms {
		m := &n.ms[i]
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
				return reject(strings.Clone(k), "must be an object")
			}
			if k == "properties" {
				f.properties = i
			} else {
				f.traits = i
			}
		}
	}
	return nil
}

// callType reads the payload's type (tv is its raw value), checks it against the
// route's TypeHint, and returns it as one of the call type constants.
func (in *Input) callType(tv []byte) (string, error) {
	var typ string
	var err error
	if len(tv) > 1 && tv[0] == '"' && bytes.IndexByte(tv, '\\') < 0 {
		typ = unsafeString(tv[1 : len(tv)-1]) // compared, then replaced by a constant
	} else if typ, err = strField(tv, "type"); err != nil {
		return "", err
	}
	if in.TypeHint != "" {
		if typ != "" && !strings.EqualFold(typ, in.TypeHint) {
			return "", reject("type", "%q does not match the %s endpoint", strings.Clone(typ), in.TypeHint)
		}
		typ = in.TypeHint
	}
	switch strings.ToLower(typ) {
	case Track:
		return Track, nil
	case Identify:
		return Identify, nil
	case Page:
		return Page, nil
	case Screen:
		return Screen, nil
	case Group:
		return Group, nil
	case Alias:
		return Alias, nil
	case "":
		return "", reject("type", "missing; batch items need one of track, identify, page, screen, group, alias")
	default:
		return "", reject("type", "%q is not one of track, identify, page, screen, group, alias", strings.Clone(typ))
	}
}

// checkIDs sets ev's userId and anonymousId, and requires one of them, neither
// longer than 1024 bytes.
func (n *normalizer) checkIDs(ev *Event) error {
	var err error
	if ev.UserID, err = idField(n.get(n.f.userID), "userId"); err != nil {
		return err
	}
	if ev.AnonymousID, err = idField(n.get(n.f.anonymousID), "anonymousId"); err != nil {
		return err
	}
	if ev.UserID == "" && ev.AnonymousID == "" {
		return reject("userId", "either userId or anonymousId is required")
	}
	if len(ev.UserID) > 1024 || len(ev.AnonymousID) > 1024 {
		return reject("userId", "identifier longer than 1024 bytes")
	}
	return nil
}

// checkCallFields checks the fields ev's type requires (a track's event name, an
// alias's previousId and userId, a group's groupId), sets ev's name for track, page
// and screen calls, and limits the name to 1024 bytes.
func (n *normalizer) checkCallFields(ev *Event) error {
	var err error
	switch ev.Type {
	case Track:
		if ev.Name, err = strField(n.get(n.f.event), "event"); err != nil {
			return err
		}
		if strings.TrimSpace(ev.Name) == "" {
			return reject("event", "track calls need a non-empty event name")
		}
	case Page, Screen:
		if ev.Name, err = strField(n.get(n.f.name), "name"); err != nil {
			return err
		}
	case Alias:
		prev, err := idField(n.get(n.f.previousID), "previousId")
		if err != nil {
			return err
		}
		if prev == "" {
			return reject("previousId", "alias calls need previousId")
		}
		if ev.UserID == "" {
			return reject("userId", "alias calls need userId")
		}
	case Group:
		g, err := idField(n.get(n.f.groupID), "groupId")
		if err != nil {
			return err
		}
		if g == "" {
			return reject("groupId", "group calls need groupId")
		}
	}
	if len(ev.Name) > 1024 {
		return reject("event", "name longer than 1024 bytes")
	}
	return nil
}

// checkObjects keeps the event's context and integrations, and requires each to be
// an object or null when present.
func (n *normalizer) checkObjects() error {
	n.ctx, n.integ = n.get(n.f.context), n.get(n.f.integrations)
	if n.ctx != nil && !isObjectOrNull(n.ctx) {
		return reject("context", "must be an object")
	}
	if n.integ != nil && !isObjectOrNull(n.integ) {
		return reject("integrations", "must be an object")
	}
	return nil
}

// messageID decodes the messageId (v is its raw value), limits its length, and
// makes a new one when the payload has none.
func messageID(v []byte) (string, error) {
	id, err := strField(v, "messageId")
	if err != nil {
		return "", err
	}
	if utf8.RuneCountInString(id) > MaxMessageIDChars {
		return id, reject("messageId", "longer than %d characters", MaxMessageIDChars)
	}
	if id == "" {
		id = NewMessageID()
	}
	return id, nil
}

// stamp reads the client's time and sentAt, sets ev's receivedAt and its clock-skew
// corrected timestamp, and checks that timestamp against the server's clock.
//
// Segment's clock-skew correction: timestamp = receivedAt - (sentAt - originalTimestamp),
// where originalTimestamp is the client's timestamp. Without sentAt the client's
// timestamp is taken as is (imports); without either, the server's clock.
func (n *normalizer) stamp(ev *Event) error {
	origField := n.f.origTimestamp
	if origField < 0 {
		origField = n.f.timestamp
	}
	origName := "originalTimestamp"
	if n.f.origTimestamp < 0 {
		origName = "timestamp"
	}
	orig, err := timeField(n.get(origField), origName)
	if err != nil {
		return err
	}
	sent, err := timeField(n.get(n.f.sentAt), "sentAt")
	if err != nil {
		return err
	}
	if sent.IsZero() {
		sent = n.in.BatchSentAt
	}
	// Bodies and columns keep milliseconds: the correction uses exactly the times the body
	// shows, so that the body normalised again gives the same timestamp.
	n.orig, n.sent = orig.Truncate(time.Millisecond), sent.Truncate(time.Millisecond)
	ev.ReceivedAt = n.in.ReceivedAt.UTC().Truncate(time.Millisecond)
	switch {
	case !n.orig.IsZero() && !n.sent.IsZero():
		ev.Timestamp = ev.ReceivedAt.Add(-n.sent.Sub(n.orig)).UTC()
	case !n.orig.IsZero():
		ev.Timestamp = n.orig.UTC()
	default:
		ev.Timestamp = ev.ReceivedAt
	}
	return n.in.checkTime(ev.Timestamp, origName)
}

// capTraits drops the keys past MaxTraitKeys from traits, context.traits and the
// batch's context.traits (the event is kept), and returns the notice that says so,
// or "" when nothing was dropped.
func (n *normalizer) capTraits() string {
	var droppedTraits, droppedCtx, droppedBatch int
	n.traits, droppedTraits = capTraits(n.get(n.f.traits), MaxTraitKeys)
	n.ctx, droppedCtx = capContextTraits(n.ctx, MaxTraitKeys)
	n.batchCtx, droppedBatch = capContextTraits(n.in.BatchContext, MaxTraitKeys)
	if droppedCtx == 0 && !bytes.Contains(n.ctx, []byte(`"traits"`)) {
		droppedCtx = droppedBatch // the event's own context.traits would win over the batch's
	}
	switch {
	case droppedTraits > 0 && droppedCtx > 0:
		return fmt.Sprintf("traits and context.traits over the %d keys allowed per call: accepted without the last %d and %d", MaxTraitKeys, droppedTraits, droppedCtx)
	case droppedTraits > 0:
		return fmt.Sprintf("traits has %d keys, over the %d allowed per call: accepted without the last %d", MaxTraitKeys+droppedTraits, MaxTraitKeys, droppedTraits)
	case droppedCtx > 0:
		return fmt.Sprintf("context.traits has %d keys, over the %d allowed per call: accepted without the last %d", MaxTraitKeys+droppedCtx, MaxTraitKeys, droppedCtx)
	}
	return ""
}

// body builds the stored body: the client's members minus the ones set here, then
// the members Normalize sets from ev, then context and integrations merged with the
// batch's. Invalid UTF-8 is replaced.
func (n *normalizer) body(ev *Event) []byte {
	in, raw := n.in, n.raw
	out := make([]byte, 0, len(raw)+len(in.BatchContext)+len(in.BatchIntegrations)+256)
	out = append(out, '{')
	mergeCtx := len(in.BatchContext) > 0
	mergeInteg := len(in.BatchIntegrations) > 0
	for i := range n.ms {
		m := n.ms[i]
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
		case n.f.traits:
			out = append(out, n.traits...)
		case n.f.context:
			out = append(out, n.ctx...)
		default:
			out = append(out, raw[m.vs:m.ve]...)
		}
	}
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = n.appendSetMembers(out, ev)
	if mergeCtx {
		out = append(out, `,"context":`...)
		out = mergeObjects(out, n.ctx, n.batchCtx)
	}
	if mergeInteg {
		out = append(out, `,"integrations":`...)
		out = mergeObjects(out, n.integ, in.BatchIntegrations)
	}
	out = append(out, '}')
	if !utf8.Valid(out) {
		// Invalid bytes can only sit inside strings; PostgreSQL refuses them in TEXT.
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return out
}

// appendSetMembers writes the members Normalize sets: type, messageId, the ids,
// originalTimestamp and sentAt when the client sent them, receivedAt and timestamp.
func (n *normalizer) appendSetMembers(out []byte, ev *Event) []byte {
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
	if !n.orig.IsZero() {
		out = append(out, `,"originalTimestamp":`...)
		out = appendTime(out, n.orig)
	}
	if !n.sent.IsZero() && !n.orig.IsZero() {
		// sentAt only beside the client time it corrected: alone, it would make the stored
		// "timestamp" look like a client time to correct again when the body is imported.
		out = append(out, `,"sentAt":`...)
		out = appendTime(out, n.sent)
	}
	out = append(out, `,"receivedAt":`...)
	out = appendTime(out, ev.ReceivedAt)
	out = append(out, `,"timestamp":`...)
	return appendTime(out, ev.Timestamp)
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
