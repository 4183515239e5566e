package value

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

type M = map[string]any

// TestThroughProcessor writes Segment events through the real log and processor
// and reads transactions and acquisition channels back.
func TestThroughProcessor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		at := func(h int) string { return event.FormatTime(t0.Add(time.Duration(h) * time.Hour)) }
		payloads := []M{
			// Ana clicks a search ad, comes back directly and buys on the web 3 days later.
			{"type": "page", "anonymousId": "a1", "timestamp": at(0), "context": M{"page": M{"url": "https://crumb.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring", "referrer": "https://www.google.com/"}, "campaign": M{"source": "google", "medium": "cpc", "name": "spring"}}},
			{"type": "page", "anonymousId": "a1", "timestamp": at(70), "context": M{"page": M{"url": "https://crumb.example/"}}},
			{"type": "identify", "anonymousId": "a1", "userId": "ana", "timestamp": at(72), "traits": M{"email": "ana@example.com"}},
			{"type": "track", "event": "Order Completed", "userId": "ana", "anonymousId": "a1", "timestamp": at(72), "properties": M{"order_id": "W1", "revenue": "30.00", "currency": "EUR"}},
			{"type": "track", "event": "Order Completed", "userId": "ana", "timestamp": at(240), "properties": M{"order_id": "W2", "revenue": "20.00", "currency": "EUR"}},
			{"type": "track", "event": "Order Refunded", "userId": "ana", "timestamp": at(260), "properties": M{"order_id": "W2"}},
			// Ben walks in; the till knows his email.
			{"type": "track", "event": "Order Completed", "anonymousId": "till-9", "timestamp": at(5), "properties": M{"order_id": "S1", "revenue": "8.40", "location": "store", "email": "ben@example.com"}},
			{"type": "track", "event": "Order Refunded", "anonymousId": "till-9", "timestamp": at(5), "properties": M{"order_id": "S1", "amount": "2.40"}},
		}
		identitytest.Load(t, db, "test", t0.Add(1000*time.Hour), payloads...)
		ana, err := identity.FindCustomer(ctx, db, "ana@example.com")
		if err != nil {
			t.Fatal(err)
		}
		ben, err := identity.FindCustomer(ctx, db, "ben@example.com")
		if err != nil {
			t.Fatal(err)
		}
		txs, err := LoadTransactions(ctx, db, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Summarize(txs, t0.AddDate(0, 0, 30), Day)
		if err != nil {
			t.Fatal(err)
		}
		rev := map[string]int64{}
		freq := map[string]int{}
		for _, s := range sum {
			rev[s.ID], freq[s.ID] = s.Revenue, s.Frequency
		}
		a, b := strconv.FormatInt(ana.ID, 10), strconv.FormatInt(ben.ID, 10)
		if len(sum) != 2 || rev[a] != 3000 || freq[a] != 1 || rev[b] != 600 || freq[b] != 0 {
			t.Fatalf("summaries %+v", sum)
		}
		ch, err := AcquisitionChannels(ctx, db, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ch[a] != "Paid Search" || ch[b] != "In-store" || len(ch) != 2 {
			t.Fatalf("acquisition channels %v (ana %s, ben %s)", ch, a, b)
		}
		// The customer page can ask by email as well as by id.
		var v struct {
			ID      string `json:"customer_id"`
			Channel string `json:"acquisition_channel"`
		}
		getJSON(t, NewHTTPHandler(db), "/api/v1/customers/ana@example.com/value", http.StatusOK, &v)
		if v.ID != a || v.Channel != "Paid Search" {
			t.Fatalf("value by email: %+v", v)
		}
	})
}
