package recommend

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/money"
)

// Lists a recommendation can come from.
const (
	ListTogether = "together" // bought in the same order as a product in context
	ListSimilar  = "similar"  // viewed by the same customers, then the same category
	ListForYou   = "for-you"  // from the customer's own purchases (and views)
	ListPopular  = "popular"  // most customers in the recent window, per location
	ListPinned   = "pinned"   // pinned by the shop
)

// listCode is a list's short name inside recommendation ids.
var listCode = map[string]string{ListTogether: "bt", ListSimilar: "sim", ListForYou: "fy", ListPopular: "pop", ListPinned: "pin"}

// ListOfCode maps a recommendation id's list code back to the list.
func ListOfCode(code string) string {
	for l, c := range listCode {
		if c == code {
			return l
		}
	}
	return ""
}

// Placements name where recommendations appear; each draws from its lists in order,
// and "popular" fills what the others leave.
var Placements = map[string][]string{
	"home":        {ListForYou, ListPopular},
	"product":     {ListSimilar, ListTogether, ListPopular},
	"cart":        {ListTogether, ListForYou, ListPopular},
	"email":       {ListForYou, ListPopular},
	"clienteling": {ListForYou, ListTogether, ListPopular},
}

// Rule names of product rules.
const (
	RulePin   = "pin"
	RuleBlock = "block"
)

// Request asks for one list of recommendations.
type Request struct {
	CustomerID int64    // 0: someone unknown
	Placement  string   // a key of Placements; default "home"
	List       string   // draw from this list first (e.g. ListTogether for an abandoned cart)
	Products   []string // products in context: the product page's, the cart's
	Location   string   // web, store, ...: stock and "popular" of that location
	N          int      // default 4
	// Personalised says the customer's history may be used (Personalised, the consent
	// check). When false only the context and what is popular count.
	Personalised bool
	// ShopHosts are the hosts product links may point to when the product is known only
	// from events of a public key; nil: the shop's own domains when the model was built.
	ShopHosts []string
}

// Recommendation is one product to show, with why.
type Recommendation struct {
	ID         string  `json:"recommendation_id"` // list.placement.product: Product Clicked carries it back
	ProductID  string  `json:"product_id"`
	Title      string  `json:"title"`
	Category   string  `json:"category,omitempty"`
	PriceMinor int64   `json:"price_minor"`
	Price      string  `json:"price"`
	Currency   string  `json:"currency,omitempty"`
	URL        string  `json:"url,omitempty"`
	ImageURL   string  `json:"image_url,omitempty"`
	List       string  `json:"list"`
	Reason     string  `json:"reason"`
	Support    int     `json:"support"` // customers behind the reason
	Score      float64 `json:"score"`
}

type cand struct {
	item    int32
	score   float64
	list    string
	why     why
	anchor  int32 // the product the reason names
	support int
}

// why says which sentence explains a candidate; the words are made only for the
// products shown (reason), not for every candidate.
type why uint8

const (
	whyPinned why = iota
	whyTogether
	whyCoViewed
	whyCategory
	whyBought
	whyMatch
	whyPopular
)

func (m *Model) reason(c cand, location string) string {
	switch c.why {
	case whyPinned:
		return "featured by the shop"
	case whyTogether:
		return fmt.Sprintf("bought together with %s by %d customers", m.title[c.anchor], c.support)
	case whyCoViewed:
		return fmt.Sprintf("viewed by %d customers who also viewed %s", c.support, m.title[c.anchor])
	case whyCategory:
		return "also in " + m.category[c.anchor] + ", like " + m.title[c.anchor]
	case whyBought:
		if c.support > 0 {
			return fmt.Sprintf("because you bought %s (%d customers bought both)", m.title[c.anchor], c.support)
		}
		return "because you bought " + m.title[c.anchor]
	case whyPopular:
		where := ""
		if location != "" && len(m.popular["loc:"+location]) > 0 {
			where = " at the " + location + " shop"
			if location == "web" {
				where = " online"
			}
		}
		return fmt.Sprintf("bought by %d customers%s in the last %d days", c.support, where, m.rules.PopularDays)
	}
	return "matches what you bought"
}

// Recommend returns up to N recommendations for r, deterministic for a given model.
func (m *Model) Recommend(r Request) []Recommendation {
	r, lists := m.withDefaults(r)
	q := m.newQuery(r)
	out := q.pinned()
	pool := q.candidates(lists, out)
	out = append(out, diversify(pool, r.N-len(out), m.rules.MaxPerCategory, func(p int32) string { return strings.ToLower(m.category[p]) })...)
	return m.explain(out, r)
}

// withDefaults fills in the request's defaults (4 products, the home placement, the
// model's shop hosts) and gives the lists to draw from, the requested one first.
func (m *Model) withDefaults(r Request) (Request, []string) {
	if r.N <= 0 {
		r.N = 4
	}
	if r.Placement == "" {
		r.Placement = "home"
	}
	if r.ShopHosts == nil {
		r.ShopHosts = m.rules.ShopHosts
	}
	lists := Placements[r.Placement]
	if lists == nil {
		lists = Placements["home"]
	}
	if r.List != "" {
		lists = append([]string{r.List}, lists...)
	}
	return r, lists
}

// query is one request against the model: who asks (their purchases and views, when
// personalised) and the products in context.
type query struct {
	m                 *Model
	r                 Request
	buyer, viewer     int32
	isBuyer, isViewer bool
	bought            []int32
	context           map[int32]bool
	ctxItems          []int32 // the products in context, in order
}

// newQuery finds the customer's history (when personalised) and the products in context:
// the request's, or for an empty cart the customer's open cart.
func (m *Model) newQuery(r Request) *query {
	q := &query{m: m, r: r, context: map[int32]bool{}}
	cust := strconv.FormatInt(r.CustomerID, 10)
	q.buyer, q.isBuyer = m.buyers.users.get(cust)
	q.viewer, q.isViewer = m.viewers.users.get(cust)
	if !r.Personalised || r.CustomerID == 0 {
		q.isBuyer, q.isViewer = false, false
	}
	if q.isBuyer {
		q.bought = m.buyers.userItems[q.buyer]
	}
	for _, id := range r.Products {
		if p, ok := m.items.get(canonical(m.cat, id)); ok && !q.context[p] {
			q.context[p] = true
			q.ctxItems = append(q.ctxItems, p)
		}
	}
	if r.Placement == "cart" && len(q.ctxItems) == 0 && q.isViewer {
		for _, p := range m.openCart[q.viewer] {
			q.context[p] = true
			q.ctxItems = append(q.ctxItems, p)
		}
	}
	return q
}

// eligible says whether p may be shown: not in context or blocked, in the catalogue with
// a title and stock at the location, linking to the shop, with enough margin, and not
// already bought unless it is bought again and again.
func (q *query) eligible(p int32) bool {
	m, r := q.m, q.r
	if q.context[p] || m.blocked[""][p] || m.blocked[r.Placement][p] {
		return false
	}
	prod := m.cat.Get(m.items.ids[p])
	if prod == nil || prod.Title == "" || !prod.Available(r.Location) {
		return false
	}
	if !prod.Trusted && !hostAllowed(prod.URL, r.ShopHosts) {
		return false
	}
	if share, known := prod.MarginShare(); known && share < m.rules.MinMargin {
		return false
	}
	if hasItem(q.bought, p) && !prod.Replenishable && !m.rules.Replenishable[strings.ToLower(prod.Category)] {
		return false
	}
	return true
}

// pinned takes the eligible products the shop pinned, the placement's first, then those
// pinned everywhere, up to N.
func (q *query) pinned() []cand {
	var out []cand
	taken := map[int32]bool{}
	for _, pl := range []string{q.r.Placement, ""} {
		for _, p := range q.m.pins[pl] {
			if len(out) >= q.r.N {
				break
			}
			if taken[p] || !q.eligible(p) {
				continue
			}
			taken[p] = true
			out = append(out, cand{item: p, list: ListPinned, why: whyPinned})
		}
	}
	return out
}

// candidates draws eligible products from the lists in order, skipping those already
// chosen, until there are 4×N: each list proposes more than N, so that diversity has a
// choice.
func (q *query) candidates(lists []string, chosen []cand) []cand {
	pool := []cand{}
	seen := map[int32]bool{}
	for _, c := range chosen {
		seen[c.item] = true
	}
	for _, l := range lists {
		for _, c := range q.list(l) {
			if len(pool) >= 4*q.r.N {
				break
			}
			if !seen[c.item] && q.eligible(c.item) {
				seen[c.item] = true
				pool = append(pool, c)
			}
		}
		if len(pool) >= 4*q.r.N {
			break
		}
	}
	return pool
}

// list is one list's candidates for the query; for-you uses the customer's purchases, or
// for someone who has only looked, what is like their recent views.
func (q *query) list(l string) []cand {
	m := q.m
	switch l {
	case ListTogether:
		return m.togetherWith(q.ctxItems)
	case ListSimilar:
		return m.similarTo(q.ctxItems)
	case ListForYou:
		if q.isBuyer {
			return m.forYou(q.bought)
		}
		if q.isViewer {
			cs := m.similarTo(m.recentView[q.viewer])
			for i := range cs {
				cs[i].list = ListForYou
			}
			return cs
		}
	case ListPopular:
		return m.popularList(q.r.Location)
	}
	return nil
}

// explain turns the chosen candidates into recommendations with their reasons.
func (m *Model) explain(out []cand, r Request) []Recommendation {
	recs := make([]Recommendation, 0, len(out))
	for _, c := range out {
		prod := m.cat.Get(m.items.ids[c.item])
		if c.why == whyBought {
			c.support = m.coBuyers(c.anchor, c.item)
		}
		recs = append(recs, Recommendation{
			ID:        RecID(c.list, r.Placement, prod.ID),
			ProductID: prod.ID, Title: prod.Title, Category: prod.Category,
			PriceMinor: prod.PriceMinor, Price: money.Format(prod.PriceMinor, orEUR(prod.Currency)), Currency: prod.Currency,
			URL: prod.URL, ImageURL: prod.ImageURL, List: c.list, Reason: m.reason(c, r.Location), Support: c.support, Score: round4(c.score),
		})
	}
	return recs
}

func orEUR(c string) string {
	if c == "" {
		return "EUR"
	}
	return c
}

func round4(f float64) float64 { return float64(int64(f*1e4+0.5)) / 1e4 }

// RecID makes a recommendation id: list code, placement, product ("fy.email.p-sourdough").
func RecID(list, placement, product string) string {
	return listCode[list] + "." + strings.ReplaceAll(placement, ".", "-") + "." + product
}

// diversify keeps the order but takes at most maxPer of a category while products of
// other categories are left; the rest fill the list if it would be short.
func diversify(pool []cand, n, maxPer int, cat func(int32) string) []cand {
	if n <= 0 {
		return nil
	}
	out := make([]cand, 0, n)
	count := map[string]int{}
	var rest []cand
	for _, c := range pool {
		if len(out) == n {
			break
		}
		k := cat(c.item)
		if k != "" && count[k] >= maxPer {
			rest = append(rest, c)
			continue
		}
		count[k]++
		out = append(out, c)
	}
	for _, c := range rest {
		if len(out) == n {
			break
		}
		out = append(out, c)
	}
	return out
}

func (m *Model) togetherWith(ctx []int32) []cand {
	best := map[int32]cand{}
	for _, p := range ctx {
		if int(p) >= len(m.together) {
			continue
		}
		for _, x := range m.together[p] {
			c := best[x.item]
			c.item, c.list = x.item, ListTogether
			c.score += float64(x.score)
			if int(x.n) > c.support {
				c.support, c.why, c.anchor = int(x.n), whyTogether, p
			}
			best[x.item] = c
		}
	}
	return sortCands(best)
}

func (m *Model) similarTo(ctx []int32) []cand {
	best := map[int32]cand{}
	for _, p := range ctx {
		if int(p) >= len(m.similar) {
			continue
		}
		for _, x := range m.similar[p] {
			c := best[x.item]
			c.item, c.list = x.item, ListSimilar
			c.score += float64(x.score)
			if int(x.n) > c.support {
				c.support, c.why, c.anchor = int(x.n), whyCoViewed, p
			}
			best[x.item] = c
		}
	}
	out := sortCands(best)
	// Then the same category, by buyers: a product without views still has neighbours.
	seen := map[int32]bool{}
	for _, c := range out {
		seen[c.item] = true
	}
	for _, p := range ctx {
		catName := m.category[p]
		for _, q := range m.byCategory[strings.ToLower(catName)] {
			if q == p || seen[q] {
				continue
			}
			seen[q] = true
			out = append(out, cand{item: q, list: ListSimilar, why: whyCategory, anchor: p, support: m.buyersOf(q)})
		}
	}
	return out
}

func (m *Model) forYou(history []int32) []cand {
	var s []scored
	if m.ease != nil {
		s = m.ease.score(history)
	} else {
		n := m.items.len()
		s = scoreKNN(m.knn, history, make([]float64, n), make([]int32, n), make([]float32, n))
	}
	s = topScored(s, 60, func(p int32) bool { return hasItem(history, p) })
	out := make([]cand, 0, len(s))
	for _, x := range s {
		c := cand{item: x.item, score: x.score, list: ListForYou, why: whyMatch}
		if x.from >= 0 && !m.nameable(x.from) {
			x.from = m.bestNameable(history, x.item)
		}
		if x.from >= 0 {
			c.why, c.anchor = whyBought, x.from
		}
		out = append(out, c)
	}
	return out
}

// nameable reports whether a product may be named in a reason: a catalogue product with
// a title that is not blocked everywhere (delivery, fees and postage are blocked so).
func (m *Model) nameable(p int32) bool {
	if m.blocked[""][p] {
		return false
	}
	prod := m.cat.Get(m.items.ids[p])
	return prod != nil && prod.Title != ""
}

// bestNameable is the nameable history product most bought together with item (-1: none).
func (m *Model) bestNameable(history []int32, item int32) int32 {
	best, n := int32(-1), 0
	for _, h := range history {
		if !m.nameable(h) {
			continue
		}
		if c := m.coBuyers(h, item); c > n {
			best, n = h, c
		}
	}
	return best
}

// coBuyers counts customers who bought both products.
func (m *Model) coBuyers(a, b int32) int {
	if int(a) >= len(m.buyers.itemUsers) || int(b) >= len(m.buyers.itemUsers) {
		return 0
	}
	x, y := m.buyers.itemUsers[a], m.buyers.itemUsers[b]
	n, i, j := 0, 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			n++
			i++
			j++
		case x[i] < y[j]:
			i++
		default:
			j++
		}
	}
	return n
}

func (m *Model) popularList(location string) []cand {
	key := ""
	if location != "" && len(m.popular["loc:"+location]) > 0 {
		key = "loc:" + location
	}
	list := m.popular[key]
	out := make([]cand, 0, len(list))
	for _, x := range list {
		out = append(out, cand{item: x.item, score: float64(x.customers), list: ListPopular, support: int(x.customers), why: whyPopular})
	}
	return out
}

func sortCands(best map[int32]cand) []cand {
	out := make([]cand, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].score != out[b].score {
			return out[a].score > out[b].score
		}
		return out[a].item < out[b].item
	})
	return out
}

// hostAllowed reports whether raw's host is one of hosts or below one.
func hostAllowed(raw string, hosts []string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return false
	}
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, d := range hosts {
		if d != "" && (h == d || strings.HasSuffix(h, "."+d)) {
			return true
		}
	}
	return false
}

// Product returns a catalogue product by id (nil when unknown).
func (m *Model) Product(id string) *catalog.Product { return m.cat.Get(id) }

// CustomerHistory returns the products a customer bought, by id.
func (m *Model) CustomerHistory(customerID int64) []string {
	u, ok := m.buyers.users.get(strconv.FormatInt(customerID, 10))
	if !ok {
		return nil
	}
	out := make([]string, 0, len(m.buyers.userItems[u]))
	for _, p := range m.buyers.userItems[u] {
		out = append(out, m.items.ids[p])
	}
	return out
}

// OpenCart returns the products a customer added to a cart after their last order, by
// id, the cart placement's context (for the clienteling page).
func (m *Model) OpenCart(customerID int64) []string {
	u, ok := m.viewers.users.get(strconv.FormatInt(customerID, 10))
	if !ok {
		return nil
	}
	out := make([]string, 0, len(m.openCart[u]))
	for _, p := range m.openCart[u] {
		out = append(out, m.items.ids[p])
	}
	return out
}
