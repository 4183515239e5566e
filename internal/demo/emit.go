package demo

import (
	"slices"
	"strconv"
	"time"
)

// Sources are the systems that send the demo's events; each gets a write key.
var Sources = []string{"web", "store-till", "store-wifi", "email", "sms"}

// SourceKinds says which sources hold a public key: the web shop's analytics.js and the
// guest Wi-Fi portal run in customers' browsers (client); the till's sync, the email
// platform's and the SMS club's webhooks run on servers (server).
var SourceKinds = map[string]string{"web": "client", "store-till": "server", "store-wifi": "client", "email": "server", "sms": "server"}

const (
	srcWebSys uint8 = iota
	srcTill
	srcWifi
	srcESP
	srcSMSSys
)

// SiteURL is the demo shop's web address.
const SiteURL = "https://crumbandco.example"

type session struct {
	t   int64 // ms of the last event in the session
	dev int
	url string // the current page
	ref string // document.referrer of the current page
}

type pending struct {
	ts       int64
	seq      int32
	src      uint8
	off, end int32
}

// emitter turns one person's simulated day into Segment events. It has its own random
// generator for details that never change an outcome.
type emitter struct {
	w    *world
	p    *person
	r    splitmix
	buf  []byte
	evs  []pending
	seq  int32
	day  int
	day0 int64 // ms at local midnight

	anon       [2]string
	known      [2]string // user id the site knows on each device
	traitsSent [2]bool
	userID     string // web account id
	loyalty    string // loyalty card id
	nlID       string // newsletter-only subscriber id
	email      string
	phone      string
	first      string
	last       string
	account    bool
	loyal      bool
	// Consent as the shop records it when a customer signs up: the newsletter box at
	// the web checkout or on the loyalty form, the SMS club on the loyalty form.
	subscribed, smsOpt bool
	sess               [12]session
	nsess              int
	prefix             []byte
}

var firstNames = []string{"Anna", "Bram", "Chloe", "Daan", "Emma", "Finn", "Gwen", "Hugo", "Isa", "Jesse", "Kim", "Lars", "Mila", "Noah", "Olivia", "Pieter", "Quinn", "Roos", "Sam", "Tess", "Umar", "Vera", "Wout", "Yara", "Zoe", "Liam", "Sara", "Milan", "Julia", "Ravi"}
var lastNames = []string{"de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "Kaya", "Nguyen", "Murphy", "Schmidt", "Rossi", "Garcia"}
var mailHosts = []string{"gmail.com", "outlook.com", "ziggo.nl", "hotmail.com", "icloud.com", "proton.me"}

var userAgents = [2][]string{
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"},
}

func hex32(x uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[x&15]
		x >>= 4
	}
	return string(b[:])
}

func (em *emitter) start(p *person, account, loyal bool) {
	w := em.w
	em.p = p
	em.r = splitmix{mix64(w.seedHash ^ uint64(p.id)<<1 ^ 0xe7037ed1a0b428db)}
	em.evs = em.evs[:0]
	em.buf = em.buf[:0]
	em.seq = 0
	h := mix64(w.seedHash ^ uint64(p.id) ^ 0x8ebc6af09c88c6e3)
	em.anon[0] = "anon-" + hex32(h)
	em.anon[1] = "anon-" + hex32(mix64(h+1))
	em.known = [2]string{}
	em.traitsSent = [2]bool{}
	em.subscribed, em.smsOpt = false, false
	em.userID = "cus_" + strconv.FormatUint(uint64(p.id)+100000, 10)
	em.loyalty = "loy_" + strconv.FormatUint(uint64(p.id)*7+500003, 10)
	em.nlID = "sub_" + strconv.FormatUint(uint64(p.id)+100000, 10)
	em.first = firstNames[em.r.intn(len(firstNames))]
	em.last = lastNames[em.r.intn(len(lastNames))]
	em.email = lower(em.first) + "." + lower(squash(em.last)) + strconv.Itoa(int(p.id)) + "@" + mailHosts[em.r.intn(len(mailHosts))]
	em.phone = "+316" + strconv.FormatUint(10000000+(h>>8)%89999999, 10)
	em.account, em.loyal = account, loyal
	if account {
		em.known[0] = em.userID // an existing customer is logged in on their phone
	}
	em.prefix = append(em.prefix[:0], w.msgPrefix...)
	em.prefix = strconv.AppendUint(em.prefix, uint64(p.id), 36)
	em.prefix = append(em.prefix, '-')
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func squash(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func (em *emitter) newDay(d int) {
	em.day = d
	em.day0 = em.w.days[d].date.UnixMilli()
	em.nsess = 0
}

// at returns a time today: hour drawn from weights (index = hour), uniform minute.
func (em *emitter) at(hours *[24]float64) int64 {
	h := pick(em.r.float(), hours[:])
	return em.day0 + int64(h)*3_600_000 + int64(em.r.intn(3_600_000))
}

var (
	webHours   = [24]float64{0.2, 0.1, 0, 0, 0, 0.1, 0.4, 1, 1.5, 1.5, 1.5, 1.8, 2.5, 2, 1.5, 1.5, 1.8, 2.2, 2.5, 3.2, 3.5, 3, 2, 0.8}
	storeHours = [24]float64{7: 2.5, 8: 3.5, 9: 2.5, 10: 2, 11: 2.2, 12: 3.2, 13: 2.6, 14: 1.6, 15: 1.8, 16: 2, 17: 1.4}
	phoneHours = [24]float64{8: 1, 9: 2, 10: 2, 11: 1.5, 12: 1, 13: 1, 14: 1.5, 15: 1.5, 16: 1}
)

// begin opens an event object; finish it with end.
func (em *emitter) begin(ts int64, typ, name string) {
	em.evs = append(em.evs, pending{ts: ts, seq: em.seq, off: int32(len(em.buf))})
	b := append(em.buf, `{"type":"`...)
	b = append(b, typ...)
	if typ == "track" {
		b = append(b, `","event":`...)
		b = appendQuote(b, name)
	} else if name != "" {
		b = append(b, `","name":`...)
		b = appendQuote(b, name)
	} else {
		b = append(b, '"')
	}
	b = append(b, `,"messageId":"`...)
	b = append(b, em.prefix...)
	b = strconv.AppendInt(b, int64(em.seq), 36)
	b = append(b, `","timestamp":"`...)
	b = time.UnixMilli(ts).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, '"')
	em.buf = b
	em.seq++
}

func (em *emitter) end(src uint8) {
	em.buf = append(em.buf, '}')
	e := &em.evs[len(em.evs)-1]
	e.src = src
	e.end = int32(len(em.buf))
}

func (em *emitter) kv(k, v string) {
	em.comma()
	em.buf = append(em.buf, '"')
	em.buf = append(em.buf, k...)
	em.buf = append(em.buf, '"', ':')
	em.buf = appendQuote(em.buf, v)
}

func (em *emitter) kraw(k, raw string) {
	em.comma()
	em.buf = append(em.buf, '"')
	em.buf = append(em.buf, k...)
	em.buf = append(em.buf, '"', ':')
	em.buf = append(em.buf, raw...)
}

func (em *emitter) kmoney(k string, minor int64) {
	em.comma()
	em.buf = append(em.buf, '"')
	em.buf = append(em.buf, k...)
	em.buf = append(em.buf, '"', ':')
	em.buf = appendMoney(em.buf, minor)
}

func (em *emitter) kint(k string, v int64) {
	em.comma()
	em.buf = append(em.buf, '"')
	em.buf = append(em.buf, k...)
	em.buf = append(em.buf, '"', ':')
	em.buf = strconv.AppendInt(em.buf, v, 10)
}

func (em *emitter) open(k string) {
	em.comma()
	em.buf = append(em.buf, '"')
	em.buf = append(em.buf, k...)
	em.buf = append(em.buf, `":{`...)
}

// comma separates members unless an object or array was just opened.
func (em *emitter) comma() {
	if c := em.buf[len(em.buf)-1]; c != '{' && c != '[' {
		em.buf = append(em.buf, ',')
	}
}

func (em *emitter) close() { em.buf = append(em.buf, '}') }

// appendMoney writes minor units as a JSON decimal number (12.50).
func appendMoney(b []byte, minor int64) []byte {
	if minor < 0 {
		b = append(b, '-')
		minor = -minor
	}
	b = strconv.AppendInt(b, minor/100, 10)
	b = append(b, '.')
	c := minor % 100
	b = append(b, byte('0'+c/10), byte('0'+c%10))
	return b
}

// webIDs writes the ids analytics.js would send from device dev.
func (em *emitter) webIDs(dev int) {
	em.kv("anonymousId", em.anon[dev])
	if em.known[dev] != "" {
		em.kv("userId", em.known[dev])
	}
}

func (em *emitter) webContext(s *session, withCampaign *source) {
	em.open("context")
	em.open("page")
	em.kv("url", s.url)
	em.kv("referrer", s.ref)
	em.close()
	if withCampaign != nil {
		if utm := em.utm(withCampaign); utm.source != "" {
			em.open("campaign")
			em.kv("source", utm.source)
			em.kv("medium", utm.medium)
			if utm.name != "" {
				em.kv("name", utm.name)
			}
			em.close()
		}
	}
	em.kv("userAgent", userAgents[s.dev][int(em.p.id)%2])
	em.kv("locale", "nl-NL")
	em.kraw("library", `{"name":"analytics.js","version":"5.2.0"}`)
	em.close()
}

type utmSet struct{ source, medium, name, clickID, referrer, path string }

func (em *emitter) utm(src *source) utmSet {
	switch src.kind {
	case srcOrganic:
		return utmSet{referrer: "https://www.google.com/", path: "/"}
	case srcOrganicCake:
		return utmSet{referrer: "https://www.google.com/", path: "/cakes"}
	case srcReferral:
		return utmSet{referrer: campaignOf(LevReferral).Referrer, path: "/"}
	case srcEmail:
		return utmSet{source: "newsletter", medium: "email", name: src.campaign, path: "/"}
	case srcSMS:
		return utmSet{source: "sms", medium: "sms", name: src.campaign, path: "/offers"}
	case srcLever:
		c := campaignOf(src.lever)
		u := utmSet{source: c.UTMSource, medium: c.UTMMedium, name: c.Campaign, clickID: c.ClickID, referrer: c.Referrer, path: "/"}
		switch src.lever {
		case LevGoogleCakes:
			u.path = "/cakes"
		case LevGoogleLocal:
			u.path = "/visit-us"
		case LevIGAds, LevIGOrganic, LevFBProspecting:
			u.path = "/menu"
		}
		return u
	}
	return utmSet{path: "/"}
}

var pagePaths = []string{"/menu", "/cakes", "/order", "/about", "/visit-us", "/menu/bread", "/menu/pastries"}

// webSession emits a landing page and a few more pages; bounce stops at the landing.
func (em *emitter) webSession(d int, src source, bounce bool) *session {
	ts := em.at(&webHours)
	dev := 0
	if em.p.laptop && em.r.float() < 0.4 {
		dev = 1
	}
	return em.sessionAt(ts, dev, src, bounce)
}

func (em *emitter) sessionAt(ts int64, dev int, src source, bounce bool) *session {
	s := &em.sess[min(em.nsess, len(em.sess)-1)]
	em.nsess++
	u := em.utm(&src)
	url := SiteURL + u.path
	q := ""
	if u.source != "" {
		q = "?utm_source=" + u.source + "&utm_medium=" + u.medium
		if u.name != "" {
			q += "&utm_campaign=" + u.name
		}
	}
	if u.clickID != "" {
		sep := "?"
		if q != "" {
			sep = "&"
		}
		q += sep + u.clickID + "=" + hex32(em.r.next())
	}
	*s = session{t: ts, dev: dev, url: url + q, ref: u.referrer}
	if src.kind == srcEmail || src.kind == srcSMS {
		// Tracked message links carry the subscriber: the site identifies the visitor.
		em.identify(s, false)
	}
	em.begin(s.t, "page", pageTitle(u.path))
	em.webIDs(dev)
	em.open("properties")
	em.kv("path", u.path)
	em.kv("url", s.url)
	em.kv("referrer", u.referrer)
	em.kv("title", pageTitle(u.path)+" | Crumb & Co.")
	if q != "" {
		em.kv("search", q)
	}
	em.close()
	em.open("context")
	em.open("page")
	em.kv("path", u.path)
	em.kv("url", s.url)
	em.kv("referrer", u.referrer)
	if q != "" {
		em.kv("search", q)
	}
	em.close()
	if u.source != "" {
		em.open("campaign")
		em.kv("source", u.source)
		em.kv("medium", u.medium)
		if u.name != "" {
			em.kv("name", u.name)
		}
		em.close()
	}
	em.kv("userAgent", userAgents[dev][int(em.p.id)%2])
	em.kv("locale", "nl-NL")
	em.kraw("library", `{"name":"analytics.js","version":"5.2.0"}`)
	em.close()
	em.end(srcWebSys)
	if bounce {
		return s
	}
	n := em.r.intn(4)
	for i := 0; i < n; i++ {
		s.t += 15_000 + int64(em.r.intn(90_000))
		path := pagePaths[em.r.intn(len(pagePaths))]
		s.ref, s.url = s.url, SiteURL+path
		em.page(s, path)
		if em.r.float() < 0.35 {
			pr := em.viewedProduct(s.t)
			s.t += 5_000 + int64(em.r.intn(30_000))
			em.begin(s.t, "track", "Product Viewed")
			em.webIDs(s.dev)
			em.open("properties")
			em.productProps(pr, 1)
			em.close()
			em.webContext(s, nil)
			em.end(srcWebSys)
		}
	}
	return s
}

func pageTitle(path string) string {
	switch path {
	case "/":
		return "Home"
	case "/cakes":
		return "Celebration cakes"
	case "/order":
		return "Order"
	case "/about":
		return "About us"
	case "/visit-us":
		return "Visit us"
	case "/offers":
		return "Offers"
	}
	return "Menu"
}

func (em *emitter) page(s *session, path string) {
	em.begin(s.t, "page", pageTitle(path))
	em.webIDs(s.dev)
	em.open("properties")
	em.kv("path", path)
	em.kv("url", s.url)
	em.kv("referrer", s.ref)
	em.kv("title", pageTitle(path)+" | Crumb & Co.")
	em.close()
	em.webContext(s, nil)
	em.end(srcWebSys)
}

func (em *emitter) productProps(p *product, qty int64) {
	em.kv("product_id", p.id)
	em.kv("sku", p.id)
	em.kv("name", p.name)
	em.kv("category", p.category)
	em.kmoney("price", p.price)
	em.kint("quantity", qty)
	em.kv("currency", "EUR")
}

func (em *emitter) products(b *basket) {
	em.buf = append(em.buf, `,"products":[`...)
	for i := 0; i < b.n; i++ {
		if i > 0 {
			em.buf = append(em.buf, ',')
		}
		l := b.lines[i]
		em.buf = append(em.buf, `{"product_id":`...)
		em.buf = appendQuote(em.buf, l.p.id)
		em.kv("name", l.p.name)
		em.kv("category", l.p.category)
		em.kmoney("price", l.p.price)
		em.kint("quantity", l.qty)
		em.buf = append(em.buf, '}')
	}
	em.buf = append(em.buf, ']')
}

func (em *emitter) cartID() string {
	return "cart-" + strconv.FormatUint(uint64(em.p.id), 36) + "-" + strconv.Itoa(em.day)
}

// abandon adds a product to the cart and leaves.
func (em *emitter) abandon(s *session) {
	if s == nil {
		return
	}
	pr := &webMenu[pick(em.r.float(), webWeights)]
	s.t += 20_000 + int64(em.r.intn(60_000))
	em.begin(s.t, "track", "Product Added")
	em.webIDs(s.dev)
	em.open("properties")
	em.kv("cart_id", em.cartID())
	em.productProps(pr, 1)
	em.close()
	em.webContext(s, nil)
	em.end(srcWebSys)
}

// identify tells the site who is on device s.dev: at checkout or from a tracked link.
func (em *emitter) identify(s *session, checkout bool) {
	// Only the web store issues user ids; a tracked link from a subscriber without an
	// account identifies the device by traits alone.
	uid := ""
	if checkout || em.account {
		uid = em.userID
	}
	if em.known[s.dev] == uid && (uid != "" || em.traitsSent[s.dev]) {
		return
	}
	em.known[s.dev] = uid
	em.traitsSent[s.dev] = true
	em.begin(s.t-1, "identify", "")
	em.kv("anonymousId", em.anon[s.dev])
	if uid != "" {
		em.kv("userId", uid)
	}
	em.open("traits")
	em.kv("email", em.email)
	em.kv("first_name", em.first)
	em.kv("last_name", em.last)
	if em.p.id%5 < 3 {
		em.kv("phone", em.phone)
	}
	if uid != "" && em.subscribed {
		em.kraw("consent", `{"email":{"marketing":true}}`)
	}
	em.close()
	em.webContext(s, nil)
	em.end(srcWebSys)
}

func (em *emitter) webOrder(s *session, b *basket, refundDay int) {
	if s == nil {
		s = em.webSession(em.day, source{kind: srcDirect}, true)
	}
	for i := 0; i < b.n; i++ {
		l := b.lines[i]
		if l.p == &delivery {
			continue
		}
		s.t += 10_000 + int64(em.r.intn(40_000))
		em.begin(s.t, "track", "Product Added")
		em.webIDs(s.dev)
		em.open("properties")
		em.kv("cart_id", em.cartID())
		em.productProps(l.p, l.qty)
		em.close()
		em.webContext(s, nil)
		em.end(srcWebSys)
	}
	orderID := "W" + strconv.FormatUint(uint64(em.p.id), 36) + "-" + strconv.Itoa(em.day)
	s.t += 30_000 + int64(em.r.intn(60_000))
	em.begin(s.t, "track", "Checkout Started")
	em.webIDs(s.dev)
	em.open("properties")
	em.kv("checkout_id", "co-"+orderID)
	em.kv("cart_id", em.cartID())
	em.kmoney("value", b.total)
	em.kv("currency", "EUR")
	em.close()
	em.webContext(s, nil)
	em.end(srcWebSys)
	s.t += 60_000 + int64(em.r.intn(120_000))
	newAccount := !em.account
	em.account = true
	em.identify(s, true)
	em.begin(s.t, "track", "Order Completed")
	em.webIDs(s.dev)
	em.open("properties")
	em.kv("order_id", orderID)
	em.kv("checkout_id", "co-"+orderID)
	em.kv("cart_id", em.cartID())
	em.kmoney("total", b.total)
	em.kmoney("revenue", b.total)
	em.kv("currency", "EUR")
	em.kv("location", "web")
	em.products(b)
	em.close()
	em.webContext(s, nil)
	em.end(srcWebSys)
	if newAccount {
		// The shop offers an account on the order confirmation page ("track your
		// order"): the sign-up follows the first web order. No random draw, so the
		// rest of the world is unchanged.
		em.begin(s.t+45_000, "track", "Signed Up")
		em.webIDs(s.dev)
		em.kraw("properties", `{"method":"order_confirmation"}`)
		em.webContext(s, nil)
		em.end(srcWebSys)
	}
	if refundDay >= 0 {
		em.refund(srcWebSys, refundDay, orderID, b.total, "userId", em.userID)
	}
}

func (em *emitter) refund(src uint8, d int, orderID string, total int64, idKey, id string) {
	ts := em.w.days[d].date.UnixMilli() + 10*3_600_000 + int64(em.r.intn(6*3_600_000))
	em.begin(ts, "track", "Order Refunded")
	em.kv(idKey, id)
	em.open("properties")
	em.kv("order_id", orderID)
	em.kmoney("total", total)
	em.kv("currency", "EUR")
	em.close()
	em.end(src)
}

// tillOrder is a sale rung up in the shop or taken by phone.
func (em *emitter) tillOrder(d int, loc location, b *basket, refundDay int, loyal, newLoyal bool) {
	hours := &storeHours
	prefix := "T"
	if loc == locPhone {
		hours, prefix = &phoneHours, "P"
	}
	ts := em.at(hours)
	orderID := prefix + strconv.FormatUint(uint64(em.p.id), 36) + "-" + strconv.Itoa(d)
	if newLoyal {
		em.loyal = true
		em.begin(ts-60_000, "identify", "")
		em.kv("anonymousId", em.loyalty)
		em.open("traits")
		em.kv("phone", em.phone)
		em.kv("first_name", em.first)
		if em.p.id%2 == 0 || em.account {
			em.kv("email", em.email)
		}
		em.kv("loyalty_card", em.loyalty)
		switch {
		case em.subscribed && em.smsOpt:
			em.kraw("consent", `{"email":{"marketing":true},"sms":{"marketing":true}}`)
		case em.subscribed:
			em.kraw("consent", `{"email":{"marketing":true}}`)
		case em.smsOpt:
			em.kraw("consent", `{"sms":{"marketing":true}}`)
		}
		em.close()
		em.kraw("context", `{"library":{"name":"till-sync","version":"1.0"}}`)
		em.end(srcTill)
	}
	if loyal && loc == locStore && em.r.float() < 0.7 {
		em.begin(ts-int64(120_000+em.r.intn(600_000)), "track", "Store Visit")
		em.kv("anonymousId", em.loyalty)
		em.kraw("properties", `{"channel":"in_store","store":"Main Street"}`)
		em.kraw("context", `{"library":{"name":"wifi-portal","version":"2.3"}}`)
		em.end(srcWifi)
	}
	cash := loc == locStore && em.r.float() < 0.2
	// An anonymous card payment carries the card's fingerprint (as SumUp or Square
	// report it), so a regular who pays by card is recognisable; cash is a one-off.
	idKey, id := "anonymousId", "card-"+hex32(mix64(uint64(em.p.id)^em.w.seedHash^0x51a3))
	switch {
	case loyal:
		// The till knows the loyalty card, not the web account: the card is its
		// anonymous id and the phone number links the two.
		id = em.loyalty
	case loc == locPhone:
		id = "caller-" + em.phone[1:]
	case cash:
		id = "till-" + orderID
	}
	em.begin(ts, "track", "Order Completed")
	em.kv(idKey, id)
	em.open("properties")
	em.kv("order_id", orderID)
	em.kmoney("total", b.total)
	em.kmoney("revenue", b.total)
	em.kv("currency", "EUR")
	em.kv("location", locationNames[loc])
	if loc == locStore {
		if cash {
			em.kv("payment_method", "cash")
		} else {
			em.kv("payment_method", "card")
		}
	}
	em.products(b)
	em.close()
	if loyal || loc == locPhone {
		em.comma()
		em.buf = append(em.buf, `"context":{"traits":{"phone":`...)
		em.buf = appendQuote(em.buf, em.phone)
		em.buf = append(em.buf, `},"library":{"name":"till-sync","version":"1.0"}}`...)
	} else {
		em.kraw("context", `{"library":{"name":"till-sync","version":"1.0"}}`)
	}
	em.end(srcTill)
	if refundDay >= 0 {
		em.refund(srcTill, refundDay, orderID, b.total, idKey, id)
	}
}

// messagingID is how the email platform knows the person: the web account id once
// synced, otherwise its own subscriber id (an anonymous id; the email trait links it).
func (em *emitter) messagingID() (key, id string) {
	if em.account {
		return "userId", em.userID
	}
	return "anonymousId", em.nlID
}

func (em *emitter) sendEmail(d int, campaign, subject string, opened, clicked bool) *session {
	base := em.day0 + 7*3_600_000 + 30*60_000
	if campaign == "cart-reminder" {
		base = em.day0 + 10*3_600_000
	}
	ts := base + int64(em.r.intn(20*60_000))
	emailID := campaign + "-" + em.w.days[d].date.Format("2006-01-02")
	idKey, uid := em.messagingID()
	ev := func(name string, ts int64, link string) {
		em.begin(ts, "track", name)
		em.kv(idKey, uid)
		em.open("properties")
		em.kv("email_id", emailID)
		em.kv("email_subject", subject)
		em.kv("campaign_id", campaign)
		em.kv("campaign_name", campaign)
		if link != "" {
			em.kv("link_url", link)
		}
		em.close()
		em.buf = append(em.buf, `,"context":{"traits":{"email":`...)
		em.buf = appendQuote(em.buf, em.email)
		em.buf = append(em.buf, `},"library":{"name":"mailchimp-webhook","version":"1.0"}}`...)
		em.end(srcESP)
	}
	ev("Email Delivered", ts, "")
	if !opened {
		return nil
	}
	ts += 5*60_000 + int64(em.r.intn(8*3_600_000))
	ev("Email Opened", ts, "")
	if !clicked {
		return nil
	}
	ts += 5_000 + int64(em.r.intn(60_000))
	link := SiteURL + "/?utm_source=newsletter&utm_medium=email&utm_campaign=" + campaign
	ev("Email Link Clicked", ts, link)
	dev := 0
	if em.p.laptop && em.r.float() < 0.35 {
		dev = 1
	}
	return em.sessionAt(ts+3_000, dev, source{kind: srcEmail, campaign: campaign}, false)
}

func (em *emitter) sms(d int, campaign string, clicked bool) *session {
	ts := em.day0 + 11*3_600_000 + int64(em.r.intn(15*60_000))
	ev := func(name string, ts int64) {
		em.begin(ts, "track", name)
		em.kv("anonymousId", "sms-"+em.phone[1:])
		em.open("properties")
		em.kv("campaign_id", campaign)
		em.kv("campaign_name", campaign)
		em.kv("message_id", campaign+"-"+em.w.days[d].date.Format("2006-01-02"))
		em.close()
		em.buf = append(em.buf, `,"context":{"traits":{"phone":`...)
		em.buf = appendQuote(em.buf, em.phone)
		em.buf = append(em.buf, `},"library":{"name":"twilio-webhook","version":"1.0"}}`...)
		em.end(srcSMSSys)
	}
	ev("SMS Delivered", ts)
	if !clicked {
		return nil
	}
	ts += 30_000 + int64(em.r.intn(3_600_000))
	ev("SMS Link Clicked", ts)
	return em.sessionAt(ts+3_000, 0, source{kind: srcSMS, campaign: campaign}, false)
}

// finish orders the person's events by time and hands them to the chunk.
func (em *emitter) finish() {
	slices.SortStableFunc(em.evs, func(a, b pending) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return int(a.seq - b.seq)
	})
}

// appendQuote writes s as a JSON string. Demo strings are plain ASCII; anything else
// goes through encoding/json's rules via a slow path.
func appendQuote(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			continue
		}
		b = append(b, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c) // UTF-8 bytes are valid inside JSON strings
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
