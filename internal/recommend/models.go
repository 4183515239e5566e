package recommend

// ModelCard says, for owners, what one model uses and what it never uses.
type ModelCard struct {
	Name      string   `json:"name"`
	Where     string   `json:"where"`
	Method    string   `json:"method"`
	Uses      []string `json:"uses"`
	NeverUses []string `json:"never_uses"`
	OptOut    string   `json:"opt_out"`
}

// sensitive is what no model reads: none of these is a column of any model's input.
var sensitive = []string{"name, email, phone or address", "age, gender, ethnicity, religion, health or any other trait",
	"location beyond the shop location of an order", "prices paid (except as margin rules on the catalogue)"}

// ModelCards lists every model behind recommendations, next best actions and lead scores.
func ModelCards() []ModelCard {
	optOut := `a person who opted out of personalisation (trait consent.personalisation = false, or {"consent":{"personalisation":false}}) gets only lists that do not use their history: popular, and what goes with the product on screen`
	return []ModelCard{
		{Name: "bought together", Where: "cart, product page, abandoned-cart emails",
			Method:    "products in the same order, by distinct customers, cosine-weighted so that everyday products do not crowd out specific companions; at least recommend.min_support customers",
			Uses:      []string{"order lines (product ids) of all orders"},
			NeverUses: sensitive, OptOut: "uses no personal history at the time of the request (the products in context)"},
		{Name: "similar", Where: "product page",
			Method:    "products viewed by the same customers (Product Viewed, Product Added), then products of the same catalogue category",
			Uses:      []string{"product views and cart adds of all customers", "catalogue category"},
			NeverUses: sensitive, OptOut: "uses no personal history at the time of the request (the product on screen)"},
		{Name: "for you", Where: "home, email, clienteling",
			Method:    "EASE (a linear item-item model) over the customer's purchases; item-kNN when the catalogue has more than 3,000 sold products; the customer's recent views when they bought nothing",
			Uses:      []string{"the customer's own purchases (product ids)", "the customer's own product views", "all customers' purchases, to learn which products go together"},
			NeverUses: sensitive, OptOut: optOut},
		{Name: "popular", Where: "everywhere, as the fallback",
			Method:    "share of customers who bought each product in the last recommend.popular_days days, per location",
			Uses:      []string{"orders of the window (product ids, location)"},
			NeverUses: sensitive, OptOut: "not personal"},
		{Name: "business rules", Where: "every list",
			Method:    "out of stock, already bought (unless replenishable), margin below recommend.min_margin_percent and blocked products are left out; pinned products come first; at most recommend.max_per_category per category while others are left",
			Uses:      []string{"catalogue availability, stock, cost and price", "the customer's purchases (already bought)"},
			NeverUses: sensitive, OptOut: "already-bought filtering is skipped, since it would use their history"},
		{Name: "next best action", Where: "customer page, journeys (condition next_action)",
			Method:    "rules over the customer's RFM segment, probability of being alive, predicted value, consent and last contact",
			Uses:      []string{"order dates and values", "consent to email and SMS marketing", "messages sent in the last 14 days"},
			NeverUses: sensitive, OptOut: "a person who opted out gets no personalised action (reason: opted out)"},
		{Name: "lead score", Where: "omniroi leads",
			Method:    "L2-regularised logistic regression on behaviour before a cut-off and conversion after it, calibrated by a reliability table",
			Uses:      []string{"page views, product views, cart adds, email opens and clicks (counts, last 30 days)", "days since last activity", "sign-up", "whether a person already ordered (the target)"},
			NeverUses: sensitive, OptOut: "opted-out people are not scored"},
	}
}
