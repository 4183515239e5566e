package recommend

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/store"
)

// Data is what a model is built from.
type Data struct {
	Catalogue    *catalog.Catalogue
	Interactions []Interaction // purchases (Basket set) and views or cart adds
	Rules        Rules
	Pins         []ProductRule
	Traits       map[string]string // customer → stored traits JSON, for the consent check
}

// ProductRule pins or blocks a product, everywhere (Placement "") or in one placement.
type ProductRule struct {
	ProductID string `json:"product_id"`
	Placement string `json:"placement,omitempty"`
	Rule      string `json:"rule"` // pin or block
}

// LoadData reads orders, product interactions, the catalogue, rules and settings.
func LoadData(ctx context.Context, db *store.DB) (Data, error) {
	var d Data
	var err error
	if d.Rules, err = LoadRules(ctx, db); err != nil {
		return d, err
	}
	if d.Catalogue, err = catalog.Load(ctx, db); err != nil {
		return d, err
	}
	if d.Pins, err = ListProductRules(ctx, db); err != nil {
		return d, err
	}
	// The orders in table order, sorted here by (ts, seq): on SQLite, walking the ts
	// index looked up every order's row at random and sorted ties in a temporary tree,
	// four to five times the cost of reading the table through.
	rows, err := db.Query(ctx, `SELECT customer_id, order_id, ts, seq, location, items FROM orders`)
	if err != nil {
		return d, fmt.Errorf("read orders: %w", err)
	}
	type order struct {
		customer, id, location string
		ts, seq                int64
		from, to               int // its lines in all
	}
	var orders []order
	var lines, all []orderLine
	for rows.Next() {
		var o order
		var cid int64
		var items []byte
		if err := rows.Scan(&cid, &o.id, &o.ts, &o.seq, &o.location, &items); err != nil {
			rows.Close()
			return d, fmt.Errorf("read orders: %w", err)
		}
		var ok bool
		if lines, ok = orderLines(items, lines); !ok {
			continue
		}
		o.customer = strconv.FormatInt(cid, 10)
		o.from = len(all)
		for _, l := range lines {
			if l.id != "" {
				all = append(all, l)
			}
		}
		o.to = len(all)
		orders = append(orders, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("read orders: %w", err)
	}
	// Ties keep table order (the index breaks them), as the stable sort would, with
	// the keys apart from the orders so that the sort moves 24 bytes, not the order.
	type key struct {
		ts, seq int64
		i       int
	}
	keys := make([]key, len(orders))
	for i, o := range orders {
		keys[i] = key{o.ts, o.seq, i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	d.Interactions = make([]Interaction, 0, len(all))
	for _, k := range keys {
		o := &orders[k.i]
		for _, l := range all[o.from:o.to] {
			d.Interactions = append(d.Interactions, Interaction{Customer: o.customer, Product: l.id, Time: o.ts, Quantity: max(l.quantity, 1),
				Basket: o.id, Kind: Purchase, Location: o.location})
		}
	}
	prows, err := db.Query(ctx, `SELECT a.customer_id, p.product_id, p.kind, p.ts FROM product_events p JOIN activity a ON a.seq = p.seq
		WHERE p.kind <> 'click' ORDER BY p.seq, p.pos`)
	if err != nil {
		return d, fmt.Errorf("read product views: %w", err)
	}
	var lastCID int64
	var lastC string
	for prows.Next() {
		var cid, ts int64
		var pid, kind string
		if err := prows.Scan(&cid, &pid, &kind, &ts); err != nil {
			prows.Close()
			return d, fmt.Errorf("read product views: %w", err)
		}
		k := View
		if kind == catalog.KindCart {
			k = Cart
		}
		if cid != lastCID || lastC == "" {
			lastCID, lastC = cid, strconv.FormatInt(cid, 10)
		}
		d.Interactions = append(d.Interactions, Interaction{Customer: lastC, Product: pid, Time: ts, Kind: k})
	}
	prows.Close()
	if err := prows.Err(); err != nil {
		return d, fmt.Errorf("read product views: %w", err)
	}
	return d, nil
}

func rawID(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return ""
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(raw, &v) == nil {
			return strings.TrimSpace(v)
		}
		return ""
	}
	return s
}

// popItem is a product with the customers who bought it in the window.
type popItem struct {
	item      int32
	customers int32
}

// Model holds every list, computed from one Data. It is read-only once built and safe
// for concurrent use.
type Model struct {
	Built    time.Time
	Version  string
	Method   string // "ease" or "knn": how "for you" is computed
	cat      *catalog.Catalogue
	rules    Rules
	items    index
	title    []string
	category []string
	buyers   *matrix // customer × product purchases
	viewers  *matrix // customer × product views and cart adds

	together [][]neighbour // same order; n = customers
	similar  [][]neighbour // co-viewed; n = customers
	knn      [][]neighbour // purchases, customer level
	ease     *ease

	popular    map[string][]popItem // "" all, "loc:web", "ch:email"
	byCategory map[string][]int32   // products of a category by popularity
	openCart   map[int32][]int32    // viewers user → products added after the last order
	recentView map[int32][]int32    // viewers user → products viewed, latest first
	lastOrder  map[string]int64
	pins       map[string][]int32        // placement → pinned products
	blocked    map[string]map[int32]bool // placement → blocked products
	traits     map[string]string         // customer → traits JSON
	popularTo  int64
	stats      Stats
}

// Stats describe what a model was built from.
type Stats struct {
	Products     int     `json:"products"`
	Customers    int     `json:"customers_with_orders"`
	Orders       int     `json:"orders"`
	Purchases    int     `json:"purchase_rows"`
	Views        int     `json:"view_rows"`
	BuildSeconds float64 `json:"build_seconds"`
}

// Stats says what the model was built from.
func (m *Model) Stats() Stats { return m.stats }

// canonical maps an order line's or event's product id to the catalogue's product (a
// variant or SKU becomes its product).
func canonical(c *catalog.Catalogue, id string) string {
	if p := c.Get(id); p != nil {
		return p.ID
	}
	return id
}

// Build computes every list from d.
func Build(d Data) (*Model, error) {
	t0 := time.Now()
	if d.Catalogue == nil {
		d.Catalogue = catalog.New(nil)
	}
	if d.Rules.MaxPerCategory == 0 {
		d.Rules = DefaultRules()
	}
	m := &Model{Built: t0, cat: d.Catalogue, rules: d.Rules, items: newIndex(), traits: d.Traits, lastOrder: map[string]int64{}}
	// Products in catalogue order first, so ids are stable across builds.
	for _, p := range d.Catalogue.Products() {
		m.items.add(p.ID)
	}
	in := make([]Interaction, len(d.Interactions))
	baskets := map[string]bool{}
	for i, it := range d.Interactions {
		it.Product = canonical(d.Catalogue, it.Product)
		m.items.add(it.Product)
		in[i] = it
		if it.Kind == Purchase {
			m.stats.Purchases++
			baskets[it.Basket] = true
			if it.Time > m.lastOrder[it.Customer] {
				m.lastOrder[it.Customer] = it.Time
			}
			m.popularTo = max(m.popularTo, it.Time)
		} else {
			m.stats.Views++
		}
	}
	m.stats.Orders = len(baskets)
	m.buyers = newMatrix(in, m.items, func(it *Interaction) bool { return it.Kind == Purchase })
	m.items = m.buyers.items
	m.viewers = newMatrix(in, m.items, func(it *Interaction) bool { return it.Kind != Purchase })
	m.items = m.viewers.items
	m.buyers.items = m.items
	for len(m.buyers.itemUsers) < m.items.len() {
		m.buyers.itemUsers = append(m.buyers.itemUsers, nil)
	}
	m.stats.Customers = m.buyers.users.len()
	m.stats.Products = d.Catalogue.Len()
	m.title = make([]string, m.items.len())
	m.category = make([]string, m.items.len())
	for i, id := range m.items.ids {
		if p := d.Catalogue.Get(id); p != nil {
			m.title[i], m.category[i] = p.Title, p.Category
		} else {
			m.title[i] = id
		}
	}

	// Bought together: rows are orders; support counts distinct customers.
	orders := make([]Interaction, 0, m.stats.Purchases)
	for _, it := range in {
		if it.Kind == Purchase {
			it.Customer = it.Basket
			orders = append(orders, it)
		}
	}
	om := newMatrix(orders, m.items, nil)
	m.items = om.items
	minSup := max(d.Rules.MinSupport, 1)
	m.together = itemNeighbours(om, KNNOptions{K: 30, Alpha: 0.5, Shrink: 5, RowWeight: idfRowWeight})
	// The customer of each basket (order), as a row of the buyers matrix.
	basketCustomer := make([]int32, om.users.len())
	for i := range in {
		if in[i].Kind == Purchase {
			if b, ok := om.users.get(in[i].Basket); ok {
				basketCustomer[b], _ = m.buyers.users.get(in[i].Customer)
			}
		}
	}
	m.together = supportByCustomers(om, m.together, basketCustomer, m.buyers.users.len(), minSup)

	m.similar = itemNeighbours(m.viewers, KNNOptions{K: 30, Alpha: 0.5, Shrink: 5, RowWeight: idfRowWeight, MinSupport: minSup})
	m.knn = itemNeighbours(m.buyers, DefaultKNN)
	m.Method = MethodKNN
	if n := nonEmpty(m.buyers.itemUsers); n > 0 && n <= DefaultEASEMaxItems {
		e, err := fitEASE(m.buyers, DefaultEASELambda, DefaultEASEMaxItems)
		if err != nil {
			return nil, err
		}
		m.ease, m.Method = e, MethodEASE
	}

	m.buildPopular(in)
	m.buildViews(in)
	m.buildRules(d.Pins)
	m.stats.BuildSeconds = time.Since(t0).Seconds()
	return m, nil
}

func nonEmpty(x [][]int32) int {
	n := 0
	for _, l := range x {
		if len(l) > 0 {
			n++
		}
	}
	return n
}

// supportByCustomers replaces each neighbour's basket count with the number of distinct
// customers who bought both in one order, dropping pairs below minSup. cust is the
// customer (0 … customers-1) of each basket.
func supportByCustomers(om *matrix, nb [][]neighbour, cust []int32, customers, minSup int) [][]neighbour {
	// The baskets of each customer, so that item i's co-buyers are counted customer by
	// customer: a stamp per item marks what the current customer already counted.
	byCust := make([][]int32, customers)
	for b, c := range cust {
		byCust[c] = append(byCust[c], int32(b))
	}
	slot := make([]int32, om.items.len()) // neighbour's position in nb[i], -1: none
	for j := range slot {
		slot[j] = -1
	}
	stamp := make([]int, om.items.len())
	seen := make([]int32, customers) // i+1 once the customer is counted for item i
	var count []int32
	var mark int
	for i := range nb {
		if len(nb[i]) == 0 {
			continue
		}
		count = append(count[:0], make([]int32, len(nb[i]))...)
		for s, x := range nb[i] {
			slot[x.item] = int32(s)
		}
		for _, b := range om.itemUsers[i] {
			c := cust[b]
			if seen[c] == int32(i+1) {
				continue
			}
			seen[c] = int32(i + 1)
			mark++
			for _, cb := range byCust[c] {
				if _, in := slices.BinarySearch(om.userItems[cb], int32(i)); !in {
					continue
				}
				for _, j := range om.userItems[cb] {
					if s := slot[j]; s >= 0 && stamp[j] != mark {
						stamp[j] = mark
						count[s]++
					}
				}
			}
		}
		for _, x := range nb[i] {
			slot[x.item] = -1
		}
		kept := nb[i][:0]
		for s, x := range nb[i] {
			x.n = count[s]
			if int(x.n) >= minSup {
				kept = append(kept, x)
			}
		}
		nb[i] = kept
	}
	return nb
}

func (m *Model) buildPopular(in []Interaction) {
	from := m.popularTo - int64(m.rules.PopularDays)*24*3600*1000
	sets := map[string]map[int32]map[string]bool{}
	add := func(key string, p int32, c string) {
		s := sets[key]
		if s == nil {
			s = map[int32]map[string]bool{}
			sets[key] = s
		}
		if s[p] == nil {
			s[p] = map[string]bool{}
		}
		s[p][c] = true
	}
	for _, it := range in {
		if it.Kind != Purchase || it.Time < from {
			continue
		}
		p, _ := m.items.get(it.Product)
		add("", p, it.Customer)
		if it.Location != "" {
			add("loc:"+it.Location, p, it.Customer)
		}
	}
	m.popular = map[string][]popItem{}
	m.byCategory = map[string][]int32{}
	for key, s := range sets {
		list := make([]popItem, 0, len(s))
		for p, cs := range s {
			list = append(list, popItem{item: p, customers: int32(len(cs))})
		}
		sort.Slice(list, func(a, b int) bool {
			if list[a].customers != list[b].customers {
				return list[a].customers > list[b].customers
			}
			return m.items.ids[list[a].item] < m.items.ids[list[b].item]
		})
		m.popular[key] = list
	}
	// Categories by all-time buyers, so new and seasonal products still have a place.
	order := make([]int32, m.items.len())
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool {
		na, nb := m.buyersOf(order[a]), m.buyersOf(order[b])
		if na != nb {
			return na > nb
		}
		return m.items.ids[order[a]] < m.items.ids[order[b]]
	})
	for _, p := range order {
		if c := m.category[p]; c != "" {
			m.byCategory[strings.ToLower(c)] = append(m.byCategory[strings.ToLower(c)], p)
		}
	}
}

func (m *Model) buyersOf(p int32) int {
	if int(p) < len(m.buyers.itemUsers) {
		return len(m.buyers.itemUsers[p])
	}
	return 0
}

func (m *Model) buildViews(in []Interaction) {
	m.openCart = map[int32][]int32{}
	m.recentView = map[int32][]int32{}
	type ev struct {
		p    int32
		t    int64
		cart bool
	}
	per := map[int32][]ev{}
	for _, it := range in {
		if it.Kind == Purchase {
			continue
		}
		u, ok := m.viewers.users.get(it.Customer)
		if !ok {
			continue
		}
		p, _ := m.items.get(it.Product)
		per[u] = append(per[u], ev{p, it.Time, it.Kind == Cart})
	}
	for u, evs := range per {
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].t > evs[b].t })
		last := m.lastOrder[m.viewers.users.ids[u]]
		seenV, seenC := map[int32]bool{}, map[int32]bool{}
		for _, e := range evs {
			if !seenV[e.p] && len(m.recentView[u]) < 20 {
				seenV[e.p] = true
				m.recentView[u] = append(m.recentView[u], e.p)
			}
			if e.cart && e.t > last && !seenC[e.p] {
				seenC[e.p] = true
				m.openCart[u] = append(m.openCart[u], e.p)
			}
		}
	}
}

func (m *Model) buildRules(rs []ProductRule) {
	m.pins, m.blocked = map[string][]int32{}, map[string]map[int32]bool{}
	sort.Slice(rs, func(a, b int) bool {
		if rs[a].Placement != rs[b].Placement {
			return rs[a].Placement < rs[b].Placement
		}
		return rs[a].ProductID < rs[b].ProductID
	})
	for _, r := range rs {
		p, ok := m.items.get(canonical(m.cat, r.ProductID))
		if !ok {
			p = m.items.add(canonical(m.cat, r.ProductID))
			m.title = append(m.title, r.ProductID)
			m.category = append(m.category, "")
		}
		switch r.Rule {
		case RulePin:
			m.pins[r.Placement] = append(m.pins[r.Placement], p)
		case RuleBlock:
			if m.blocked[r.Placement] == nil {
				m.blocked[r.Placement] = map[int32]bool{}
			}
			m.blocked[r.Placement][p] = true
		}
	}
}
