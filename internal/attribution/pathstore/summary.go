package pathstore

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
)

// The visit rule, shared by the rollup here and attribution's path builder.
const (
	// DefaultVisitTimeout is the inactivity that ends a visit.
	DefaultVisitTimeout = 30 * time.Minute
	// Unassigned names the channel of a touch or order the processor gave none.
	Unassigned = "Unassigned"
)

// DefaultIgnoreEvents are never touches: after-sales, not marketing contacts. (The
// order event is never one either, and is not stored as a touch at all.)
var DefaultIgnoreEvents = []string{"Order Refunded"}

// IsDirect reports whether a channel name is "Direct" (no known source).
func IsDirect(name string) bool {
	return strings.EqualFold(name, "Direct") || strings.EqualFold(name, "(direct)")
}

// ChannelName is the channel a touch or order is counted under.
func ChannelName(ch string) string {
	if ch == "" {
		return Unassigned
	}
	return ch
}

// StartsVisit reports whether an event starts a new visit (touch): the first event, a gap
// longer than the timeout since the previous event, or a new non-Direct channel or
// campaign (campaigns compared case-insensitively) arriving inside a visit, as GA4
// starts a new session on a campaign change; a Direct event inside a visit does not.
func StartsVisit(first bool, gapMS, timeoutMS int64, channel, campaign, visitChannel, visitCampaign string) bool {
	return first || gapMS > timeoutMS ||
		!IsDirect(channel) && (channel != visitChannel || !sameCampaign(campaign, visitCampaign))
}

// sameCampaign compares campaigns as a visit does: case-insensitively.
func sameCampaign(a, b string) bool { return a == b || strings.EqualFold(a, b) }

// visitRule is StartsVisit over a run of touches, remembering the last event name's and
// channel's answers (a row's touches mostly repeat them, as the same strings).
type visitRule struct {
	timeoutMS     int64
	name, channel string // the last ones seen (channel "" is never Direct)
	ignored       bool   // name is ignored
	direct        bool   // channel is Direct
	started       bool   // name has been set
}

// ignoredName reports whether name is in DefaultIgnoreEvents.
func (v *visitRule) ignoredName(name string) bool {
	if !v.started || !sameString(name, v.name) {
		v.started, v.name, v.ignored = true, name, slices.Contains(DefaultIgnoreEvents, name)
	}
	return v.ignored
}

// starts is StartsVisit with channel's IsDirect remembered.
func (v *visitRule) starts(first bool, gapMS int64, channel, campaign, visitChannel, visitCampaign string) bool {
	if first || gapMS > v.timeoutMS {
		return true
	}
	if !sameString(channel, v.channel) {
		v.channel, v.direct = channel, IsDirect(channel)
	}
	return !v.direct && (channel != visitChannel || !sameCampaign(campaign, visitCampaign))
}

// Cell is one channel × campaign × currency of a day's rollup. Visits have no currency
// (Currency ""); orders, revenue, refunds and new customers are per currency.
type Cell struct {
	Channel, Campaign, Currency string
}

// Counts are the rollup's figures for one cell.
type Counts struct {
	Visits       int64 `json:"visits"`
	Orders       int64 `json:"orders"`
	RevenueMinor int64 `json:"revenue_minor"`  // before refunds
	RefundMinor  int64 `json:"refunded_minor"` // refunds of those orders, whenever made
	NewCustomers int64 `json:"new_customers"`  // first orders
}

func (c *Counts) add(o Counts) {
	c.Visits += o.Visits
	c.Orders += o.Orders
	c.RevenueMinor = money.SatAdd(c.RevenueMinor, o.RevenueMinor)
	c.RefundMinor = money.SatAdd(c.RefundMinor, o.RefundMinor)
	c.NewCustomers += o.NewCustomers
}

func (c Counts) zero() bool { return c == Counts{} }

// summarize returns a row's rollup: visits of each customer's touches that day (the
// default visit rule, cut at the row's midnight UTC) and its orders.
func summarize(r *Row) map[Cell]Counts {
	out := map[Cell]Counts{}
	rule := visitRule{timeoutMS: DefaultVisitTimeout.Milliseconds()}
	var (
		open         bool
		cust, lastTS int64
		vCh, vCamp   string
	)
	for _, t := range r.Touches {
		if rule.ignoredName(t.Name) {
			continue
		}
		ch := ChannelName(t.Channel)
		if !open || t.Customer != cust {
			open, cust = false, t.Customer
		}
		if rule.starts(!open, t.TS-lastTS, ch, t.Campaign, vCh, vCamp) {
			open, vCh, vCamp = true, ch, t.Campaign
			k := Cell{Channel: ch, Campaign: t.Campaign}
			c := out[k]
			c.Visits++
			out[k] = c
		}
		lastTS = t.TS
	}
	for _, o := range r.Orders {
		k := Cell{Channel: ChannelName(o.Channel), Campaign: o.Campaign, Currency: o.Currency}
		c := out[k]
		c.Orders++
		c.RevenueMinor = money.SatAdd(c.RevenueMinor, o.Revenue)
		c.RefundMinor = money.SatAdd(c.RefundMinor, o.Refunded)
		if o.First {
			c.NewCustomers++
		}
		out[k] = c
	}
	return out
}

func cmpCell(a, b Cell) int {
	if c := cmp.Compare(a.Channel, b.Channel); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Campaign, b.Campaign); c != 0 {
		return c
	}
	return cmp.Compare(a.Currency, b.Currency)
}

// encodeSummary returns the canonical bytes of a rollup.
func encodeSummary(m map[Cell]Counts) []byte {
	keys := make([]Cell, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpCell)
	st := &strTable{idx: map[string]uint64{}}
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(keys)))
	for _, k := range keys {
		c := m[k]
		body = binary.AppendUvarint(body, st.id(k.Channel))
		body = binary.AppendUvarint(body, st.id(k.Campaign))
		body = binary.AppendUvarint(body, st.id(k.Currency))
		body = binary.AppendUvarint(body, uint64(c.Visits))
		body = binary.AppendUvarint(body, uint64(c.Orders))
		body = binary.AppendVarint(body, c.RevenueMinor)
		body = binary.AppendVarint(body, c.RefundMinor)
		body = binary.AppendUvarint(body, uint64(c.NewCustomers))
	}
	return appendTable(st.list, body)
}

// decodeSummary adds an encoded rollup to m.
func decodeSummary(data []byte, m map[Cell]Counts) error {
	var d Decoder
	if err := d.Reset(0, 0, data); err != nil {
		return err
	}
	n := d.nTouch // the first number after the table: the entry count
	s := func() string {
		if i := d.str(); i < len(d.strs) {
			return string(d.strs[i])
		}
		return ""
	}
	for range n {
		k := Cell{Channel: s(), Campaign: s(), Currency: s()}
		c := Counts{Visits: int64(d.uvarint()), Orders: int64(d.uvarint()), RevenueMinor: d.varint(), RefundMinor: d.varint(), NewCustomers: int64(d.uvarint())}
		if d.err != nil {
			return fmt.Errorf("paths: corrupt summary: %w", d.err)
		}
		x := m[k]
		x.add(c)
		m[k] = x
	}
	return nil
}

// SummaryBytes is the encoded rollup of a row, as the table stores it beside the row.
func SummaryBytes(r *Row) []byte { return encodeSummary(summarize(r)) }
