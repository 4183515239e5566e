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
	t.Parallel()
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

// TestMergedCustomer: a cart added anonymously, then a login that merges the anonymous
// customer into a known one, then the purchase under the userId: the run exits.
func TestMergedCustomer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		proc := identity.NewProcessor(db, identity.Options{})
		f.processFn = func() {
			if err := proc.CatchUp(f.ctx); err != nil {
				t.Fatalf("processor: %v", err)
			}
		}
		f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		consent := map[string]any{"email": map[string]any{"marketing": true}}
		f.insert(map[string]any{"type": "identify", "userId": "bob", "messageId": "i1", "traits": map[string]any{"email": "bob@example.com", "consent": consent}})
		f.drain()
		f.insert(map[string]any{"type": "track", "event": "Product Added", "anonymousId": "dev-9", "messageId": "t1", "properties": map[string]any{"cart_id": "c-9"}})
		f.insert(map[string]any{"type": "track", "event": "Product Added", "anonymousId": "dev-8", "messageId": "t2", "properties": map[string]any{"cart_id": "c-8"}})
		f.drain()
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'active'`); n != 2 {
			t.Fatalf("active runs = %d", n)
		}
		// Both devices log in as bob: both anonymous customers fold into bob.
		f.insert(map[string]any{"type": "identify", "userId": "bob", "anonymousId": "dev-9", "messageId": "i2"})
		f.insert(map[string]any{"type": "identify", "userId": "bob", "anonymousId": "dev-8", "messageId": "i3"})
		f.drain()
		bob, err := identity.FindCustomer(f.ctx, db, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if n := f.count(`SELECT COUNT(*) FROM customer_merges WHERE survivor_id = ?`, bob.ID); n != 2 {
			t.Fatalf("merges into bob: %d (the processor's merge rule changed?)", n)
		}
		f.insert(map[string]any{"type": "track", "event": "Order Completed", "userId": "bob", "messageId": "t3",
			"properties": map[string]any{"cart_id": "c-9", "order_id": "o-9", "revenue": 10, "currency": "EUR"}})
		f.drain()
		f.advance(61 * time.Minute)
		mails := f.sink.byChannel("email")
		// c-9 was bought: no email. c-8 was not: one email, to bob's address.
		if len(mails) != 1 || mails[0].To != "bob@example.com" {
			t.Fatalf("emails: %+v", mails)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'exited' AND entry_key = 'c-9'`); n != 1 {
			t.Fatalf("c-9 run did not exit")
		}
	})
}
