package recommend

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
)

// modelFormat is the revision of a Model's stored form (MarshalBinary): change it when
// Model or its parts change, so that a stored model of the old form is not read.
const modelFormat = 1

// MarshalBinary is the model in a stored form: its lists, matrices, EASE weights and
// lookups. The catalogue and the rules are not in it: they are part of the model's
// version (DataVersion), so a stored model of the current version is read back with
// the catalogue and rules read from the store (UnmarshalModel).
func (m *Model) MarshalBinary() ([]byte, error) {
	st := modelState{
		Format: modelFormat, Built: m.Built, Version: m.Version, Method: m.Method,
		Items: m.items.ids, Title: m.title, Category: m.category,
		Buyers: matrixStateOf(m.buyers), Viewers: matrixStateOf(m.viewers),
		Together: neighboursOf(m.together), Similar: neighboursOf(m.similar), KNN: neighboursOf(m.knn),
		ByCategory: m.byCategory, OpenCart: m.openCart, RecentView: m.recentView, LastOrder: m.lastOrder,
		Pins: m.pins, Blocked: m.blocked, Traits: m.traits, PopularTo: m.popularTo, Stats: m.stats,
	}
	if m.ease != nil {
		st.Ease = &easeState{Items: m.ease.items, Row: m.ease.row, B: m.ease.b, N: m.ease.n}
	}
	st.Popular = map[string][]popState{}
	for k, l := range m.popular {
		ps := make([]popState, len(l))
		for i, p := range l {
			ps[i] = popState{p.item, p.customers}
		}
		st.Popular[k] = ps
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalModel reads a model stored by MarshalBinary, with the catalogue and rules
// of its version.
func UnmarshalModel(b []byte, cat *catalog.Catalogue, rules Rules) (*Model, error) {
	var st modelState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return nil, fmt.Errorf("recommend: read stored model: %w", err)
	}
	if st.Format != modelFormat {
		return nil, fmt.Errorf("recommend: stored model of form %d, want %d", st.Format, modelFormat)
	}
	if cat == nil {
		cat = catalog.New(nil)
	}
	items := indexOf(st.Items)
	m := &Model{
		Built: st.Built, Version: st.Version, Method: st.Method, cat: cat, rules: rules,
		items: items, title: st.Title, category: st.Category,
		buyers: st.Buyers.matrix(items), viewers: st.Viewers.matrix(items),
		together: st.Together.lists(), similar: st.Similar.lists(), knn: st.KNN.lists(),
		byCategory: st.ByCategory, openCart: st.OpenCart, recentView: st.RecentView, lastOrder: st.LastOrder,
		pins: st.Pins, blocked: st.Blocked, traits: st.Traits, popularTo: st.PopularTo, stats: st.Stats,
	}
	if st.Ease != nil {
		m.ease = &ease{items: st.Ease.Items, row: st.Ease.Row, b: st.Ease.B, n: st.Ease.N}
	}
	m.popular = make(map[string][]popItem, len(st.Popular))
	for k, l := range st.Popular {
		ps := make([]popItem, len(l))
		for i, p := range l {
			ps[i] = popItem{p.Item, p.Customers}
		}
		m.popular[k] = ps
	}
	if len(m.title) != items.len() || len(m.category) != items.len() {
		return nil, fmt.Errorf("recommend: stored model: %d titles for %d products", len(m.title), items.len())
	}
	return m, nil
}

type modelState struct {
	Format          int
	Built           time.Time
	Version, Method string
	Items           []string
	Title           []string
	Category        []string
	Buyers, Viewers matrixState
	Together        neighbourLists
	Similar         neighbourLists
	KNN             neighbourLists
	Ease            *easeState
	Popular         map[string][]popState
	ByCategory      map[string][]int32
	OpenCart        map[int32][]int32
	RecentView      map[int32][]int32
	LastOrder       map[string]int64
	Pins            map[string][]int32
	Blocked         map[string]map[int32]bool
	Traits          map[string]string
	PopularTo       int64
	Stats           Stats
}

type popState struct{ Item, Customers int32 }

type easeState struct {
	Items, Row []int32
	B          []float64
	N          int
}

// matrixState is a matrix over the model's products: its customers and both adjacency
// lists (the lists of products past the last customer's are kept as they are).
type matrixState struct {
	Nil       bool
	Users     []string
	UserItems [][]int32
	ItemUsers [][]int32
}

func matrixStateOf(m *matrix) matrixState {
	if m == nil {
		return matrixState{Nil: true}
	}
	return matrixState{Users: m.users.ids, UserItems: m.userItems, ItemUsers: m.itemUsers}
}

func (s matrixState) matrix(items index) *matrix {
	if s.Nil {
		return nil
	}
	return &matrix{users: indexOf(s.Users), items: items, userItems: s.UserItems, itemUsers: s.ItemUsers}
}

func indexOf(ids []string) index {
	x := index{ids: ids, pos: make(map[string]int32, len(ids))}
	for i, id := range ids {
		x.pos[id] = int32(i)
	}
	return x
}

// neighbourLists are lists of neighbours laid flat: list i is [Ends[i-1], Ends[i]);
// Empty are the lists that are empty but not nil.
type neighbourLists struct {
	Nil    bool
	Empty  []int32
	Ends   []int32
	Items  []int32
	Scores []float32
	N      []int32
}

func neighboursOf(ls [][]neighbour) neighbourLists {
	if ls == nil {
		return neighbourLists{Nil: true}
	}
	var s neighbourLists
	for i, l := range ls {
		if l != nil && len(l) == 0 {
			s.Empty = append(s.Empty, int32(i))
		}
		for _, nb := range l {
			s.Items = append(s.Items, nb.item)
			s.Scores = append(s.Scores, nb.score)
			s.N = append(s.N, nb.n)
		}
		s.Ends = append(s.Ends, int32(len(s.Items)))
	}
	return s
}

func (s neighbourLists) lists() [][]neighbour {
	if s.Nil {
		return nil
	}
	out := make([][]neighbour, len(s.Ends))
	start := int32(0)
	for i, end := range s.Ends {
		if end > start {
			l := make([]neighbour, end-start)
			for k := range l {
				j := start + int32(k)
				l[k] = neighbour{s.Items[j], s.Scores[j], s.N[j]}
			}
			out[i] = l
		}
		start = end
	}
	for _, i := range s.Empty {
		if int(i) < len(out) && out[i] == nil {
			out[i] = []neighbour{}
		}
	}
	return out
}
