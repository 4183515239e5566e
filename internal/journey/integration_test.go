package journey

import (
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestWithProcessor runs the abandoned-cart journey on customers the real identity
// processor derived, and checks that the engine's own events join the same customer.
func TestWithProcessor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		proc := identity.NewProcessor(db, identity.Options{})
		f.processFn = func() {
			if err := proc.CatchUp(f.ctx); err != nil {
				t.Fatalf("processor: %v", err)
			}
		}
		f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		f.insert(map[string]any{"type": "identify", "userId": "ada", "messageId": "i1",
			"traits": map[string]any{"email": "Ada@Example.com", "firstName": "Ada", "consent": map[string]any{"email": map[string]any{"marketing": true}}}})
		// Browsing anonymously, then the same device logs in: one customer.
		f.insert(map[string]any{"type": "track", "event": "Product Added", "anonymousId": "dev-1", "userId": "ada", "messageId": "t1",
			"properties": map[string]any{"cart_id": "c-1", "name": "Seeded rye"}})
		f.drain()
		f.advance(61 * time.Minute)
		mails := f.sink.byChannel("email")
		if len(mails) != 1 || mails[0].To != "ada@example.com" {
			t.Fatalf("emails: %+v", mails)
		}
		f.drain()
		c, err := identity.FindCustomer(f.ctx, db, "ada")
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != mails[0].CustomerID {
			t.Fatalf("the email went to customer %d, the processor knows ada as %d", mails[0].CustomerID, c.ID)
		}
		var n int
		if err := db.QueryRow(f.ctx, `SELECT COUNT(*) FROM activity WHERE customer_id = ? AND name = 'Email Sent'`, c.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("Email Sent on ada's timeline: %d", n)
		}
		// A purchase in the shop on the same cart ends a second run before its email.
		f.insert(map[string]any{"type": "track", "event": "Product Added", "userId": "ada", "messageId": "t2", "properties": map[string]any{"cart_id": "c-2"}})
		f.drain()
		f.insert(map[string]any{"type": "track", "event": "Order Completed", "userId": "ada", "messageId": "t3",
			"properties": map[string]any{"cart_id": "c-2", "order_id": "o-2", "revenue": 12.5, "currency": "EUR"}})
		f.drain()
		f.advance(2 * time.Hour)
		if got := len(f.sink.byChannel("email")); got != 1 {
			t.Fatalf("emails after the purchase: %d, want still 1", got)
		}
	})
}
