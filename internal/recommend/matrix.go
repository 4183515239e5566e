// Package recommend turns purchases and product views into product recommendations, each
// with its reason in words: "bought together" (co-purchase in the same order, weighted by
// the rarity of the companion), "similar" (co-viewed, then same category), "for you"
// (item-kNN over the customer's history) and "popular" (share of customers in a recent
// window, per location) as the fallback for people and products without history.
// Business rules (stock, already bought, margin, pins and blocks, category diversity) and
// the personalisation opt-out apply to every list. Evaluate measures a method against
// popularity with a time split (docs/recommend.md).
package recommend

import (
	"slices"
	"sort"
)

// Interaction is one customer's contact with one product.
type Interaction struct {
	Customer string
	Product  string
	Time     int64 // unix ms
	Quantity float64
	Basket   string // order id of a purchase; "" for views
	Kind     Kind
	Location string // web, store, ... (purchases)
}

// Kind is what the customer did with the product.
type Kind uint8

const (
	Purchase Kind = iota
	View
	Cart
)

// index maps string ids to dense ints and back.
type index struct {
	ids []string
	pos map[string]int32
}

func newIndex() index { return index{pos: map[string]int32{}} }

func (x *index) add(id string) int32 {
	if p, ok := x.pos[id]; ok {
		return p
	}
	p := int32(len(x.ids))
	x.ids = append(x.ids, id)
	x.pos[id] = p
	return p
}

func (x *index) get(id string) (int32, bool) {
	p, ok := x.pos[id]
	return p, ok
}

func (x *index) len() int { return len(x.ids) }

// matrix is a binary customer × product matrix held as sorted adjacency lists both ways.
type matrix struct {
	users, items index
	userItems    [][]int32
	itemUsers    [][]int32
}

// newMatrix builds the matrix of the interactions keep accepts, over the given item index
// (items absent from it are added).
func newMatrix(in []Interaction, items index, keep func(*Interaction) bool) *matrix {
	m := &matrix{users: newIndex(), items: items}
	for i := range in {
		it := &in[i]
		if keep != nil && !keep(it) {
			continue
		}
		u := m.users.add(it.Customer)
		p := m.items.add(it.Product)
		for int(u) >= len(m.userItems) {
			m.userItems = append(m.userItems, nil)
		}
		m.userItems[u] = append(m.userItems[u], p)
	}
	m.itemUsers = make([][]int32, m.items.len())
	for u, its := range m.userItems {
		slices.Sort(its)
		its = slices.Compact(its)
		m.userItems[u] = its
		for _, p := range its {
			m.itemUsers[p] = append(m.itemUsers[p], int32(u))
		}
	}
	return m
}

// neighbour is one similar item with its similarity and the number of customers behind it.
type neighbour struct {
	item  int32
	score float32
	n     int32 // customers (or baskets) who had both
}

// topNeighbours keeps the k best of cand by score (ties: more support, then lower item id,
// so results are deterministic).
func topNeighbours(cand []neighbour, k int) []neighbour {
	sort.Slice(cand, func(a, b int) bool {
		if cand[a].score != cand[b].score {
			return cand[a].score > cand[b].score
		}
		if cand[a].n != cand[b].n {
			return cand[a].n > cand[b].n
		}
		return cand[a].item < cand[b].item
	})
	if len(cand) > k {
		cand = cand[:k]
	}
	return slices.Clone(cand)
}

// scored is a candidate item for one customer.
type scored struct {
	item  int32
	score float64
	from  int32 // the history item that contributed most (-1: none)
	n     int32 // support behind that contribution
}

// topScored returns the k best of s (score desc, item asc), skipping items excluded. It
// selects with a bounded min-heap, so only the kept ones are sorted.
func topScored(s []scored, k int, excluded func(int32) bool) []scored {
	better := func(a, b scored) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		return a.item < b.item
	}
	h := make([]scored, 0, k) // min-heap: h[0] is the worst kept
	down := func(i int) {
		for {
			l, w := 2*i+1, i
			if l < len(h) && better(h[w], h[l]) {
				w = l
			}
			if r := l + 1; r < len(h) && better(h[w], h[r]) {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for _, c := range s {
		if k == 0 {
			break
		}
		if len(h) == k && !better(c, h[0]) {
			continue
		}
		if excluded != nil && excluded(c.item) {
			continue
		}
		if len(h) < k {
			h = append(h, c)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !better(h[p], h[i]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			continue
		}
		h[0] = c
		down(0)
	}
	sort.Slice(h, func(a, b int) bool { return better(h[a], h[b]) })
	return h
}

func sortStrings(s []string) { sort.Strings(s) }
