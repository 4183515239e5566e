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

func (c *ordersConverter) build(u *unit) {
	first := c.group[0]
	orderID, _ := first.get(c.p.fields["order_id"]...)

	statusRaw, sr, scol := c.field("status")
	status := c.p.status(statusRaw)
	refundOnly := c.p.cRefunds && strings.HasPrefix(orderID, "C")
	switch {
	case refundOnly:
	case status == "":
		u.err = rowErr(sr, scol, "status %q is not one of completed, refunded, partially_refunded (or pending/voided/cancelled, which are skipped)", statusRaw)
		return
	case status == "skip":
		u.skipped = true
		return
	}

	cur, cr, ccol := c.field("currency")
	if cur != "" {
		v, err := normCurrency(cur)
		if err != nil {
			u.err = rowErr(cr, ccol, "%v", err)
			return
		}
		cur = v
	} else if cur = c.opt.Currency; cur == "" {
		if cur = c.p.currency; cur == "" {
			u.err = rowErr(first, "currency", "no currency: add a currency column or pass --currency")
			return
		}
	}

	tsRaw, tr, tcol := c.field("timestamp")
	if tsRaw == "" {
		u.err = rowErr(first, c.p.fields["timestamp"][0], "order %q has no date", orderID)
		return
	}
	ts, err := parseTime(tsRaw)
	if err != nil {
		u.err = rowErr(tr, tcol, "%v", err)
		return
	}

	amount := func(name string) (int64, bool, *RowError) {
		v, r, col := c.field(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := parseAmount(v, cur)
		if err != nil {
			return 0, false, rowErr(r, col, "%v", err)
		}
		return n, true, nil
	}
	var amounts = map[string]int64{}
	var present = map[string]bool{}
	for _, k := range []string{"total", "revenue", "subtotal", "shipping", "tax", "discount", "refund_amount"} {
		n, ok, rerr := amount(k)
		if rerr != nil {
			u.err = rerr
			return
		}
		amounts[k], present[k] = n, ok
	}

	// Sums of amounts are checked: a file of absurd amounts must not wrap around into a
	// plausible-looking total.
	overflow := false
	add := func(a, b int64) int64 {
		s, ok := money.Add(a, b)
		if !ok || money.CheckRange(s) != nil {
			overflow = true
		}
		return s
	}

	// Line items: rows with item columns, or an items cell (JSON array or a count).
	var products []product
	var itemsSum int64
	for _, gr := range c.group {
		p, perr := c.product(gr, cur)
		if perr != nil {
			u.err = perr
			return
		}
		if p != nil {
			products = append(products, *p)
			itemsSum = add(itemsSum, p.total)
		}
	}
	shipCol := present["shipping"]
	for _, p := range products {
		if p.kind == "shipping" && !shipCol {
			amounts["shipping"] = add(amounts["shipping"], p.total)
			present["shipping"] = true
		}
	}
	var productsJSON json.RawMessage
	var jsonItemsSum int64
	pricedJSON := false
	itemCount := int64(-1)
	if v, ir, icol := c.field("items"); v != "" {
		if strings.HasPrefix(v, "[") {
			var arr []struct {
				Price    json.Number `json:"price"`
				Quantity json.Number `json:"quantity"`
			}
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&arr); err != nil {
				u.err = rowErr(ir, icol, "items is not a JSON array of products: %v", err)
				return
			}
			productsJSON = json.RawMessage(v)
			for _, it := range arr {
				if it.Price == "" {
					continue
				}
				q, err := parseCount(string(it.Quantity))
				if err != nil || it.Quantity == "" {
					q = 1
				}
				t, err := mulPrice(q, string(it.Price), cur)
				if err != nil {
					u.err = rowErr(ir, icol, "product price %v", err)
					return
				}
				jsonItemsSum = add(jsonItemsSum, t)
				pricedJSON = true
			}
		} else if n, err := parseCount(v); err == nil {
			itemCount = n
		} else {
			u.err = rowErr(ir, icol, "%q is neither a JSON array of products nor a count", v)
			return
		}
	}

	total, ok := amounts["total"], present["total"]
	switch {
	case ok:
	case present["revenue"]:
		total = amounts["revenue"]
	case len(products) > 0:
		// itemsSum holds shipping lines already; a shipping column comes on top.
		total = add(add(itemsSum, amounts["tax"]), -amounts["discount"])
		if shipCol {
			total = add(total, amounts["shipping"])
		}
	case pricedJSON:
		total = add(add(add(jsonItemsSum, amounts["shipping"]), amounts["tax"]), -amounts["discount"])
	default:
		u.err = rowErr(first, "total", "order %q has no total, revenue or priced line items", orderID)
		return
	}
	revenue, ok := amounts["revenue"], present["revenue"]
	if !ok {
		revenue = add(add(total, -amounts["shipping"]), -amounts["tax"])
	}
	if overflow {
		u.err = rowErr(first, "total", "order %q: its amounts add up beyond ±10^15 minor units; no real order is that large", orderID)
		return
	}

	// Who bought: a customer id, else a stable anonymous id from email or phone.
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
			anonID = idFor("import-guest-", orderID)
		}
	}

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

	props := &orderProps{OrderID: orderID, Currency: cur}
	loc, _, _ := c.field("location")
	if c.p.location != nil {
		loc = c.p.location(loc)
	}
	props.Location = strings.ToLower(loc)
	props.Channel, _, _ = c.field("channel")
	props.Coupon, _, _ = c.field("coupon")
	props.Store, _, _ = c.field("store")
	var plist []*productJSON
	for _, p := range products {
		if p.kind == "" {
			plist = append(plist, p.m)
		}
	}
	if productsJSON != nil {
		props.Products = productsJSON
	} else if plist != nil {
		props.Products = plist
	}
	if itemCount >= 0 {
		props.ItemCount = &itemCount
	}

	make1 := func(name, id string, ts time.Time, props *orderProps) bool {
		tp := &trackPayload{Type: "track", Event: name, MessageID: id, UserID: userID, AnonymousID: anonID,
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
		ev, err := c.normalize(b, time.Time{})
		if err != nil {
			u.err = eventErr(first, err)
			return false
		}
		u.events = append(u.events, ev)
		return true
	}

	if refundOnly {
		// A cancellation invoice: quantities (and so the sum) are negative.
		refund := -total
		rp := &orderProps{OrderID: orderID, Currency: cur, Total: decimalNumber(refund, cur)}
		for _, p := range plist {
			if p.Quantity < 0 {
				p.Quantity = -p.Quantity
			}
		}
		if plist != nil {
			rp.Products = plist
		}
		make1("Order Refunded", idFor("import-refund-", orderID), ts, rp)
		return
	}

	props.Total = decimalNumber(total, cur)
	props.Revenue = decimalNumber(revenue, cur)
	for k, dst := range map[string]*json.Number{"subtotal": &props.Subtotal, "shipping": &props.Shipping, "tax": &props.Tax, "discount": &props.Discount} {
		if present[k] {
			*dst = decimalNumber(amounts[k], cur)
		}
	}
	if !make1("Order Completed", idFor("import-order-", orderID), ts, props) {
		return
	}

	refund, hasRefund := amounts["refund_amount"], present["refund_amount"] && amounts["refund_amount"] != 0
	if refund < 0 {
		refund = -refund
	}
	// A refund of everything carries no amount: the processor then refunds the order's
	// own value (its revenue), rather than a gross total that includes tax and shipping.
	full := status == "refunded" && (!hasRefund || refund == total) || hasRefund && refund == total
	if full {
		hasRefund = true
	}
	if status == "partially_refunded" && !hasRefund {
		u.err = rowErr(first, c.p.fields["refund_amount"][0], "a partially refunded order needs its refund amount")
		u.events = nil
		return
	}
	if hasRefund {
		rts := ts
		if v, rr, rcol := c.field("refunded_at"); v != "" {
			if rts, err = parseTime(v); err != nil {
				u.err = rowErr(rr, rcol, "%v", err)
				u.events = nil
				return
			}
		}
		rp := &orderProps{OrderID: orderID, Currency: cur}
		if !full {
			rp.Total = decimalNumber(refund, cur)
		}
		make1("Order Refunded", idFor("import-refund-", orderID), rts, rp)
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
