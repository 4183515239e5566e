package attribution

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestJourneysThroughProcessor writes Segment events through the real path (Normalize,
// InsertEvents, the identity processor) and checks the journeys built from what it derives.
func TestJourneysThroughProcessor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := func(d time.Duration) string { return event.FormatTime(jt0.Add(d)) }
		type M = map[string]any
		payloads := []M{
			// An ad click, a page view without campaign in the same visit, then the order.
			{"type": "page", "name": "Home", "anonymousId": "a1", "timestamp": ts(0),
				"context": M{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=Brand"}}},
			{"type": "page", "name": "Menu", "anonymousId": "a1", "timestamp": ts(5 * time.Minute),
				"context": M{"page": M{"url": "https://shop.example/menu"}}},
			{"type": "track", "event": "Order Completed", "anonymousId": "a1", "timestamp": ts(10 * time.Minute),
				"properties": M{"order_id": "w1", "revenue": 42.5, "currency": "EUR"}},
			// A till sale to someone never seen before.
			{"type": "track", "event": "Order Completed", "userId": "u2", "timestamp": ts(time.Hour),
				"properties": M{"order_id": "t1", "revenue": 9, "currency": "EUR", "location": "store"}},
		}
		identitytest.Load(t, db, "test", jt0.Add(1000*time.Hour), payloads...)
		opt := PathOptions{}
		got := collect(&opt)
		_, sum, err := BuildPaths(ctx, db, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(*got) != 2 || sum.Conversions != 2 || sum.RevenueMinor != 5150 {
			t.Fatalf("journeys %q, summary %+v", *got, sum)
		}
		web := slices.IndexFunc(*got, func(s string) bool { return strings.Contains(s, "conv 4250@10m0s first [Paid Search/brand@0s]") })
		if web < 0 {
			t.Errorf("web order journey missing: %q", *got)
		}
		till := slices.IndexFunc(*got, func(s string) bool {
			return strings.Contains(s, "conv 900@1h0m0s first synth [In-store/(none)@1h0m0s]")
		})
		if till < 0 {
			t.Errorf("till order journey missing: %q", *got)
		}
	})
}
