// Package pathstore keeps the per-customer touch sequences (paths) that attribution reads,
// derived from the processor's tables and kept current as events arrive.
//
// Layout. The table `paths` holds one row per (block, day): every touch (activity row
// except the order events themselves) and every order of the customers of one block
// (65,536 consecutive customer ids) on one UTC day, encoded in one
// value. A period of any length reads only the days it needs, a few rows per day however
// many customers there are; all time is a few hundred rows per block. Each row also
// carries a summary, the day's rollup for that block per channel, campaign and currency
// (visits, orders, revenue, refunds, new customers), which Daily sums.
//
// Contents are a pure function of the activity, orders and refunds tables: Build computes
// them from scratch, Apply keeps them current inside the processor's transaction (before
// it writes a batch), EraseCustomers removes people. The encoding is canonical (entries in
// a fixed order, each row's own table of strings in order of first use), so the same
// tables give the same bytes on SQLite and PostgreSQL whatever order the events came in.
package pathstore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// blockBits: a block holds the customers whose ids share cid>>blockBits (a variable only
// so that tests can make blocks of a few customers).
var blockBits = 16

// DayMS is one day in milliseconds.
const DayMS = 86_400_000

// OrderCompleted names the order event: it is the conversion, never a touch, so its
// activity rows are left out of the rows (the order itself is there).
const OrderCompleted = "Order Completed"

// BlockOf is the block of a customer id.
func BlockOf(cid int64) int64 { return cid >> blockBits }

// DayOf is the UTC day number of a unix-ms time (floor division, so times before 1970
// fall on negative days).
func DayOf(ts int64) int64 {
	d := ts / DayMS
	if ts%DayMS < 0 {
		d--
	}
	return d
}

// Touch is one activity row as a path holds it.
type Touch struct {
	Customer int64
	TS       int64 // unix ms, event time
	Seq      int64 // the event's seq: the order of touches at the same millisecond
	Name     string
	Channel  string
	Campaign string
}

// Order is one order as a path holds it.
type Order struct {
	Customer int64
	TS       int64
	ID       string // order_id
	Revenue  int64  // minor units of Currency
	Refunded int64  // refunds recorded for the order, whenever they happened, within [0, max(Revenue, 0)]
	Currency string
	Channel  string // the order's own channel, as the processor classified it
	Campaign string // the campaign of the order event
	First    bool   // the customer's first order (earliest time, then smallest order id)
}

// Row is one block's touches and orders of one UTC day.
type Row struct {
	Block, Day int64
	Touches    []Touch
	Orders     []Order
}

// Empty reports whether the row holds nothing (it is then deleted, not stored).
func (r *Row) Empty() bool { return len(r.Touches) == 0 && len(r.Orders) == 0 }

func cmpTouch(a, b Touch) int {
	if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TS, b.TS); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// OrderBefore is the order of a customer's orders: time, then order id (bytes).
func OrderBefore(aTS int64, aID string, bTS int64, bID string) bool {
	return aTS < bTS || aTS == bTS && aID < bID
}

func cmpOrder(a, b Order) int {
	if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TS, b.TS); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// sort puts the entries in their canonical order.
func (r *Row) sort() {
	sortTouches(r.Touches)
	sortAppended(r.Orders, cmpOrder)
}

// touchBefore is cmpTouch(*a, *b) < 0 without copying the touches.
func touchBefore(a, b *Touch) bool {
	if a.Customer != b.Customer {
		return a.Customer < b.Customer
	}
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	return a.Seq < b.Seq
}

// sortTouches is sortAppended(s, cmpTouch) with the comparison inlined: a day's row under
// sustained ingest holds a day of touches, all of which the merge moves in every batch.
func sortTouches(s []Touch) {
	p := 1
	for p < len(s) && !touchBefore(&s[p], &s[p-1]) {
		p++
	}
	if p >= len(s) {
		return
	}
	tail := s[p:]
	slices.SortFunc(tail, cmpTouch)
	if !touchBefore(&tail[0], &s[p-1]) {
		return
	}
	t := slices.Clone(tail)
	i, j, k := p-1, len(t)-1, len(s)-1
	for j >= 0 {
		if i >= 0 && touchBefore(&t[j], &s[i]) {
			s[k] = s[i]
			i--
		} else {
			s[k] = t[j]
			j--
		}
		k--
	}
}

// sortAppended sorts s. A row the processor edits is a sorted row read from the table
// with a batch's entries appended, so it sorts only what follows the longest sorted
// prefix and merges the two runs: linear in the row rather than n log n. Keys are unique
// (a customer's touches differ in seq, orders in id), so the result is the one order a
// full sort gives.
func sortAppended[T any](s []T, cmp func(a, b T) int) {
	p := 1
	for p < len(s) && cmp(s[p-1], s[p]) <= 0 {
		p++
	}
	if p >= len(s) {
		return
	}
	tail := s[p:]
	slices.SortFunc(tail, cmp)
	if cmp(s[p-1], tail[0]) <= 0 {
		return
	}
	// Merge from the back into s, holding the (usually short) tail aside.
	t := slices.Clone(tail)
	i, j, k := p-1, len(t)-1, len(s)-1
	for j >= 0 {
		if i >= 0 && cmp(s[i], t[j]) > 0 {
			s[k] = s[i]
			i--
		} else {
			s[k] = t[j]
			j--
		}
		k--
	}
}

const formatVersion = 1

// strTable numbers strings in order of first use.
type strTable struct {
	idx  map[string]uint64
	list []string
	// recent finds the strings seen so far by their bytes' address, without hashing or
	// comparing contents: the processor's rows hold one copy of each name, channel and
	// campaign (Interner), so a row's few distinct values are found by a short scan.
	recent []ptrID
}

type ptrID struct {
	p  *byte
	n  int
	id uint64
}

// maxRecent bounds recent's scan; strings past it are found through the map.
const maxRecent = 32

// sameString reports whether a and b are the same bytes in memory (hence equal). Equal
// strings at different addresses report false.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

func (t *strTable) id(s string) uint64 {
	if i, ok := t.idx[s]; ok {
		return i
	}
	return t.add(s)
}

// strMemo remembers the last string one field used: neighbouring entries mostly repeat
// their name, channel and campaign.
type strMemo struct {
	s  string
	id uint64
	ok bool
}

func (t *strTable) memo(m *strMemo, s string) uint64 {
	if m.ok && sameString(m.s, s) {
		return m.id
	}
	id, found := uint64(0), false
	p := unsafe.StringData(s)
	for _, e := range t.recent {
		if e.p == p && e.n == len(s) {
			id, found = e.id, true
			break
		}
	}
	if !found {
		id = t.id(s)
		if len(t.recent) < maxRecent {
			t.recent = append(t.recent, ptrID{p, len(s), id})
		}
	}
	*m = strMemo{s, id, true}
	return id
}

func (t *strTable) add(s string) uint64 {
	i := uint64(len(t.list))
	t.idx[s] = i
	t.list = append(t.list, s)
	return i
}

// Encode returns the canonical bytes of the row (entries sorted first).
func (r *Row) Encode() []byte {
	r.sort()
	st := &strTable{idx: map[string]uint64{}}
	body := make([]byte, 0, 16+12*len(r.Touches)+20*len(r.Orders))
	var mName, mChannel, mCampaign strMemo
	base := r.Block << blockBits
	dayStart := r.Day * DayMS
	body = binary.AppendUvarint(body, uint64(len(r.Touches)))
	prevC, prevTS, prevSeq := base, int64(0), int64(0)
	for i, t := range r.Touches {
		body = binary.AppendUvarint(body, uint64(t.Customer-prevC))
		if i > 0 && t.Customer == prevC {
			body = binary.AppendUvarint(body, uint64(t.TS-prevTS))
		} else {
			body = binary.AppendUvarint(body, uint64(t.TS-dayStart))
		}
		body = binary.AppendVarint(body, t.Seq-prevSeq)
		body = binary.AppendUvarint(body, st.memo(&mName, t.Name))
		body = binary.AppendUvarint(body, st.memo(&mChannel, t.Channel))
		body = binary.AppendUvarint(body, st.memo(&mCampaign, t.Campaign))
		prevC, prevTS, prevSeq = t.Customer, t.TS, t.Seq
	}
	body = binary.AppendUvarint(body, uint64(len(r.Orders)))
	prevC, prevTS = base, 0
	for i, o := range r.Orders {
		body = binary.AppendUvarint(body, uint64(o.Customer-prevC))
		if i > 0 && o.Customer == prevC {
			body = binary.AppendUvarint(body, uint64(o.TS-prevTS))
		} else {
			body = binary.AppendUvarint(body, uint64(o.TS-dayStart))
		}
		body = binary.AppendUvarint(body, st.id(o.ID))
		body = binary.AppendVarint(body, o.Revenue)
		body = binary.AppendUvarint(body, uint64(o.Refunded))
		body = binary.AppendUvarint(body, st.id(o.Currency))
		body = binary.AppendUvarint(body, st.id(o.Channel))
		body = binary.AppendUvarint(body, st.id(o.Campaign))
		var flags byte
		if o.First {
			flags = 1
		}
		body = append(body, flags)
		prevC, prevTS = o.Customer, o.TS
	}
	return appendTable(st.list, body)
}

func appendTable(list []string, body []byte) []byte {
	n := 2 + len(body)
	for _, s := range list {
		n += len(s) + 2
	}
	out := make([]byte, 0, n)
	out = append(out, formatVersion)
	out = binary.AppendUvarint(out, uint64(len(list)))
	for _, s := range list {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return append(out, body...)
}

var errCorrupt = errors.New("paths: corrupt row")

// Decoder reads an encoded row without allocating per entry: strings are indices into
// the row's table (Strings), which a reader maps to its own interned values once per row.
type Decoder struct {
	buf                  []byte
	pos                  int
	strs                 [][]byte
	base, dayStart       int64
	nTouch, nOrder       int
	i                    int
	prevC, prevTS, prevS int64
	err                  error
}

// Reset starts decoding data, the row of block and day.
func (d *Decoder) Reset(block, day int64, data []byte) error {
	*d = Decoder{buf: data, strs: d.strs[:0], base: block << blockBits, dayStart: day * DayMS}
	if len(data) == 0 || data[0] != formatVersion {
		return fmt.Errorf("%w: block %d day %d: unknown format", errCorrupt, block, day)
	}
	d.pos = 1
	n := d.uvarint()
	for range n {
		l := d.uvarint()
		if d.err != nil || l > uint64(len(d.buf)-d.pos) {
			return fmt.Errorf("%w: block %d day %d", errCorrupt, block, day)
		}
		d.strs = append(d.strs, d.buf[d.pos:d.pos+int(l)])
		d.pos += int(l)
	}
	d.nTouch = int(d.uvarint())
	d.prevC = d.base
	return d.err
}

// Strings is the row's table of strings.
func (d *Decoder) Strings() [][]byte { return d.strs }

func (d *Decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 {
		if d.err == nil {
			d.err = errCorrupt
		}
		d.pos = len(d.buf)
		return 0
	}
	d.pos += n
	return v
}

func (d *Decoder) varint() int64 {
	v, n := binary.Varint(d.buf[d.pos:])
	if n <= 0 {
		if d.err == nil {
			d.err = errCorrupt
		}
		d.pos = len(d.buf)
		return 0
	}
	d.pos += n
	return v
}

func (d *Decoder) str() int {
	i := d.uvarint()
	if i >= uint64(len(d.strs)) {
		if d.err == nil {
			d.err = errCorrupt
		}
		return 0
	}
	return int(i)
}

// RawTouch is a decoded touch; strings are indices into Strings.
type RawTouch struct {
	Customer, TS, Seq       int64
	Name, Channel, Campaign int
}

// RawOrder is a decoded order; strings are indices into Strings.
type RawOrder struct {
	Customer, TS                int64
	ID                          int
	Revenue, Refunded           int64
	Currency, Channel, Campaign int
	First                       bool
}

func (d *Decoder) customerTS(i int) (int64, int64) {
	dc := d.uvarint()
	c := d.prevC + int64(dc)
	var ts int64
	if i > 0 && dc == 0 {
		ts = d.prevTS + int64(d.uvarint())
	} else {
		ts = d.dayStart + int64(d.uvarint())
	}
	d.prevC, d.prevTS = c, ts
	return c, ts
}

// NextTouch decodes the next touch; false after the last one (or on a corrupt row: see Err).
func (d *Decoder) NextTouch(t *RawTouch) bool {
	if d.err != nil || d.i >= d.nTouch {
		return false
	}
	t.Customer, t.TS = d.customerTS(d.i)
	d.prevS += d.varint()
	t.Seq = d.prevS
	t.Name, t.Channel, t.Campaign = d.str(), d.str(), d.str()
	d.i++
	if d.i == d.nTouch {
		d.startOrders()
	}
	return d.err == nil
}

func (d *Decoder) startOrders() {
	d.nOrder = int(d.uvarint())
	d.i = 0
	d.prevC, d.prevTS = d.base, 0
	d.nTouch = -1 // touches done
}

// NextOrder decodes the next order; call it after the touches (it skips any left).
func (d *Decoder) NextOrder(o *RawOrder) bool {
	if d.nTouch >= 0 {
		var t RawTouch
		for d.NextTouch(&t) {
		}
		if d.nTouch == 0 {
			d.startOrders()
		}
	}
	if d.err != nil || d.i >= d.nOrder {
		return false
	}
	o.Customer, o.TS = d.customerTS(d.i)
	o.ID = d.str()
	o.Revenue = d.varint()
	o.Refunded = int64(d.uvarint())
	o.Currency, o.Channel, o.Campaign = d.str(), d.str(), d.str()
	if d.pos >= len(d.buf) {
		d.err = errCorrupt
		return false
	}
	o.First = d.buf[d.pos]&1 != 0
	d.pos++
	d.i++
	return d.err == nil
}

// Err is the first decoding error.
func (d *Decoder) Err() error { return d.err }

// DecodeRow decodes a whole row into plain values (tests, maintenance; readers that
// care about speed use a Decoder).
func DecodeRow(block, day int64, data []byte) (Row, error) {
	return decodeRow(block, day, data, nil)
}

// decodeRow is DecodeRow with the touches' and orders' names, channels, campaigns and
// currencies taken from in when it is not nil.
func decodeRow(block, day int64, data []byte, in *interner) (Row, error) {
	r := Row{Block: block, Day: day}
	var d Decoder
	if err := d.Reset(block, day, data); err != nil {
		return r, err
	}
	// Each of the row's strings is made once, not once per entry: a day's row of a busy
	// shop holds tens of thousands of touches and the processor reads it every batch.
	strs := make([]string, len(d.strs))
	for i, b := range d.strs {
		strs[i] = string(b)
	}
	s := func(i int) string { return strs[i] }
	v := s // the values shared with in
	if in != nil {
		shared := make([]string, len(d.strs))
		done := make([]bool, len(d.strs))
		v = func(i int) string {
			if !done[i] {
				shared[i], done[i] = in.bytes(d.strs[i]), true
			}
			return shared[i]
		}
	}
	if d.nTouch > 0 {
		n := min(d.nTouch, len(data)/6) // a touch takes at least six bytes; a corrupt count allocates no more
		r.Touches = make([]Touch, 0, n+n/8)
	}
	var t RawTouch
	for d.NextTouch(&t) {
		r.Touches = append(r.Touches, Touch{Customer: t.Customer, TS: t.TS, Seq: t.Seq, Name: v(t.Name), Channel: v(t.Channel), Campaign: v(t.Campaign)})
	}
	var o RawOrder
	for d.NextOrder(&o) {
		r.Orders = append(r.Orders, Order{Customer: o.Customer, TS: o.TS, ID: s(o.ID), Revenue: o.Revenue, Refunded: o.Refunded,
			Currency: v(o.Currency), Channel: v(o.Channel), Campaign: v(o.Campaign), First: o.First})
	}
	if err := d.Err(); err != nil {
		return r, fmt.Errorf("%w: block %d day %d", err, block, day)
	}
	return r, nil
}

// BlockRange is the customer ids [lo, hi) of a block.
func BlockRange(block int64) (lo, hi int64) { return block << blockBits, (block + 1) << blockBits }
