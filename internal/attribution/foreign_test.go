package attribution

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestROIOrdersOtherCurrency: an order in dollars is converted into euros at the rate of
// its day (with a note saying so); one whose day has no rate within fx.max_gap_days counts
// without revenue, with a note giving the reason.
func TestROIOrdersOtherCurrency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		type M = map[string]any
		order := func(user, id, ts string, revenue float64, cur string) []M {
			return []M{
				{"type": "page", "userId": user, "timestamp": ts, "context": M{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc"}}},
				{"type": "track", "event": "Order Completed", "userId": user, "timestamp": ts,
					"properties": M{"order_id": id, "revenue": revenue, "currency": cur}},
			}
		}
		var evs []M
		evs = append(evs, order("a", "1", "2026-03-01T10:00:00Z", 10, "EUR")...)
		evs = append(evs, order("b", "2", "2026-03-02T10:00:00Z", 12.5, "USD")...) // rate of 27 February: 1.25
		evs = append(evs, order("c", "3", "2026-03-20T10:00:00Z", 30, "USD")...)   // 21 days after the last rate
		identitytest.Load(t, db, "web", jt0.Add(1000*time.Hour), evs...)
		if _, err := db.Exec(ctx, `INSERT INTO fx_rates (base, quote, day, rate) VALUES ('EUR', 'USD', '2026-02-27', '1.25')`); err != nil {
			t.Fatal(err)
		}
		rep, err := NewService(db).ROI(ctx, ROIQuery{From: jt0, To: jt0.AddDate(0, 1, 0), Model: "last_touch"})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Current
		// 10.00 EUR + 12.50 USD / 1.25 = 10.00 EUR.
		if p.RevenueMinor != 2000 || p.Paths.ConvertedConversions != 1 {
			t.Errorf("revenue %d (%d converted), want 2000 (1)", p.RevenueMinor, p.Paths.ConvertedConversions)
		}
		notes := strings.Join(p.Notes, "\n")
		for _, want := range []string{"1 conversions in USD (12.50) are converted to EUR with the exchange rate of their day (10.00)",
			"1 conversions in USD (30.00) count without revenue: no exchange rate to EUR for their day; first: the latest rate for USD is of 2026-02-27"} {
			if !strings.Contains(notes, want) {
				t.Errorf("notes lack %q:\n%s", want, notes)
			}
		}
	})
}
