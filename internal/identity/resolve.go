package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/omniroi/omniroi/internal/channel"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// bodyFields are the parts of a stored event body identity resolution reads.
type bodyFields struct {
	PreviousID json.RawMessage            `json:"previousId"`
	GroupID    json.RawMessage            `json:"groupId"`
	Traits     map[string]json.RawMessage `json:"traits"`
	Context    struct {
		Traits map[string]json.RawMessage `json:"traits"`
	} `json:"context"`
	Properties json.RawMessage `json:"properties"`
}

type propFields struct {
	commerce.Props
	Email json.RawMessage `json:"email"`
	Phone json.RawMessage `json:"phone"`
}

// jsonText reads a JSON string or number as text.
func jsonText(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || string(s) == "null" {
		return ""
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(s, &v) != nil {
			return ""
		}
		return v
	}
	if s[0] == '{' || s[0] == '[' || s[0] == 't' || s[0] == 'f' {
		return ""
	}
	return string(s)
}

type mergeRec struct {
	seq, ts          int64
	survivor, merged int64
	via              idKey
}

type conflictRec struct {
	seq, ts             int64
	userID, otherUserID string
	key                 idKey
	cust, other         int64
	otherNew            bool // other is the customer the event ends up with
	reason              string
}

// interner keeps one copy of each activity row's name, channel, campaign, source and
// medium: the paths rows and the rollups' session cache keep a day of them, and with one
// copy they share no event's memory and compare equal values by address (a string
// comparison's first test). Past maxInterned values a new table starts.
type interner struct {
	m map[string]string
}

const maxInterned = 20_000

func (in *interner) str(s string) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = make(map[string]string, 64)
	}
	s = strings.Clone(s)
	in.m[s] = s
	return s
}

type activityRow struct {
	seq, cust, ts, sourceID int64
	typ, name               string
	res                     channel.Result
}

// batch collects the derived rows of one batch of events until they are written.
type batch struct {
	start        int64           // cursor before the batch: customers with id <= start are in the database
	forward      map[int64]int64 // merged customer → survivor, within this batch
	merges       []mergeRec
	conflicts    []conflictRec
	activity     []activityRow
	orders       map[string]*commerce.Order
	orderKeys    []string
	refunds      []commerce.Refund
	dirtyIDs     []idKey
	dirtyCusts   []*customer
	groups       []*group     // groups changed in this batch
	members      []membership // group calls of this batch
	unidentified int64
	badOrders    int64
	consent      map[int64]consentRec // newest consent signal per customer (privacy_consent.go)
	notes        []store.Rejection    // trait keys left out of profiles over event.MaxProfileBytes
}

func newBatch(start int64) *batch {
	return &batch{start: start, forward: map[int64]int64{}, orders: map[string]*commerce.Order{}}
}

// final follows merges made in this batch to the surviving customer.
func (b *batch) final(id int64) int64 {
	for {
		n, ok := b.forward[id]
		if !ok {
			return id
		}
		id = n
	}
}

func (p *Processor) touchCust(b *batch, c *customer) {
	if !c.dirty {
		c.dirty = true
		b.dirtyCusts = append(b.dirtyCusts, c)
	}
}

func (p *Processor) touchID(b *batch, k idKey, id *ident) {
	if !id.dirty {
		id.dirty = true
		b.dirtyIDs = append(b.dirtyIDs, k)
	}
}

// eventParts is what apply reads from one event: the decoded body and
// properties, what kind of event it is, and the contact identifiers it carries.
type eventParts struct {
	f                          bodyFields
	props                      propFields
	isTrack, isOrder, isRefund bool
	isGroup                    bool
	// personTraits are the traits describing the person: nil for a group call,
	// whose traits describe the group (its email or phone is the company's).
	personTraits map[string]json.RawMessage
	email, phone string
}

// apply folds one event into the graph and the batch.
func (p *Processor) apply(b *batch, ev *event.Event) {
	ts := ev.Timestamp.UnixMilli()
	e := decodeEventParts(ev)
	uid := NormalizeID(ev.UserID)
	keys := p.eventKeys(ev, e, uid)
	trusted := p.trusted(ev.SourceID)

	c := p.resolve(b, ev, ts, uid, keys, e.isOrder || e.isRefund)
	if c == nil {
		b.unidentified++
		return
	}
	c.events++
	// First and last seen are the customer's own activity: a message the journey engine
	// sent them or a trait it set is not a sign of them.
	if !(trusted && ServerAction(ev.MessageID)) {
		if ts < c.first {
			c.first = ts
		}
		if ts > c.last {
			c.last = ts
		}
	}
	traitsChanged := applyTraits(c, e, ts, ev.Seq, trusted)
	if e.isGroup {
		p.applyGroup(b, c, groupIDOf(e.f.GroupID), e.f.Traits, ts, ev.Seq)
	}
	if traitsChanged {
		c.refreshDisplay()
	}
	b.noteDropped(ev, c)
	p.touchCust(b, c)
	p.noteConsent(b, c, ev, ts)

	switch ev.Type {
	case event.Track, event.Page, event.Screen:
	default:
		return
	}
	touch := channel.FromSegment(ev.Body)
	touch.OwnHosts = p.opt.OwnHosts
	res := p.rules.Classify(touch)
	res.Channel, res.Campaign = p.strs.str(res.Channel), p.strs.str(res.Campaign)
	res.Source, res.Medium = p.strs.str(res.Source), p.strs.str(res.Medium)
	b.activity = append(b.activity, activityRow{seq: ev.Seq, cust: c.id, ts: ts, sourceID: ev.SourceID, typ: ev.Type, name: p.strs.str(ev.Name), res: res})

	switch {
	case e.isOrder:
		p.addOrder(b, c, ev, &e.props.Props, touch.Location, res.Channel)
	case e.isRefund:
		p.addRefund(b, c, ev, &e.props.Props)
	}
}

// decodeEventParts decodes the parts of an event's body identity resolution
// reads, only when the body can hold something for it, and picks the person's
// email and phone (traits, then context traits, then properties).
func decodeEventParts(ev *event.Event) *eventParts {
	e := &eventParts{}
	e.isTrack = ev.Type == event.Track
	e.isOrder = e.isTrack && strings.EqualFold(ev.Name, commerce.OrderCompleted)
	e.isRefund = e.isTrack && strings.EqualFold(ev.Name, commerce.OrderRefunded)
	e.isGroup = ev.Type == event.Group
	// Most events are page views without traits: a substring test is far cheaper than
	// decoding a body that has nothing for us (the channel classifier decodes it anyway).
	if ev.Type == event.Alias || e.isGroup || e.isOrder || e.isRefund || bytes.Contains(ev.Body, []byte(`"traits"`)) ||
		e.isTrack && (bytes.Contains(ev.Body, []byte(`"email"`)) || bytes.Contains(ev.Body, []byte(`"phone"`))) {
		decodeBody(ev.Body, &e.f)
	}
	if e.isTrack && len(e.f.Properties) > 0 && (e.isOrder || e.isRefund || bytes.Contains(e.f.Properties, []byte(`"email"`)) || bytes.Contains(e.f.Properties, []byte(`"phone"`))) {
		_ = json.Unmarshal(e.f.Properties, &e.props)
	}
	// A group call's traits describe the group: its email or phone is the company's.
	e.personTraits = e.f.Traits
	if e.isGroup {
		e.personTraits = nil
	}
	e.email = NormalizeEmail(jsonText(e.personTraits["email"]))
	if e.email == "" {
		e.email = NormalizeEmail(jsonText(e.f.Context.Traits["email"]))
	}
	if e.email == "" {
		e.email = NormalizeEmail(jsonText(e.props.Email))
	}
	e.phone = NormalizePhone(jsonText(e.personTraits["phone"]))
	if e.phone == "" {
		e.phone = NormalizePhone(jsonText(e.f.Context.Traits["phone"]))
	}
	if e.phone == "" {
		e.phone = NormalizePhone(jsonText(e.props.Phone))
	}
	return e
}

// eventKeys lists the distinct non-userId identifiers of an event, in the order
// resolution considers them: anonymousId, an alias call's previousId (a userId
// when known as one, else an anonymousId), email, phone.
func (p *Processor) eventKeys(ev *event.Event, e *eventParts, uid string) []idKey {
	keys := make([]idKey, 0, 4)
	add := func(k idKey) {
		if k.value == "" {
			return
		}
		for _, o := range keys {
			if o == k {
				return
			}
		}
		keys = append(keys, k)
	}
	add(idKey{KindAnonymousID, NormalizeID(ev.AnonymousID)})
	if ev.Type == event.Alias {
		if prev := NormalizeID(jsonText(e.f.PreviousID)); prev != "" && prev != uid {
			if _, ok := p.g.ids[idKey{KindUserID, prev}]; ok {
				add(idKey{KindUserID, prev})
			} else {
				add(idKey{KindAnonymousID, prev})
			}
		}
	}
	add(idKey{KindEmail, e.email})
	add(idKey{KindPhone, e.phone})
	return keys
}

// applyTraits sets the event's context traits and person traits on the
// customer, then an email or phone found only in the order properties (the
// customer's latest contact too); it reports whether any trait changed.
func applyTraits(c *customer, e *eventParts, ts, seq int64, trusted bool) bool {
	traitsChanged := false
	for _, m := range []map[string]json.RawMessage{e.f.Context.Traits, e.personTraits} {
		for k, v := range m {
			if c.setTrait(k, v, ts, seq, trusted) {
				traitsChanged = true
			}
		}
	}
	if _, ok := e.personTraits["email"]; !ok && e.email != "" && jsonText(e.f.Context.Traits["email"]) == "" {
		if c.setTrait("email", mustJSON(e.email), ts, seq, trusted) {
			traitsChanged = true
		}
	}
	if _, ok := e.personTraits["phone"]; !ok && e.phone != "" && jsonText(e.f.Context.Traits["phone"]) == "" {
		if c.setTrait("phone", mustJSON(e.phone), ts, seq, trusted) {
			traitsChanged = true
		}
	}
	return traitsChanged
}

// addOrder parses an Order Completed event into the batch's orders (counting it
// as bad when it does not parse). Its location is the touch's, else the one the
// channel implies. A later-timed duplicate of an order id replaces the earlier
// one; an earlier-timed one never replaces a later one.
func (p *Processor) addOrder(b *batch, c *customer, ev *event.Event, props *commerce.Props, location, ch string) {
	loc := commerce.NormalizeLocation(location)
	if loc == "" {
		loc = locationOf(ch)
	}
	o, err := commerce.ParseOrder(props, fmt.Sprintf("%d:%s", ev.SourceID, ev.MessageID), p.currency, loc)
	if err != nil {
		b.badOrders++
		return
	}
	o.CustomerID, o.Time, o.Channel, o.SourceID, o.Seq = c.id, ev.Timestamp, ch, ev.SourceID, ev.Seq
	if old, ok := b.orders[o.OrderID]; ok {
		if old.Time.After(o.Time) {
			return // an earlier-timed duplicate never replaces a later one
		}
		*old = o
		return
	}
	b.orders[o.OrderID] = &o
	b.orderKeys = append(b.orderKeys, o.OrderID)
}

// addRefund parses an Order Refunded event into the batch's refunds (counting
// it as a bad order when it does not parse).
func (p *Processor) addRefund(b *batch, c *customer, ev *event.Event, props *commerce.Props) {
	r, err := commerce.ParseRefund(props, p.currency)
	if err != nil {
		b.badOrders++
		return
	}
	r.Seq, r.CustomerID, r.Time = ev.Seq, c.id, ev.Timestamp
	b.refunds = append(b.refunds, r)
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func locationOf(ch string) string {
	switch ch {
	case channel.InStore:
		return commerce.Store
	case channel.Phone:
		return commerce.Phone
	}
	return commerce.Web
}

// resolve finds (creating or merging as needed) the customer of an event with userId uid
// and the other identifiers keys. It returns nil when the event carries no usable
// identifier and force is false.
func (p *Processor) resolve(b *batch, ev *event.Event, ts int64, uid string, keys []idKey, force bool) *customer {
	g := p.g
	// Count the userIds each identifier is seen with: past the threshold it is shared
	// (a till's email, a family tablet) and stops linking people.
	if uid != "" {
		for _, k := range keys {
			if id := g.ids[k]; id != nil && k.kind != KindUserID {
				p.noteUserID(b, ev, ts, k, id, uid)
			}
		}
	}
	var target *customer
	if uid != "" {
		if id := g.ids[idKey{KindUserID, uid}]; id != nil {
			target = g.custs[id.cust]
		}
	}
	var skip []bool
	var pending []conflictRec
	usable := uid != ""
	for i, k := range keys {
		id := g.ids[k]
		if id == nil {
			usable = true
			continue
		}
		if id.shared {
			if skip == nil {
				skip = make([]bool, len(keys))
			}
			skip[i] = true
			continue
		}
		usable = true
		o := g.custs[id.cust]
		tu := uid
		if target != nil {
			if target == o {
				continue
			}
			if target.userID != "" {
				tu = target.userID
			}
		}
		if o.userID != "" && tu != "" && o.userID != tu {
			if skip == nil {
				skip = make([]bool, len(keys))
			}
			skip[i] = true
			// Recorded once per identifier and pair of userIds: a family tablet would
			// otherwise add a row for every page the second user views.
			ck := [4]string{k.kind, k.value, o.userID, tu}
			if g.conflicts[ck] {
				continue
			}
			g.conflicts[ck] = true
			c := conflictRec{seq: ev.Seq, ts: ts, key: k, cust: o.id, userID: o.userID, otherUserID: tu,
				reason: fmt.Sprintf("not merged: %s %q belongs to the customer with userId %q, the event has userId %q", k.kind, k.value, o.userID, tu)}
			if target != nil {
				c.other = target.id
				b.conflicts = append(b.conflicts, c)
			} else {
				c.otherNew = true
				pending = append(pending, c)
			}
			continue
		}
		if target == nil {
			target = o
			continue
		}
		target = p.merge(b, ev, ts, target, o, k)
	}
	if target == nil {
		// Only shared identifiers (a till's anonymousId, a family tablet) say nothing about
		// who this is: an order becomes a customer of its own, other events stay unattributed.
		if !usable && !force {
			return nil
		}
		target = &customer{id: ev.Seq, first: ts, last: ts, traitsRaw: "{}"}
		g.custs[target.id] = target
	}
	for _, c := range pending {
		c.other = target.id
		b.conflicts = append(b.conflicts, c)
	}
	if uid != "" && target.userID == "" {
		target.userID = uid
		target.traitsDirty = true
		p.attach(b, ev, ts, idKey{KindUserID, uid}, target, "")
	}
	for i, k := range keys {
		if skip != nil && skip[i] {
			continue
		}
		if _, ok := g.ids[k]; !ok {
			p.attach(b, ev, ts, k, target, uid)
		}
	}
	return target
}

func (p *Processor) attach(b *batch, ev *event.Event, ts int64, k idKey, c *customer, uid string) {
	id := &ident{cust: c.id, firstSeen: ts, seq: ev.Seq}
	if uid != "" && k.kind != KindUserID {
		id.userIDs = []string{uid}
	}
	p.g.ids[k] = id
	c.ids = append(c.ids, k)
	p.touchID(b, k, id)
}

func (p *Processor) noteUserID(b *batch, ev *event.Event, ts int64, k idKey, id *ident, uid string) {
	if id.shared {
		return
	}
	for _, u := range id.userIDs {
		if u == uid {
			return
		}
	}
	id.userIDs = append(id.userIDs, uid)
	p.touchID(b, k, id)
	if len(id.userIDs) > p.opt.MaxUserIDsPerIdentifier {
		id.shared = true
		b.conflicts = append(b.conflicts, conflictRec{seq: ev.Seq, ts: ts, key: k, cust: id.cust,
			reason: fmt.Sprintf("shared identifier: %s %q was seen with %d different userIds; it no longer merges customers", k.kind, k.value, len(id.userIDs))})
	}
}

// merge folds one customer into another. The older customer (lower id, an earlier first
// event) survives, so a journey keeps its first touch and ids stay stable.
func (p *Processor) merge(b *batch, ev *event.Event, ts int64, a, o *customer, via idKey) *customer {
	s, l := a, o
	if l.id < s.id {
		s, l = l, s
	}
	if s.userID == "" && l.userID != "" {
		s.userID = l.userID
		s.traitsDirty = true
	}
	s.first = min(s.first, l.first)
	s.last = max(s.last, l.last)
	s.events += l.events
	if l.traits != nil || (l.traitsRaw != "" && l.traitsRaw != "{}") {
		for k, v := range l.traitMap() {
			s.putTrait(k, v)
		}
		s.refreshDisplay()
		b.noteDropped(ev, s)
	}
	for _, k := range l.ids {
		p.g.ids[k].cust = s.id
	}
	s.ids = append(s.ids, l.ids...)
	l.ids = nil
	delete(p.g.custs, l.id)
	b.forward[l.id] = s.id
	b.merges = append(b.merges, mergeRec{seq: ev.Seq, ts: ts, survivor: s.id, merged: l.id, via: via})
	p.touchCust(b, s)
	return s
}
