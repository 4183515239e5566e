package identitytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestLoad(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	// Raw JSON, as a string; the identify has no timestamp and takes the receive time.
	identitytest.Load(t, db, "web", now,
		`{"type":"page","anonymousId":"a1","timestamp":"2026-05-01T09:00:00Z"}`,
		`{"type":"identify","anonymousId":"a1","userId":"u1","traits":{"email":"cleo@shop.example"}}`,
	)
	// Maps are marshalled; a second call appends to the log and the processor catches up again.
	type M = map[string]any
	identitytest.Load(t, db, "till", now, M{"type": "track", "event": "Order Completed", "userId": "u1",
		"timestamp": "2026-05-01T11:00:00Z", "properties": M{"order_id": "o1", "revenue": "9.90", "currency": "EUR"}})

	c, err := identity.FindCustomer(ctx, db, "cleo@shop.example")
	if err != nil {
		t.Fatalf("the loaded identify made no customer: %v", err)
	}
	p, err := identity.Profile(ctx, db, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Orders) != 1 || p.Orders[0].OrderID != "o1" || p.Orders[0].RevenueMinor != 990 {
		t.Errorf("orders %+v, want o1 of 990", p.Orders)
	}
	if !p.LastSeen.Equal(time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("last seen %v", p.LastSeen)
	}
	s, err := identity.Stats(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != 3 || s.Sources != 2 || s.Lag != 0 || s.Customers != 1 {
		t.Errorf("stats %+v, want 3 events from 2 sources, 1 customer, no lag", s)
	}
}
