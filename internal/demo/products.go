package demo

// product is one item on the menu. Prices are EUR minor units.
type product struct {
	id, name, category string
	price              int64
	weight             float64
}

var storeMenu = []product{
	{"p-croissant", "Croissant", "pastry", 220, 10},
	{"p-painchoc", "Pain au chocolat", "pastry", 250, 7},
	{"p-cinnamon", "Cinnamon bun", "pastry", 320, 8},
	{"p-sourdough", "Sourdough loaf", "bread", 550, 8},
	{"p-rye", "Rye loaf", "bread", 480, 3},
	{"p-baguette", "Baguette", "bread", 290, 6},
	{"p-flatwhite", "Flat white", "coffee", 340, 9},
	{"p-cappuccino", "Cappuccino", "coffee", 320, 7},
	{"p-filter", "Filter coffee", "coffee", 260, 4},
	{"p-scone", "Cheese scone", "pastry", 300, 3},
	{"p-carrotcake", "Carrot cake slice", "cake", 420, 4},
	{"p-quiche", "Quiche slice", "savoury", 560, 3},
	{"p-sandwich", "Sourdough sandwich", "savoury", 695, 4},
}

var webMenu = []product{
	{"w-pastrybox", "Pastry box (6)", "box", 1800, 8},
	{"w-brunchbox", "Brunch box for two", "box", 3900, 4},
	{"w-breadbundle", "Bread bundle", "bread", 1600, 5},
	{"w-cookietin", "Cookie tin", "gift", 1450, 4},
	{"w-sourdough", "Sourdough loaf", "bread", 550, 5},
	{"w-cake-s", "Celebration cake (small)", "cake", 3200, 2},
	{"w-cake-l", "Celebration cake (large)", "cake", 4800, 1},
}

var (
	cakeSmall   = product{"w-cake-s", "Celebration cake (small)", "cake", 3200, 0}
	cakeLarge   = product{"w-cake-l", "Celebration cake (large)", "cake", 4800, 0}
	stollen     = product{"s-stollen", "Christmas stollen", "seasonal", 1450, 0}
	mincePies   = product{"s-mincepies", "Mince pies (6)", "seasonal", 1100, 0}
	hotCross    = product{"s-hotcross", "Hot cross buns (6)", "seasonal", 850, 0}
	mothersCake = product{"s-mumcake", "Mother's Day cake", "cake", 3400, 0}
	delivery    = product{"w-delivery", "Local delivery", "delivery", 395, 0}
)

var storeWeights, webWeights []float64

func init() {
	for _, p := range storeMenu {
		storeWeights = append(storeWeights, p.weight)
	}
	for _, p := range webMenu {
		webWeights = append(webWeights, p.weight)
	}
}

type line struct {
	p   *product
	qty int64
}

type basket struct {
	n     int
	lines [8]line
	total int64
}

func (b *basket) add(p *product, q int64) {
	if b.n == len(b.lines) {
		return
	}
	b.lines[b.n] = line{p, q}
	b.n++
	b.total += p.price * q
}

// fillBasket draws an order's contents from a keyed seed, so the same (person, day)
// buys the same things in every counterfactual where the order exists at that location.
func fillBasket(b *basket, seed uint64, loc location, cake bool, dy *day) {
	*b = basket{}
	r := splitmix{seed}
	switch loc {
	case locWeb:
		if cake || r.float() < 0.12 {
			if r.float() < 0.7 {
				b.add(&cakeSmall, 1)
			} else {
				b.add(&cakeLarge, 1)
			}
		}
		if dy.mothers && r.float() < 0.5 {
			b.add(&mothersCake, 1)
		}
		if dy.christmas && r.float() < 0.6 {
			b.add(&stollen, 1+int64(r.intn(2)))
		}
		if dy.easter && r.float() < 0.5 {
			b.add(&hotCross, 1)
		}
		if b.n == 0 || r.float() < 0.35 {
			n := 1 + r.intn(2)
			for i := 0; i < n; i++ {
				b.add(&webMenu[pick(r.float(), webWeights)], 1)
			}
		}
		if r.float() < 0.6 {
			b.add(&delivery, 1)
		}
	default:
		n := 1
		for n < 5 && r.float() < 0.55 {
			n++
		}
		for i := 0; i < n; i++ {
			q := int64(1)
			if r.float() < 0.15 {
				q = 2
			}
			b.add(&storeMenu[pick(r.float(), storeWeights)], q)
		}
		if dy.christmas && r.float() < 0.25 {
			b.add(&mincePies, 1)
		}
		if dy.easter && r.float() < 0.3 {
			b.add(&hotCross, 1)
		}
		if cake || r.float() < 0.02 {
			b.add(&cakeSmall, 1)
		}
	}
}

// Tastes: every person has one hidden taste, a group of products that cuts across
// categories, drawn from a stream of its own (tasteSalt) so no other draw of the world
// changes. Tastes steer which products a person looks at on the website (80% from their
// group); what they buy keeps its own draws, so orders, revenue and every figure built on
// them are as they were. Recommendations built from views can recover the groups; a test
// checks they do better than popularity (internal/recommend, demo test).
var tasteGroups = [][]*product{
	{&storeMenu[0], &storeMenu[6], &storeMenu[1], &storeMenu[5], &storeMenu[8], &webMenu[0]},   // morning: croissant, flat white, pain au chocolat, baguette, filter coffee, pastry box
	{&storeMenu[12], &storeMenu[11], &storeMenu[9], &storeMenu[4], &storeMenu[7], &webMenu[1]}, // lunch: sandwich, quiche, cheese scone, rye, cappuccino, brunch box
	{&storeMenu[3], &webMenu[4], &webMenu[2], &storeMenu[2], &storeMenu[10]},                   // home baking: sourdough (shop and web), bread bundle, cinnamon bun, carrot cake
	{&webMenu[5], &webMenu[6], &webMenu[3], &mothersCake, &stollen, &mincePies, &hotCross},     // celebrations and gifts
}

// TasteNames name the groups, in order.
var TasteNames = []string{"morning", "lunch", "home baking", "celebrations"}

const (
	tasteSalt = 0x7a57e5a17a57e5a1
	viewSalt  = 0x5ee5ee5ee5ee5ee5
)

// taste is person id's hidden taste group.
func (w *world) taste(id uint32) int {
	return int(mix64(w.seedHash^uint64(id)*0x9e3779b97f4a7c15^tasteSalt) % uint64(len(tasteGroups)))
}

// allProducts is every product a page shows.
var allProducts = func() []*product {
	var out []*product
	for i := range storeMenu {
		out = append(out, &storeMenu[i])
	}
	for i := range webMenu {
		out = append(out, &webMenu[i])
	}
	return append(out, &stollen, &mincePies, &hotCross, &mothersCake)
}()

// viewedProduct is the product a person looks at, at time ts: from their taste group
// four times in five. It takes the sequential draw it replaces, so the person's later
// draws stay the same.
func (em *emitter) viewedProduct(ts int64) *product {
	_ = em.r.intn(len(webMenu))
	h := mix64(em.w.seedHash ^ uint64(em.p.id)<<32 ^ uint64(ts) ^ viewSalt)
	if float64(h>>11)/(1<<53) < 0.8 {
		g := tasteGroups[em.w.taste(em.p.id)]
		return g[(h>>7)%uint64(len(g))]
	}
	return allProducts[(h>>13)%uint64(len(allProducts))]
}
