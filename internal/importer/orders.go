package importer

import (
	"container/list"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
)

// orderPreset says where an export keeps each order field. Field names are the generic
// orders columns (docs/import.md); values are normalised column keys, first non-empty wins.
type orderPreset struct {
	name     string
	fields   map[string][]string
	items    map[string][]string // line-item columns: product_id, sku, name, quantity, price, category
	currency string              // default currency of the dataset
	status   func(string) string // export status → completed | refunded | partially_refunded | skip
	location func(string) string // export sales channel → web | store | phone | ...
	// cRefunds: an order id starting with "C" is a cancellation (UCI Online Retail).
	cRefunds bool
	// nonProducts: line-item ids that are fees, not products (kept in the total only).
	nonProducts map[string]string // id → "shipping" | "fee"
}

var genericOrders = &orderPreset{
	fields: map[string][]string{
		"order_id":      {"order_id", "orderid", "order_number", "order_no", "order"},
		"customer_id":   {"customer_id", "user_id", "customerid", "userid"},
		"anonymous_id":  {"anonymous_id"},
		"email":         {"email", "customer_email"},
		"phone":         {"phone", "customer_phone"},
		"timestamp":     {"timestamp", "created_at", "order_date", "ordered_at", "date", "processed_at"},
		"currency":      {"currency", "currency_code"},
		"total":         {"total", "order_total", "amount"},
		"revenue":       {"revenue"},
		"subtotal":      {"subtotal"},
		"shipping":      {"shipping"},
		"tax":           {"tax", "taxes"},
		"discount":      {"discount"},
		"coupon":        {"coupon", "discount_code"},
		"location":      {"location"},
		"channel":       {"channel"},
		"utm_source":    {"utm_source"},
		"utm_medium":    {"utm_medium"},
		"utm_campaign":  {"utm_campaign"},
		"utm_term":      {"utm_term"},
		"utm_content":   {"utm_content"},
		"items":         {"items", "products"},
		"status":        {"status"},
		"refund_amount": {"refund_amount", "refunded_amount", "refund"},
		"refunded_at":   {"refunded_at"},
		"country":       {"country"},
		"store":         {"store"},
		"landing_page":  {"landing_page", "landing_site"},
		"referrer":      {"referrer", "referring_site"},
		"user_agent":    {"user_agent"},
	},
	items: map[string][]string{
		"product_id": {"product_id"},
		"sku":        {"sku"},
		"name":       {"product_name"},
		"quantity":   {"quantity", "qty"},
		"price":      {"price", "unit_price"},
		"category":   {"category"},
	},
	status: genericStatus,
}

func genericStatus(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "completed", "complete", "paid", "fulfilled", "closed", "authorized", "partially_paid", "success", "succeeded":
		return "completed"
	case "refunded":
		return "refunded"
	case "partially_refunded", "partially refunded":
		return "partially_refunded"
	case "pending", "voided", "void", "cancelled", "canceled", "failed", "expired", "draft":
		return "skip"
	}
	return ""
}

// ordersConverter groups the rows of one order (line items) and emits an "Order
// Completed" event, plus "Order Refunded" for refunds.
//
// Exports list an order's rows together, but not always strictly: the UCI Online Retail
// file interleaves a few invoices. An order therefore stays open until orderWindow rows
// have passed without it; a row of an order already closed is an error.
type ordersConverter struct {
	base
	p     *orderPreset
	open  map[string]*orderGroup
	lru   list.List      // of *orderGroup, least recently touched first
	n     int            // rows seen
	seen  map[uint64]int // hash of a closed order id → its first line (8 bytes a key, not the id)
	seed  maphash.Seed
	group []*row // the rows of the order being built
}

// orderWindow is how many rows an order stays open without a row of its own.
const orderWindow = 5000

type orderGroup struct {
	id   string
	rows []*row
	last int
	elem *list.Element
}

func newOrdersConverter(opt Options) (*ordersConverter, error) {
	p := genericOrders
	switch opt.Preset {
	case "":
	case "shopify":
		p = shopifyOrders
	case "online-retail":
		p = onlineRetailOrders
	case "google-ads", "meta-ads":
		return nil, fmt.Errorf("--preset %s is a spend export: use omniroi import spend", opt.Preset)
	default:
		return nil, fmt.Errorf("unknown orders preset %q: want shopify or online-retail", opt.Preset)
	}
	return &ordersConverter{base: base{opt: opt}, p: p, open: map[string]*orderGroup{}, seen: map[uint64]int{}, seed: maphash.MakeSeed()}, nil
}

func (c *ordersConverter) isHeader(keys map[string]int) bool {
	for _, k := range c.p.fields["order_id"] {
		if _, ok := keys[k]; ok {
			return true
		}
	}
	return false
}

func (c *ordersConverter) wantsObjects() bool { return true }

func (c *ordersConverter) add(r *row, emit func(*unit)) bool {
	c.n++
	defer c.evict(emit)
	if r.hdr == nil && r.obj == nil {
		emit(&unit{rows: []*row{r}, err: rowErr(r, "", "not a JSON object")})
		return true
	}
	id, _ := r.get(c.p.fields["order_id"]...)
	if id == "" {
		emit(&unit{rows: []*row{r}, err: rowErr(r, c.p.fields["order_id"][0], "order id is empty")})
		return true
	}
	if g, ok := c.open[id]; ok {
		g.rows = append(g.rows, r)
		g.last = c.n
		c.lru.MoveToBack(g.elem)
		return true
	}
	if first, ok := c.seen[maphash.String(c.seed, id)]; ok {
		emit(&unit{rows: []*row{r}, err: rowErr(r, c.p.fields["order_id"][0],
			"order %q appeared before at line %d, over %d rows earlier; sort the file by order", id, first, orderWindow)})
		return true
	}
	g := &orderGroup{id: id, rows: []*row{r}, last: c.n}
	g.elem = c.lru.PushBack(g)
	c.open[id] = g
	return true
}

// evict closes the orders that have had no row for orderWindow rows.
func (c *ordersConverter) evict(emit func(*unit)) {
	for e := c.lru.Front(); e != nil && c.n-e.Value.(*orderGroup).last >= orderWindow; e = c.lru.Front() {
		c.close(e.Value.(*orderGroup), emit)
	}
}

func (c *ordersConverter) close(g *orderGroup, emit func(*unit)) {
	c.lru.Remove(g.elem)
	delete(c.open, g.id)
	c.seen[maphash.String(c.seed, g.id)] = g.rows[0].line
	c.group = g.rows
	u := &unit{rows: g.rows}
	c.build(u)
	c.group = nil
	emit(u)
}

func (c *ordersConverter) flush(emit func(*unit)) {
	for e := c.lru.Front(); e != nil; e = c.lru.Front() {
		c.close(e.Value.(*orderGroup), emit)
	}
}

// field returns the first non-empty value of an order field over the order's rows.
func (c *ordersConverter) field(name string) (val string, r *row, col string) {
	for _, gr := range c.group {
		if v, col := gr.get(c.p.fields[name]...); v != "" {
			return v, gr, col
		}
	}
	return "", c.group[0], ""
}

type product struct {
	m     *productJSON
	total int64
	kind  string // "" product, "shipping", "fee"
}

// build turns the rows of one order (c.group) into its events: an Order Completed,
// and an Order Refunded when the order was refunded, or only an Order Refunded for a
// cancellation invoice. It sets u.skipped for orders that are skipped, and u.err (with
// no events) for the first problem found; the steps run in a fixed order so that the
// error reported stays the same.
func (c *ordersConverter) build(u *unit) {
	o := &orderBuild{c: c, u: u, first: c.group[0]}
	o.orderID, _ = o.first.get(c.p.fields["order_id"]...)
	// The amount maps stay out of orderBuild so that they can live on the stack.
	amounts, present := map[string]int64{}, map[string]bool{}
	skip, err := o.checkStatus()
	if err == nil && !skip {
		err = o.readOrder(amounts, present)
	}
	switch {
	case err != nil:
		u.err = err
		return
	case skip:
		u.skipped = true
		return
	}
	o.buyer()
	o.orderProps()
	if o.refundOnly {
		o.emitRefundOnly()
		return
	}
	o.emitCompleted(amounts, present)
}

// orderBuild holds one order while build works through its steps: what each step
// read from the order's rows, for the steps after it.
type orderBuild struct {
	c       *ordersConverter
	u       *unit
	first   *row
	orderID string

	status     string // as the preset maps it: completed, refunded, partially_refunded, skip
	refundOnly bool   // a cancellation invoice ("C" order ids where the preset says so)
	cur        string
	ts         time.Time

	overflow bool // a sum of amounts went beyond the money range

	products     []product // line items from item columns
	itemsSum     int64     // their totals, shipping lines included
	shipCol      bool      // the order has a shipping column
	productsJSON json.RawMessage
	jsonItemsSum int64 // the priced products of an items JSON array
	pricedJSON   bool
	itemCount    int64 // an items cell holding a count; -1 without

	total, revenue int64

	userID, anonID string
	ctx            *payloadContext
	props          *orderProps
	plist          []*productJSON // the product line items (no shipping or fees)
}

// readOrder reads, in this order, the order's currency, date, amount columns (into
// amounts, in minor units, and present, which columns had a value), line items and
// items cell, and works out its total and revenue; it stops at the first error.
func (o *orderBuild) readOrder(amounts map[string]int64, present map[string]bool) *RowError {
	if err := o.currency(); err != nil {
		return err
	}
	if err := o.timestamp(); err != nil {
		return err
	}
	if err := o.amountColumns(amounts, present); err != nil {
		return err
	}
	if err := o.lineItems(amounts, present); err != nil {
		return err
	}
	if err := o.itemsCell(); err != nil {
		return err
	}
	return o.totals(amounts, present)
}

// add sums two amounts and notes an overflow: a file of absurd amounts must not wrap
// around into a plausible-looking total.
func (o *orderBuild) add(a, b int64) int64 {
	s, ok := money.Add(a, b)
	if !ok || money.CheckRange(s) != nil {
		o.overflow = true
	}
	return s
}

// checkStatus maps the status column to the preset's statuses, and reports whether
// the order is skipped (pending, voided, cancelled). Cancellation invoices need no
// status.
func (o *orderBuild) checkStatus() (skip bool, err *RowError) {
	statusRaw, sr, scol := o.c.field("status")
	o.status = o.c.p.status(statusRaw)
	o.refundOnly = o.c.p.cRefunds && strings.HasPrefix(o.orderID, "C")
	switch {
	case o.refundOnly:
	case o.status == "":
		return false, rowErr(sr, scol, "status %q is not one of completed, refunded, partially_refunded (or pending/voided/cancelled, which are skipped)", statusRaw)
	case o.status == "skip":
		return true, nil
	}
	return false, nil
}

// currency reads the order's currency: its column, else --currency, else the preset's.
func (o *orderBuild) currency() *RowError {
	cur, cr, ccol := o.c.field("currency")
	if cur != "" {
		v, err := normCurrency(cur)
		if err != nil {
			return rowErr(cr, ccol, "%v", err)
		}
		cur = v
	} else if cur = o.c.opt.Currency; cur == "" {
		if cur = o.c.p.currency; cur == "" {
			return rowErr(o.first, "currency", "no currency: add a currency column or pass --currency")
		}
	}
	o.cur = cur
	return nil
}

// timestamp reads the order's date, which every order needs.
func (o *orderBuild) timestamp() *RowError {
	tsRaw, tr, tcol := o.c.field("timestamp")
	if tsRaw == "" {
		return rowErr(o.first, o.c.p.fields["timestamp"][0], "order %q has no date", o.orderID)
	}
	ts, err := parseTime(tsRaw)
	if err != nil {
		return rowErr(tr, tcol, "%v", err)
	}
	o.ts = ts
	return nil
}

// amountColumns reads the amount columns (total, revenue, subtotal, shipping, tax,
// discount, refund_amount) in that order.
func (o *orderBuild) amountColumns(amounts map[string]int64, present map[string]bool) *RowError {
	for _, k := range []string{"total", "revenue", "subtotal", "shipping", "tax", "discount", "refund_amount"} {
		n, ok, rerr := o.amount(k)
		if rerr != nil {
			return rerr
		}
		amounts[k], present[k] = n, ok
	}
	return nil
}

// amount reads one amount column in the order's currency; false when it is empty.
func (o *orderBuild) amount(name string) (int64, bool, *RowError) {
	v, r, col := o.c.field(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := parseAmount(v, o.cur)
	if err != nil {
		return 0, false, rowErr(r, col, "%v", err)
	}
	return n, true, nil
}

// lineItems reads the line items of rows with item columns, and counts shipping lines
// as the order's shipping when it has no shipping column.
func (o *orderBuild) lineItems(amounts map[string]int64, present map[string]bool) *RowError {
	for _, gr := range o.c.group {
		p, perr := o.c.product(gr, o.cur)
		if perr != nil {
			return perr
		}
		if p != nil {
			o.products = append(o.products, *p)
			o.itemsSum = o.add(o.itemsSum, p.total)
		}
	}
	o.shipCol = present["shipping"]
	for _, p := range o.products {
		if p.kind == "shipping" && !o.shipCol {
			amounts["shipping"] = o.add(amounts["shipping"], p.total)
			present["shipping"] = true
		}
	}
	return nil
}

// itemsCell reads the items column: a JSON array of products (kept as is, and its
// priced products summed) or a count of items.
func (o *orderBuild) itemsCell() *RowError {
	o.itemCount = -1
	v, ir, icol := o.c.field("items")
	if v == "" {
		return nil
	}
	if !strings.HasPrefix(v, "[") {
		n, err := parseCount(v)
		if err != nil {
			return rowErr(ir, icol, "%q is neither a JSON array of products nor a count", v)
		}
		o.itemCount = n
		return nil
	}
	var arr []struct {
		Price    json.Number `json:"price"`
		Quantity json.Number `json:"quantity"`
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&arr); err != nil {
		return rowErr(ir, icol, "items is not a JSON array of products: %v", err)
	}
	o.productsJSON = json.RawMessage(v)
	for _, it := range arr {
		if it.Price == "" {
			continue
		}
		q, err := parseCount(string(it.Quantity))
		if err != nil || it.Quantity == "" {
			q = 1
		}
		t, err := mulPrice(q, string(it.Price), o.cur)
		if err != nil {
			return rowErr(ir, icol, "product price %v", err)
		}
		o.jsonItemsSum = o.add(o.jsonItemsSum, t)
		o.pricedJSON = true
	}
	return nil
}

// totals works out the order's total (its column, else revenue, else the line items
// with tax, discount and shipping) and revenue (its column, else the total less
// shipping and tax), and rejects sums beyond the money range.
func (o *orderBuild) totals(amounts map[string]int64, present map[string]bool) *RowError {
	total, ok := amounts["total"], present["total"]
	switch {
	case ok:
	case present["revenue"]:
		total = amounts["revenue"]
	case len(o.products) > 0:
		// itemsSum holds shipping lines already; a shipping column comes on top.
		total = o.add(o.add(o.itemsSum, amounts["tax"]), -amounts["discount"])
		if o.shipCol {
			total = o.add(total, amounts["shipping"])
		}
	case o.pricedJSON:
		total = o.add(o.add(o.add(o.jsonItemsSum, amounts["shipping"]), amounts["tax"]), -amounts["discount"])
	default:
		return rowErr(o.first, "total", "order %q has no total, revenue or priced line items", o.orderID)
	}
	revenue, ok := amounts["revenue"], present["revenue"]
	if !ok {
		revenue = o.add(o.add(total, -amounts["shipping"]), -amounts["tax"])
	}
	if o.overflow {
		return rowErr(o.first, "total", "order %q: its amounts add up beyond ±10^15 minor units; no real order is that large", o.orderID)
	}
	o.total, o.revenue = total, revenue
	return nil
}

// buyer works out who bought (a customer id, else a stable anonymous id from email or
// phone, else one from the order id) and the events' context: contact traits,
// campaign, country, landing page and user agent.
func (o *orderBuild) buyer() {
	c := o.c
	email, _, _ := c.field("email")
	phone, _, _ := c.field("phone")
	userID, _, _ := c.field("customer_id")
	userID = strings.TrimSuffix(userID, ".0") // spreadsheets turn ids into floats
	anonID, _, _ := c.field("anonymous_id")
	if userID == "" && anonID == "" {
		switch {
		case email != "":
			anonID = anonFor("email", email)
		case phone != "":
			anonID = anonFor("phone", phone)
		default:
			anonID = idFor("import-guest-", o.orderID)
		}
	}
	o.userID, o.anonID = userID, anonID

	ctx := &payloadContext{Library: importLibrary}
	if email != "" || phone != "" {
		ctx.Traits = &contactTraits{Email: email, Phone: phone}
	}
	var camp campaign
	camp.Source, _, _ = c.field("utm_source")
	camp.Medium, _, _ = c.field("utm_medium")
	camp.Name, _, _ = c.field("utm_campaign")
	camp.Term, _, _ = c.field("utm_term")
	camp.Content, _, _ = c.field("utm_content")
	if camp != (campaign{}) {
		ctx.Campaign = &camp
	}
	if v, _, _ := c.field("country"); v != "" {
		ctx.Location = &geo{Country: v}
	}
	// The page the buyer landed on and where from: their utm_* and click ids (gclid,
	// msclkid, ...) give web orders their channel when no utm columns do.
	landing, _, _ := c.field("landing_page")
	ref, _, _ := c.field("referrer")
	if landing != "" || ref != "" {
		ctx.Page = &pageInfo{URL: landing, Referrer: ref}
	}
	ctx.UserAgent, _, _ = c.field("user_agent")
	o.ctx = ctx
}

// orderProps sets the order's properties other than its amounts: id, currency,
// location, channel, coupon, store, and its products or item count.
func (o *orderBuild) orderProps() {
	c := o.c
	props := &orderProps{OrderID: o.orderID, Currency: o.cur}
	loc, _, _ := c.field("location")
	if c.p.location != nil {
		loc = c.p.location(loc)
	}
	props.Location = strings.ToLower(loc)
	props.Channel, _, _ = c.field("channel")
	props.Coupon, _, _ = c.field("coupon")
	props.Store, _, _ = c.field("store")
	for _, p := range o.products {
		if p.kind == "" {
			o.plist = append(o.plist, p.m)
		}
	}
	if o.productsJSON != nil {
		props.Products = o.productsJSON
	} else if o.plist != nil {
		props.Products = o.plist
	}
	if o.itemCount >= 0 {
		itemCount := o.itemCount
		props.ItemCount = &itemCount
	}
	o.props = props
}

// emit normalises one event of the order and adds it to the unit; false, with u.err
// set, when it cannot be encoded or normalised.
func (o *orderBuild) emit(name, id string, ts time.Time, props *orderProps) bool {
	ctx, u, first := o.ctx, o.u, o.first
	tp := &trackPayload{Type: "track", Event: name, MessageID: id, UserID: o.userID, AnonymousID: o.anonID,
		Timestamp: event.FormatTime(ts), Properties: props, Context: ctx}
	if name == "Order Refunded" && (ctx.Campaign != nil || ctx.Page != nil) {
		// A refund is no marketing touch: keep who, drop the campaign.
		rc := *ctx
		rc.Campaign, rc.Page = nil, nil
		tp.Context = &rc
	}
	b, err := json.Marshal(tp)
	// Orders with hundreds of lines outgrow the API's 32 KB per event: keep as many
	// products as fit, and say how many there were.
	if list, ok := props.Products.([]*productJSON); ok && err == nil && len(b) > maxOrderBytes {
		all := int64(len(list))
		cp := *props
		cp.ItemCount, cp.ProductsTruncated = &all, true
		tp.Properties = &cp
		for keep := len(list) * maxOrderBytes / len(b); keep >= 0 && err == nil; keep = keep * 9 / 10 {
			cp.Products = list[:keep]
			if b, err = json.Marshal(tp); len(b) <= maxOrderBytes || keep == 0 {
				break
			}
		}
	}
	if err != nil {
		u.err = rowErr(first, "", "cannot encode: %v", err)
		return false
	}
	ev, err := o.c.normalize(b, time.Time{})
	if err != nil {
		u.err = eventErr(first, err)
		return false
	}
	u.events = append(u.events, ev)
	return true
}

// emitRefundOnly adds the Order Refunded of a cancellation invoice, whose quantities
// (and so the sum) are negative.
func (o *orderBuild) emitRefundOnly() {
	refund := -o.total
	rp := &orderProps{OrderID: o.orderID, Currency: o.cur, Total: decimalNumber(refund, o.cur)}
	for _, p := range o.plist {
		if p.Quantity < 0 {
			p.Quantity = -p.Quantity
		}
	}
	if o.plist != nil {
		rp.Products = o.plist
	}
	o.emit("Order Refunded", idFor("import-refund-", o.orderID), o.ts, rp)
}

// emitCompleted adds the Order Completed with its amounts, then the Order Refunded of
// a refunded order (of everything, or of its refund amount); on an error the unit
// keeps no events.
func (o *orderBuild) emitCompleted(amounts map[string]int64, present map[string]bool) {
	c, u, cur, props := o.c, o.u, o.cur, o.props
	props.Total = decimalNumber(o.total, cur)
	props.Revenue = decimalNumber(o.revenue, cur)
	for k, dst := range map[string]*json.Number{"subtotal": &props.Subtotal, "shipping": &props.Shipping, "tax": &props.Tax, "discount": &props.Discount} {
		if present[k] {
			*dst = decimalNumber(amounts[k], cur)
		}
	}
	if !o.emit("Order Completed", idFor("import-order-", o.orderID), o.ts, props) {
		return
	}

	refund, hasRefund := amounts["refund_amount"], present["refund_amount"] && amounts["refund_amount"] != 0
	if refund < 0 {
		refund = -refund
	}
	// A refund of everything carries no amount: the processor then refunds the order's
	// own value (its revenue), rather than a gross total that includes tax and shipping.
	full := o.status == "refunded" && (!hasRefund || refund == o.total) || hasRefund && refund == o.total
	if full {
		hasRefund = true
	}
	if o.status == "partially_refunded" && !hasRefund {
		u.err = rowErr(o.first, c.p.fields["refund_amount"][0], "a partially refunded order needs its refund amount")
		u.events = nil
		return
	}
	if hasRefund {
		rts := o.ts
		if v, rr, rcol := c.field("refunded_at"); v != "" {
			var err error
			if rts, err = parseTime(v); err != nil {
				u.err = rowErr(rr, rcol, "%v", err)
				u.events = nil
				return
			}
		}
		rp := &orderProps{OrderID: o.orderID, Currency: cur}
		if !full {
			rp.Total = decimalNumber(refund, cur)
		}
		o.emit("Order Refunded", idFor("import-refund-", o.orderID), rts, rp)
	}
	if u.err != nil {
		u.events = nil
	}
}

// product reads a line item from r's item columns; nil when the row has none.
func (c *ordersConverter) product(r *row, cur string) (*product, *RowError) {
	vals := map[string]string{}
	cols := map[string]string{}
	for k, keys := range c.p.items {
		if v, col := r.get(keys...); v != "" {
			vals[k], cols[k] = v, col
		}
	}
	if len(vals) == 0 {
		return nil, nil
	}
	m := &productJSON{ProductID: vals["product_id"], SKU: vals["sku"], Name: vals["name"], Category: vals["category"]}
	qty := int64(1)
	if v := vals["quantity"]; v != "" {
		n, err := parseCount(v)
		if err != nil {
			return nil, rowErr(r, cols["quantity"], "%v", err)
		}
		qty = n
	}
	m.Quantity = qty
	p := &product{m: m}
	if v := vals["price"]; v != "" {
		unit, err := parseAmount(v, cur)
		if err != nil {
			return nil, rowErr(r, cols["price"], "%v", err)
		}
		t, err := mulPrice(qty, strings.TrimSuffix(strings.TrimSpace(v), " "+cur), cur)
		if err != nil {
			return nil, rowErr(r, cols["price"], "%v", err)
		}
		m.Price = decimalNumber(unit, cur)
		p.total = t
	}
	id := vals["product_id"]
	if id == "" {
		id = vals["sku"]
	}
	p.kind = c.p.nonProducts[strings.ToUpper(id)]
	return p, nil
}

// Segment payloads the importer writes, typed: encoding a struct is several times
// cheaper than a map of interfaces, and orders are the bulk of big imports.
// maxOrderBytes leaves room under event.MaxEventBytes for what Normalize adds.
const maxOrderBytes = event.MaxEventBytes - 1024

type trackPayload struct {
	Type        string          `json:"type"`
	Event       string          `json:"event"`
	MessageID   string          `json:"messageId"`
	UserID      string          `json:"userId,omitempty"`
	AnonymousID string          `json:"anonymousId,omitempty"`
	Timestamp   string          `json:"timestamp"`
	Properties  *orderProps     `json:"properties"`
	Context     *payloadContext `json:"context"`
}

type orderProps struct {
	OrderID   string      `json:"order_id"`
	Total     json.Number `json:"total,omitempty"`
	Revenue   json.Number `json:"revenue,omitempty"`
	Subtotal  json.Number `json:"subtotal,omitempty"`
	Shipping  json.Number `json:"shipping,omitempty"`
	Tax       json.Number `json:"tax,omitempty"`
	Discount  json.Number `json:"discount,omitempty"`
	Coupon    string      `json:"coupon,omitempty"`
	Currency  string      `json:"currency"`
	Products  any         `json:"products,omitempty"`
	ItemCount *int64      `json:"item_count,omitempty"`
	// ProductsTruncated: products lists only the first lines of a very large order.
	ProductsTruncated bool   `json:"products_truncated,omitempty"`
	Location          string `json:"location,omitempty"`
	Channel           string `json:"channel,omitempty"`
	Store             string `json:"store,omitempty"`
}

type productJSON struct {
	ProductID string      `json:"product_id,omitempty"`
	SKU       string      `json:"sku,omitempty"`
	Name      string      `json:"name,omitempty"`
	Category  string      `json:"category,omitempty"`
	Price     json.Number `json:"price,omitempty"`
	Quantity  int64       `json:"quantity"`
}

type payloadContext struct {
	Library   library        `json:"library"`
	Traits    *contactTraits `json:"traits,omitempty"`
	Campaign  *campaign      `json:"campaign,omitempty"`
	Location  *geo           `json:"location,omitempty"`
	Page      *pageInfo      `json:"page,omitempty"`
	UserAgent string         `json:"userAgent,omitempty"`
}

type pageInfo struct {
	URL      string `json:"url,omitempty"`
	Referrer string `json:"referrer,omitempty"`
}

type library struct {
	Name string `json:"name"`
}

var importLibrary = library{Name: "omniroi-import"}

type contactTraits struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

type campaign struct {
	Source  string `json:"source,omitempty"`
	Medium  string `json:"medium,omitempty"`
	Name    string `json:"name,omitempty"`
	Term    string `json:"term,omitempty"`
	Content string `json:"content,omitempty"`
}

type geo struct {
	Country string `json:"country,omitempty"`
}
