package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestAnonymousHistoryJoinsOnIdentify(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		insert(t, db,
			M{"type": "page", "anonymousId": "anon-1", "timestamp": at(0), "context": M{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring"}}},
			M{"type": "page", "anonymousId": "anon-1", "timestamp": at(5)},
			M{"type": "identify", "anonymousId": "anon-1", "userId": "u-42", "timestamp": at(10), "traits": M{"email": " Ann@Example.COM ", "name": "Ann Smith"}},
		)
		catchUp(t, db)
		// A second device: anonymous visits, then a newsletter signup with the same email.
		insert(t, db,
			M{"type": "page", "anonymousId": "phone-anon", "timestamp": at(20)},
			M{"type": "track", "event": "Signed Up", "anonymousId": "phone-anon", "timestamp": at(21), "context": M{"traits": M{"email": "ann@example.com", "phone": "+49 (151) 234-5678"}}},
			// A till knows her by phone only.
			M{"type": "track", "event": "Order Completed", "anonymousId": "till-77", "timestamp": at(30), "properties": M{"order_id": "T1", "total": "12.50", "phone": "0049 151 2345678", "location": "store"}},
		)
		catchUp(t, db)
		c := find(t, db, "u-42")
		for _, q := range []string{"ann@example.com", "ANN@example.com", "+491512345678", "phone-anon", "till-77"} {
			if got := find(t, db, q); got.ID != c.ID {
				t.Errorf("find %q = customer %d, want %d", q, got.ID, c.ID)
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM customers`); n != 1 {
			t.Errorf("%d customers, want 1", n)
		}
		p := profile(t, db, c.ID)
		if !p.FirstSeen.Equal(t0) {
			t.Errorf("first seen %v, want the first anonymous page view %v", p.FirstSeen, t0)
		}
		if len(p.Touchpoints) != 5 || p.Touchpoints[0].Channel != "Paid Search" || p.Touchpoints[0].Campaign != "spring" {
			t.Errorf("touchpoints = %+v, want 5 starting with the paid search click", p.Touchpoints)
		}
		if len(p.Orders) != 1 || p.Orders[0].RevenueMinor != 1250 || p.Orders[0].Location != "store" {
			t.Errorf("orders = %+v", p.Orders)
		}
		if p.Name != "Ann Smith" || p.Email != "ann@example.com" || p.Phone != "+491512345678" || p.UserID != "u-42" {
			t.Errorf("profile display = %+v", p.Customer)
		}
		if len(p.Merges) == 0 {
			t.Error("no merge recorded")
		}
		for _, q := range []string{"ann", "SMI", "ann@ex", "+49151", "0049 151 23", "49151", "u-4", "1"} {
			cs, err := identity.Search(context.Background(), db, q, 10)
			if err != nil || len(cs) != 1 || cs[0].ID != c.ID {
				t.Errorf("Search(%q) = %+v, %v", q, cs, err)
			}
		}
		if cs, err := identity.Search(context.Background(), db, "bob", 10); err != nil || len(cs) != 0 {
			t.Errorf("Search(bob) = %+v, %v", cs, err)
		}
		// Customer id is the seq of the first event: the first page view.
		if c.ID != 1 {
			t.Errorf("customer id %d, want 1 (seq of the first event)", c.ID)
		}
	})
}

func TestAlias(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		insert(t, db,
			M{"type": "track", "event": "Product Viewed", "anonymousId": "a-1", "timestamp": at(0)},
			M{"type": "identify", "userId": "u-1", "timestamp": at(1), "traits": M{"name": "Bo"}},
			M{"type": "alias", "previousId": "a-1", "userId": "u-1", "timestamp": at(2)},
		)
		catchUp(t, db)
		if a, u := find(t, db, "a-1"), find(t, db, "u-1"); a.ID != u.ID {
			t.Errorf("alias did not merge: %d vs %d", a.ID, u.ID)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM customers`); n != 1 {
			t.Errorf("%d customers, want 1", n)
		}
		// Alias of two different userIds is refused: userIds never merge.
		insert(t, db,
			M{"type": "identify", "userId": "u-2", "timestamp": at(3)},
			M{"type": "alias", "previousId": "u-2", "userId": "u-1", "timestamp": at(4)},
		)
		catchUp(t, db)
		if a, b := find(t, db, "u-1"), find(t, db, "u-2"); a.ID == b.ID {
			t.Error("alias merged two userIds")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM identity_conflicts`); n != 1 {
			t.Errorf("%d conflicts, want 1", n)
		}
	})
}

func TestGuards(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Two userIds on one device stay two customers; the conflict is recorded.
		insert(t, db,
			M{"type": "identify", "anonymousId": "tablet", "userId": "mum", "timestamp": at(0)},
			M{"type": "identify", "anonymousId": "tablet", "userId": "son", "timestamp": at(1)},
			M{"type": "page", "anonymousId": "tablet", "userId": "son", "timestamp": at(1)}, // the same clash: recorded once
		)
		catchUp(t, db)
		mum, son := find(t, db, "mum"), find(t, db, "son")
		if mum.ID == son.ID {
			t.Fatal("two userIds merged")
		}
		cs, err := identity.Conflicts(ctx, db, 10)
		if err != nil || len(cs) != 1 || cs[0].Kind != identity.KindAnonymousID || cs[0].Value != "tablet" ||
			cs[0].CustomerID != mum.ID || cs[0].OtherID != son.ID {
			t.Fatalf("conflicts = %+v, %v", cs, err)
		}
		if p := profile(t, db, son.ID); len(p.Conflicts) != 1 {
			t.Errorf("son's profile shows %d conflicts, want 1", len(p.Conflicts))
		}

		// Placeholders never link people.
		insert(t, db,
			M{"type": "identify", "anonymousId": "p1", "userId": "null", "timestamp": at(2), "traits": M{"email": "test@test.com", "phone": "000000"}},
			M{"type": "identify", "anonymousId": "p2", "userId": "null", "timestamp": at(3), "traits": M{"email": "test@test.com", "phone": "000000"}},
			M{"type": "identify", "anonymousId": "undefined", "userId": " undefined ", "timestamp": at(4), "traits": M{"email": "not-an-email"}},
			M{"type": "track", "event": "X", "anonymousId": "[object Object]", "timestamp": at(5)},
		)
		catchUp(t, db)
		if a, b := find(t, db, "p1"), find(t, db, "p2"); a.ID == b.ID {
			t.Error("placeholder userId/email merged two visitors")
		}
		for _, q := range []string{"null", "test@test.com", "undefined", "[object Object]"} {
			if _, err := identity.FindCustomer(ctx, db, q); !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("placeholder %q became an identifier (err %v)", q, err)
			}
		}
		st, err := identity.Stats(ctx, db)
		if err != nil || st.Unidentified != 2 {
			t.Errorf("unidentified = %d (%v), want 2", st.Unidentified, err)
		}

		// A till's shared email, used by five account holders: after the fourth userId it
		// is shared, recorded, and two anonymous shoppers typing it are not merged.
		var evs []M
		for i, u := range []string{"c1", "c2", "c3", "c4", "c5"} {
			evs = append(evs, M{"type": "identify", "userId": u, "timestamp": at(10 + i), "traits": M{"email": "shop@bakery.example"}})
		}
		evs = append(evs,
			M{"type": "track", "event": "Order Completed", "anonymousId": "walkin-1", "timestamp": at(20), "properties": M{"order_id": "W1", "revenue": 5, "email": "shop@bakery.example"}},
			M{"type": "track", "event": "Order Completed", "anonymousId": "walkin-2", "timestamp": at(21), "properties": M{"order_id": "W2", "revenue": 6, "email": "shop@bakery.example"}},
		)
		insert(t, db, evs...)
		catchUp(t, db)
		w1, w2 := find(t, db, "walkin-1"), find(t, db, "walkin-2")
		if w1.ID == w2.ID {
			t.Error("shared email merged two walk-in shoppers")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM identities WHERE kind = 'email' AND value = 'shop@bakery.example' AND shared = 1`); n != 1 {
			t.Error("shared email not marked shared")
		}
		var shared int
		for _, c := range mustConflicts(t, db) {
			if strings.HasPrefix(c.Reason, "shared identifier") && c.Value == "shop@bakery.example" {
				shared++
			}
		}
		if shared != 1 {
			t.Errorf("%d shared-identifier conflicts for the till email, want 1", shared)
		}
		if ids := map[int64]bool{find(t, db, "c1").ID: true, find(t, db, "c2").ID: true, find(t, db, "c3").ID: true, find(t, db, "c5").ID: true}; len(ids) != 4 {
			t.Error("account holders sharing an email were merged")
		}

		// The family tablet gets a third and fourth userId: shared. A page view carrying only
		// it is attributed to nobody; an order with only it is a customer of its own.
		insert(t, db,
			M{"type": "identify", "anonymousId": "tablet", "userId": "daughter", "timestamp": at(30)},
			M{"type": "identify", "anonymousId": "tablet", "userId": "dad", "timestamp": at(31)},
			M{"type": "page", "anonymousId": "tablet", "timestamp": at(32)},
			M{"type": "track", "event": "Order Completed", "anonymousId": "tablet", "timestamp": at(33), "properties": M{"order_id": "TAB", "revenue": 1}},
		)
		catchUp(t, db)
		if st, _ := identity.Stats(ctx, db); st.Unidentified != 3 {
			t.Errorf("unidentified = %d, want 3 (two placeholder events and the shared tablet's page view)", st.Unidentified)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM orders WHERE order_id = 'TAB' AND customer_id NOT IN (?, ?)`, mum.ID, son.ID); n != 1 {
			t.Error("an order with only a shared identifier went to one of its holders")
		}
	})
}

func mustConflicts(t *testing.T, db *store.DB) []identity.Conflict {
	cs, err := identity.Conflicts(context.Background(), db, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestTraitsLatestByEventTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// The newer name arrives first; the older one, arriving later, must not win.
		insert(t, db, M{"type": "identify", "userId": "u", "timestamp": at(60), "traits": M{"name": "New Name", "plan": "pro"}})
		catchUp(t, db)
		insert(t, db,
			M{"type": "identify", "userId": "u", "timestamp": at(0), "traits": M{"name": "Old Name", "plan": "free", "city": "Graz"}},
			M{"type": "identify", "anonymousId": "anon-x", "timestamp": at(30), "traits": M{"email": "u@shop.example", "name": "Mid Name"}},
			M{"type": "identify", "anonymousId": "anon-x", "userId": "u", "timestamp": at(31)},
		)
		catchUp(t, db)
		p := profile(t, db, find(t, db, "u").ID)
		if p.Name != "New Name" || string(p.Traits["plan"]) != `"pro"` || string(p.Traits["city"]) != `"Graz"` || p.Email != "u@shop.example" {
			t.Errorf("traits = %s name=%q email=%q", p.Traits, p.Name, p.Email)
		}
		if !p.FirstSeen.Equal(t0) {
			t.Errorf("first seen %v, want %v (event time, not arrival)", p.FirstSeen, t0)
		}
	})
}

func TestLeaseAndRun(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := identity.NewProcessor(db, identity.Options{Owner: "server"})
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	insert(t, db, M{"type": "track", "event": "A", "anonymousId": "a", "timestamp": at(0)})
	srv.Notify()
	waitFor(t, func() bool { return count(t, db, `SELECT COUNT(*) FROM activity`) == 1 })
	// While the server holds the lease, CatchUp and Rebuild refuse clearly.
	other := identity.NewProcessor(db, identity.Options{Owner: "cli"})
	if err := other.CatchUp(context.Background()); !errors.Is(err, identity.ErrLeaseHeld) {
		t.Errorf("CatchUp with the lease held: %v, want ErrLeaseHeld", err)
	}
	if err := other.Rebuild(context.Background()); !errors.Is(err, identity.ErrLeaseHeld) {
		t.Errorf("Rebuild with the lease held: %v, want ErrLeaseHeld", err)
	}
	if st, err := identity.Stats(context.Background(), db); err != nil || st.LeaseHolder != "server" || st.Lag != 0 || st.Customers != 1 {
		t.Errorf("stats while serving = %+v, %v", st, err)
	}
	// Events written without Notify (another process) are found by polling.
	insert(t, db, M{"type": "track", "event": "B", "anonymousId": "a", "timestamp": at(1)})
	waitFor(t, func() bool { return count(t, db, `SELECT COUNT(*) FROM activity`) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The lease is released on exit: the CLI can catch up now.
	if err := other.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
}
