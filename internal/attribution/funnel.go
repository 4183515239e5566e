package attribution

// FunnelStage is one stage of the customer funnel and the events that put a customer in
// it. A customer counts in every stage up to the highest one they reached in the period,
// so the funnel only narrows.
type FunnelStage struct {
	Name, Means string
	Events      []string
}

// FunnelStages: awareness is any contact at all; post-purchase and advocacy also come
// from the orders (one order in the period, a second one).
var FunnelStages = [...]FunnelStage{
	{"Awareness", "any contact: a visit from any channel, an email delivered, a store visit", nil},
	{"Consideration", "looked closer: viewed a product or a product list, searched, opened or clicked an email, visited the store",
		[]string{"Product Viewed", "Product List Viewed", "Products Searched", "Search", "Product Clicked", "Email Opened", "Email Link Clicked", "Store Visit"}},
	{"Decision", "acted to buy: added to cart, started checkout, applied a coupon",
		[]string{"Product Added", "Cart Viewed", "Checkout Started", "Checkout Step Completed", "Payment Info Entered", "Coupon Applied"}},
	{"Post-purchase", "bought: an order in the period (any channel, shop counter included)", nil},
	{"Advocacy", "came back or spoke up: a second order in the period, or a review, share or referral",
		[]string{"Product Reviewed", "Review Submitted", "Product Shared", "Cart Shared", "Referral Sent", "Friend Referred"}},
}

const (
	stagePurchase = 3
	stageAdvocacy = 4
)

// StageCount is how many customers reached a stage.
type StageCount struct {
	Stage     string `json:"stage"`
	Customers int64  `json:"customers"`
}

var stageOf = func() map[string]int8 {
	m := map[string]int8{}
	for i, st := range FunnelStages {
		for _, e := range st.Events {
			m[e] = int8(i)
		}
	}
	return m
}()

// touchStage is the funnel stage a touch event shows: its stage's index, 0 for any other
// contact, -1 for after-sales events (a refund is no contact with marketing).
func touchStage(name string) int8 {
	if name == "Order Refunded" || name == OrderCompleted {
		return -1
	}
	return stageOf[name]
}

const funnelLen = len(FunnelStages)
