package recommend

import (
	"context"
	"net/url"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/journey"
)

// Messages gives journey messages their recommendations (journey.Recommender). It uses
// the model already built and never builds one itself: messages are rendered inside the
// journey engine's write transaction, which a build (it writes the product follower's
// rows) would wait for. The service's Run builds it at start.
type Messages struct{ Svc *Service }

var _ journey.Recommender = Messages{}

// Recommend implements journey.Recommender for placement "email".
func (r Messages) Recommend(ctx context.Context, customerID int64, list string, products []string, n int) ([]journey.RecommendedProduct, error) {
	m := r.Svc.model.Load()
	if m == nil {
		return nil, nil
	}
	personal, err := CustomerPersonalised(ctx, r.Svc.db, customerID, m.rules.DefaultConsent)
	if err != nil {
		return nil, err
	}
	if _, known := listCode[list]; !known || list == ListPinned {
		list = ListForYou
	}
	recs := m.Recommend(Request{CustomerID: customerID, Placement: "email", List: list, Products: products, N: n,
		Personalised: personal})
	out := make([]journey.RecommendedProduct, 0, len(recs))
	for _, x := range recs {
		out = append(out, journey.RecommendedProduct{ID: x.ProductID, Title: x.Title, URL: TrackedURL(x.URL, x.ID), ImageURL: x.ImageURL,
			Price: x.Price + " " + x.Currency, Reason: x.Reason, RecommendationID: x.ID})
	}
	return out, nil
}

// TrackedURL adds the recommendation id to a product link (catalog.RecParam), so the
// click on it, and the order after, are traced to the recommendation.
func TrackedURL(raw, recID string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	q := u.Query()
	q.Set(catalog.RecParam, recID)
	u.RawQuery = q.Encode()
	return u.String()
}
