package journey

import (
	"context"
	"fmt"
)

// Recommender gives messages a customer's product recommendations. A template asks with
// {{range recommend "together" 3}}<a href="{{link .URL}}">{{.Title}}</a> ({{.Reason}}){{end}};
// lists are "together" (with the products of the journey's entry event, e.g. the cart),
// "for-you", "similar" and "popular". Product links are click-tracked like any link: they
// redirect when they are on the shop's own domains, and the recommendation id they carry
// lets a later order be attributed to the recommendation (internal/recommend).
type Recommender interface {
	Recommend(ctx context.Context, customerID int64, list string, products []string, n int) ([]RecommendedProduct, error)
}

// RecommendedProduct is one recommendation as templates see it.
type RecommendedProduct struct {
	ID               string // product id
	Title            string
	URL              string // the product's link with the recommendation id
	ImageURL         string
	Price            string // formatted, e.g. "5.50 EUR"
	Reason           string // in words: "bought together with Sourdough loaf by 38 customers"
	RecommendationID string
}

// recommendFunc binds the template function "recommend" to one send: the customer and
// the products of the entry event. Without a Recommender it returns nothing, so a
// {{with}} or {{range}} around it renders nothing.
func (e *Engine) recommendFunc(ctx context.Context, customerID int64, entry map[string]any) func(list string, n int) []RecommendedProduct {
	return func(list string, n int) []RecommendedProduct {
		if e.opt.Recommender == nil || n <= 0 {
			return nil
		}
		recs, err := e.opt.Recommender.Recommend(ctx, customerID, list, entryProducts(entry), min(n, 12))
		if err != nil {
			e.opt.Logger.Warn("journey: recommendations unavailable for a message", "customer", customerID, "err", err)
			return nil
		}
		return recs
	}
}

// entryProducts are the product ids an entry event names (product_id, or products[]).
func entryProducts(ev map[string]any) []string {
	var out []string
	add := func(v any) {
		if v == nil {
			return
		}
		if s := fmt.Sprint(v); s != "" {
			out = append(out, s)
		}
	}
	add(ev["product_id"])
	if ps, ok := ev["products"].([]any); ok {
		for _, p := range ps {
			if m, ok := p.(map[string]any); ok {
				add(m["product_id"])
			}
		}
	}
	return out
}
