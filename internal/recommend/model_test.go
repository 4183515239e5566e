package recommend

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/catalog"
)

// bakery is a small catalogue and history: bread buyers also buy butter; coffee buyers
// buy croissants; everyone buys water.
func bakery(t *testing.T, edit func(ps []catalog.Product)) Data {
	t.Helper()
	ps := []catalog.Product{
		{ID: "sourdough", Title: "Sourdough Loaf", Category: "bread", PriceMinor: 550, Availability: catalog.InStock, Trusted: true, URL: "https://shop.example/p/sourdough"},
		{ID: "rye", Title: "Rye Loaf", Category: "bread", PriceMinor: 480, Availability: catalog.InStock, Trusted: true},
		{ID: "butter", Title: "Salted Butter", Category: "dairy", PriceMinor: 350, Availability: catalog.InStock, Trusted: true},
		{ID: "jam", Title: "Apricot Jam", Category: "jars", PriceMinor: 450, Availability: catalog.InStock, Trusted: true},
		{ID: "coffee", Title: "Flat White", Category: "coffee", PriceMinor: 340, Availability: catalog.InStock, Trusted: true},
		{ID: "croissant", Title: "Croissant", Category: "pastry", PriceMinor: 220, Availability: catalog.InStock, Trusted: true},
		{ID: "painchoc", Title: "Pain au chocolat", Category: "pastry", PriceMinor: 250, Availability: catalog.InStock, Trusted: true},
		{ID: "cinnamon", Title: "Cinnamon bun", Category: "pastry", PriceMinor: 320, Availability: catalog.InStock, Trusted: true},
		{ID: "water", Title: "Water", Category: "drinks", PriceMinor: 150, Availability: catalog.InStock, Trusted: true},
	}
	if edit != nil {
		edit(ps)
	}
	var in []Interaction
	day := int64(86400000)
	add := func(c string, d int, items ...string) {
		for _, it := range items {
			in = append(in, Interaction{Customer: c, Product: it, Time: int64(d) * day, Basket: fmt.Sprintf("%s-%d", c, d), Kind: Purchase, Location: "store"})
		}
	}
	for i := 0; i < 40; i++ {
		add(fmt.Sprintf("b%d", i), 1, "sourdough", "butter", "water")
		if i%2 == 0 {
			add(fmt.Sprintf("b%d", i), 3, "rye", "jam")
		}
	}
	for i := 0; i < 30; i++ {
		add(fmt.Sprintf("c%d", i), 2, "coffee", "croissant", "water")
		add(fmt.Sprintf("c%d", i), 4, "painchoc", "cinnamon")
	}
	r := DefaultRules()
	return Data{Catalogue: catalog.New(ps), Interactions: in, Rules: r}
}

func build(t *testing.T, d Data) *Model {
	t.Helper()
	m, err := Build(d)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func productIDs(recs []Recommendation) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ProductID)
	}
	return out
}

func TestBoughtTogetherHasItsReason(t *testing.T) {
	t.Parallel()
	m := build(t, bakery(t, nil))
	recs := m.Recommend(Request{Placement: "cart", Products: []string{"sourdough"}, N: 2})
	if len(recs) == 0 || recs[0].ProductID != "butter" || recs[0].List != ListTogether {
		t.Fatalf("cart with sourdough: %+v", recs)
	}
	if want := "bought together with Sourdough Loaf by 40 customers"; recs[0].Reason != want {
		t.Fatalf("reason %q, want %q", recs[0].Reason, want)
	}
	if recs[0].ID != "bt.cart.butter" {
		t.Fatalf("recommendation id %q", recs[0].ID)
	}
	// Deterministic.
	again := m.Recommend(Request{Placement: "cart", Products: []string{"sourdough"}, N: 2})
	if fmt.Sprint(again) != fmt.Sprint(recs) {
		t.Fatal("two calls differ")
	}
}

func TestForYouBeatsPopularAndExplains(t *testing.T) {
	t.Parallel()
	m := build(t, bakery(t, nil))
	// c0 bought coffee, croissant, water, painchoc, cinnamon. A new customer like b1 who
	// bought only sourdough and butter gets rye/jam (bread buyers') before pastries.
	d := bakery(t, nil)
	d.Interactions = append(d.Interactions, Interaction{Customer: "new", Product: "sourdough", Time: 10 * 86400000, Basket: "n1", Kind: Purchase})
	m = build(t, d)
	recs := m.Recommend(Request{CustomerID: 0, Placement: "home", N: 3})
	if len(recs) != 3 || recs[0].List != ListPopular {
		t.Fatalf("anonymous home: %+v", recs)
	}
	if !strings.HasPrefix(recs[0].Reason, "bought by ") {
		t.Fatalf("popular reason %q", recs[0].Reason)
	}
	t.Logf("method %s", m.Method)
}

func personal(t *testing.T, m *Model, cust string, n int, mod func(*Request)) []Recommendation {
	t.Helper()
	var id int64
	fmt.Sscan(cust, &id)
	r := Request{CustomerID: id, Placement: "home", N: n, Personalised: true}
	if mod != nil {
		mod(&r)
	}
	return m.Recommend(r)
}

// Customers are numeric in the store; the model keys them by their decimal id.
func numericBakery(t *testing.T, edit func(ps []catalog.Product)) Data {
	d := bakery(t, edit)
	names := map[string]string{}
	for i := range d.Interactions {
		c := d.Interactions[i].Customer
		if names[c] == "" {
			names[c] = fmt.Sprint(1000 + len(names))
		}
		d.Interactions[i].Customer = names[c]
	}
	// 2000 is a bread buyer who has not had rye or jam yet.
	d.Interactions = append(d.Interactions,
		Interaction{Customer: "2000", Product: "sourdough", Time: 9 * 86400000, Basket: "x1", Kind: Purchase},
		Interaction{Customer: "2000", Product: "butter", Time: 9 * 86400000, Basket: "x1", Kind: Purchase})
	return d
}

func TestForYouFollowsHistoryAndRules(t *testing.T) {
	t.Parallel()
	m := build(t, numericBakery(t, nil))
	// What the other bread buyers bought (water, rye, jam) comes before the coffee
	// drinkers' pastries.
	recs := personal(t, m, "2000", 3, nil)
	got := productIDs(recs)
	if len(got) != 3 || !contains(got, "water") || !contains(got, "rye") || !contains(got, "jam") || recs[0].List != ListForYou {
		t.Fatalf("bread buyer: %v %+v", got, recs)
	}
	if !strings.HasPrefix(recs[0].Reason, "because you bought ") {
		t.Fatalf("reason %q", recs[0].Reason)
	}
	for _, r := range recs {
		if r.ProductID == "sourdough" || r.ProductID == "butter" {
			t.Fatalf("recommended %s, already bought", r.ProductID)
		}
	}
	// Opted out: no history used, so the list is the popular one.
	off := personal(t, m, "2000", 2, func(r *Request) { r.Personalised = false })
	if off[0].List != ListPopular {
		t.Fatalf("opted out got %+v", off)
	}
	// Bread is replenishable: sourdough may come back.
	d := numericBakery(t, nil)
	d.Rules.Replenishable = map[string]bool{"bread": true}
	m2 := build(t, d)
	all := productIDs(personal(t, m2, "2000", 9, nil))
	if !contains(all, "sourdough") || contains(all, "butter") {
		t.Fatalf("replenishable bread: %v", all)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestRulesStockMarginPinBlockDiversity(t *testing.T) {
	t.Parallel()
	// Out of stock (availability), no stock left at the store, a margin below the minimum.
	d := numericBakery(t, func(ps []catalog.Product) {
		for i := range ps {
			switch ps[i].ID {
			case "rye":
				ps[i].Availability = catalog.OutOfStock
			case "jam":
				ps[i].Stock = map[string]int64{"store": 0, "web": 3}
			case "coffee":
				ps[i].CostMinor = 330 // 3% margin
			}
		}
	})
	d.Rules.MinMargin = 0.2
	m := build(t, d)
	got := productIDs(personal(t, m, "2000", 9, func(r *Request) { r.Location = "store" }))
	for _, bad := range []string{"rye", "jam", "coffee"} {
		if contains(got, bad) {
			t.Errorf("recommended %s at the store: %v", bad, got)
		}
	}
	web := productIDs(personal(t, m, "2000", 9, func(r *Request) { r.Location = "web" }))
	if !contains(web, "jam") {
		t.Errorf("jam has web stock but is missing online: %v", web)
	}

	// Pin first, block never.
	d = numericBakery(t, nil)
	d.Pins = []ProductRule{{ProductID: "cinnamon", Rule: RulePin}, {ProductID: "rye", Rule: RuleBlock, Placement: "home"}}
	m = build(t, d)
	recs := personal(t, m, "2000", 4, nil)
	if recs[0].ProductID != "cinnamon" || recs[0].Reason != "featured by the shop" || contains(productIDs(recs), "rye") {
		t.Fatalf("pin/block: %+v", recs)
	}
	if contains(productIDs(personal(t, m, "2000", 9, func(r *Request) { r.Placement = "email" })), "rye") == false {
		t.Fatalf("rye is blocked on home only, missing from email")
	}

	// Diversity: at most 2 pastries while other categories are left.
	m = build(t, numericBakery(t, nil))
	recs = m.Recommend(Request{Placement: "product", Products: []string{"coffee"}, N: 4})
	n := 0
	for _, r := range recs {
		if r.Category == "pastry" {
			n++
		}
	}
	if n > 2 {
		t.Fatalf("%d pastries in %v", n, productIDs(recs))
	}
}

func TestUntrustedProductsNeedTheShopDomain(t *testing.T) {
	t.Parallel()
	d := numericBakery(t, func(ps []catalog.Product) {
		for i := range ps {
			if ps[i].ID == "jam" {
				ps[i].Trusted, ps[i].URL = false, "https://evil.example/jam"
			}
			if ps[i].ID == "rye" {
				ps[i].Trusted, ps[i].URL = false, "https://www.shop.example/rye"
			}
		}
	})
	m := build(t, d)
	got := productIDs(personal(t, m, "2000", 9, func(r *Request) { r.ShopHosts = []string{"shop.example"} }))
	if contains(got, "jam") || !contains(got, "rye") {
		t.Fatalf("got %v: jam (off-domain, from a public key) must not show, rye (shop domain) must", got)
	}
}

func TestPersonalisedConsent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		traits string
		def    bool
		want   bool
	}{
		{`{}`, true, true},
		{`{}`, false, false},
		{`{"consent.personalisation":{"v":false,"u":true}}`, true, false}, // a refusal from a public key counts
		{`{"consent":{"v":{"personalization":false,"email":{"marketing":true}}}}`, true, false},
		{`{"consent.personalisation":{"v":true,"u":true}}`, false, false}, // an unverified grant does not
		{`{"consent.personalisation":{"v":true}}`, false, true},
		{`{"consent":{"v":{"personalisation":"granted"}}}`, false, true},
		{`{"consent":{"v":{"email":{"marketing":false}}}}`, true, true}, // other consents are not this one
	} {
		if got := Personalised(c.traits, c.def); got != c.want {
			t.Errorf("Personalised(%s, %v) = %v, want %v", c.traits, c.def, got, c.want)
		}
	}
}

// topScored selects what a full sort would.
func TestTopScoredMatchesSort(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	for trial := 0; trial < 200; trial++ {
		var s []scored
		for i := 0; i < r.IntN(300); i++ {
			s = append(s, scored{item: int32(r.IntN(100)), score: float64(r.IntN(20))})
		}
		k := r.IntN(40)
		ex := func(p int32) bool { return p%7 == 0 }
		want := append([]scored(nil), s...)
		sort.Slice(want, func(a, b int) bool {
			if want[a].score != want[b].score {
				return want[a].score > want[b].score
			}
			return want[a].item < want[b].item
		})
		var w []scored
		for _, x := range want {
			if len(w) < k && !ex(x.item) {
				w = append(w, x)
			}
		}
		got := topScored(s, k, ex)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("k=%d\n got %v\nwant %v", k, got, w)
		}
	}
}
