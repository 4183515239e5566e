package identity_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// sources makes a client source "web" (public key) and a server source "backend".
func sources(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := db.CreateSource(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateSourceKind(ctx, "backend", store.KindServer); err != nil {
		t.Fatal(err)
	}
}

func traitValue(t *testing.T, p identity.CustomerProfile, k string) any {
	t.Helper()
	var v any
	if raw, ok := p.Traits[k]; ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// TestPublicKeyCannotRewriteContact: the public key's identify for an existing customer
// joins the graph but leaves the verified email, phone and consent alone.
func TestPublicKeyCannotRewriteContact(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sources(t, db)
		identitytest.Load(t, db, "backend", t0, M{"type": "identify", "userId": "ana", "timestamp": at(0),
			"traits": M{"email": "ana@shop-customer.example", "phone": "+31 6 1234 5678", "consent": M{"email": M{"marketing": false}}}})
		// The attacker, later in event time, with the public key.
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "ana", "anonymousId": "attacker-device", "timestamp": at(10),
			"traits": M{"email": "mallory@evil.example", "phone": "+1 555 0100", "consent": M{"email": M{"marketing": true}}, "first_name": "Ana"}})
		c := find(t, db, "ana")
		p := profile(t, db, c.ID)
		if c.Email != "ana@shop-customer.example" || c.Phone != "+31612345678" {
			t.Fatalf("the public key rewrote the customer's contact: email %q phone %q", c.Email, c.Phone)
		}
		if got := traitValue(t, p, "consent"); !Equal(got, map[string]any{"email": map[string]any{"marketing": false}}) {
			t.Fatalf("consent after the attack: %v", got)
		}
		if len(p.Unverified) != 0 {
			t.Fatalf("unverified traits %v; the verified values stand", p.Unverified)
		}
		// Analysis data still joins: the attacker's device and address are identities of
		// the customer, and the harmless trait is taken.
		if traitValue(t, p, "first_name") != "Ana" {
			t.Fatalf("first_name %v", traitValue(t, p, "first_name"))
		}
		var kinds []string
		for _, i := range p.Identities {
			kinds = append(kinds, i.Kind+"="+i.Value)
		}
		if !slices.Contains(kinds, "anonymous_id=attacker-device") || !slices.Contains(kinds, "email=mallory@evil.example") {
			t.Fatalf("identities %v", kinds)
		}
	})
}

// TestUnverifiedUntilConfirmed: a contact point only a client source stated is kept as
// unverified (and shown); a later trusted statement verifies it; a client withdrawal
// of consent counts, a client grant does not displace a verified refusal.
func TestUnverifiedUntilConfirmed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sources(t, db)
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "bo", "timestamp": at(0),
			"traits": M{"email": "bo@example.org", "consent": M{"email": M{"marketing": true}}, "push_token": "tok-1"}},
			M{"type": "track", "event": "Order Completed", "anonymousId": "dev-2", "timestamp": at(1),
				"properties": M{"order_id": "o1", "total": 5, "currency": "EUR", "phone": "+44 7700 900123"}})
		c := find(t, db, "bo")
		p := profile(t, db, c.ID)
		if c.Email != "bo@example.org" || !slices.Equal(p.Unverified, []string{"consent", "email", "push_token"}) {
			t.Fatalf("email %q unverified %v", c.Email, p.Unverified)
		}
		o := find(t, db, "dev-2")
		if po := profile(t, db, o.ID); o.Phone != "+447700900123" || !slices.Equal(po.Unverified, []string{"phone"}) {
			t.Fatalf("order placed with a public key: phone %q unverified %v", o.Phone, po.Unverified)
		}
		// The back end states the same email (older event time): now verified.
		identitytest.Load(t, db, "backend", t0, M{"type": "identify", "userId": "bo", "timestamp": at(-5), "traits": M{"email": "bo@example.org"}})
		if p = profile(t, db, c.ID); !slices.Equal(p.Unverified, []string{"consent", "push_token"}) {
			t.Fatalf("after the server's identify: unverified %v", p.Unverified)
		}
		// A refusal from the browser is honoured; a later grant from it is not.
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "bo", "timestamp": at(20), "traits": M{"consent.sms.marketing": false}})
		identitytest.Load(t, db, "backend", t0, M{"type": "identify", "userId": "bo", "timestamp": at(21), "traits": M{"consent.sms.marketing": true}})
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "bo", "timestamp": at(22), "traits": M{"consent.email.marketing": false}})
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "bo", "timestamp": at(23), "traits": M{"consent.email.marketing": true, "consent.sms.marketing": false}})
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "bo", "timestamp": at(24), "traits": M{"consent.email.marketing": true}})
		p = profile(t, db, c.ID)
		if v := traitValue(t, p, "consent.sms.marketing"); v != false {
			t.Fatalf("sms consent %v: the browser's later refusal counts", v)
		}
		if v := traitValue(t, p, "consent.email.marketing"); v != false {
			t.Fatalf("email consent %v: a browser's grant must not displace the refusal", v)
		}
	})
}

// TestGroupTraitsDescribeTheGroup: a group call's traits go to the group, never into the
// person's traits or contact points; memberships follow merges; rebuild agrees.
func TestGroupTraitsDescribeTheGroup(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sources(t, db)
		identitytest.Load(t, db, "backend", t0,
			M{"type": "identify", "userId": "cy", "timestamp": at(0), "traits": M{"name": "Cy Young", "email": "cy@example.net"}},
			M{"type": "group", "userId": "cy", "groupId": "acme", "timestamp": at(1),
				"traits": M{"name": "Acme Ltd", "email": "billing@acme.example", "phone": "+31 20 555 0000", "plan": "gold"}},
			// An anonymous visitor joins the same group, then turns out to be cy.
			M{"type": "group", "anonymousId": "dev-9", "groupId": "acme", "timestamp": at(2), "traits": M{"employees": 40}},
			M{"type": "group", "anonymousId": "dev-9", "groupId": 42, "timestamp": at(3), "traits": M{"name": "Beta BV"}},
		)
		identitytest.Load(t, db, "web", t0, M{"type": "identify", "userId": "cy", "anonymousId": "dev-9", "timestamp": at(4)})
		c := find(t, db, "cy")
		p := profile(t, db, c.ID)
		if c.Name != "Cy Young" || c.Email != "cy@example.net" || c.Phone != "" || traitValue(t, p, "plan") != nil {
			t.Fatalf("group traits leaked into the person: %+v traits %v", c, p.Traits)
		}
		for _, i := range p.Identities {
			if i.Value == "billing@acme.example" || i.Kind == "phone" {
				t.Fatalf("the group's contact became the person's identifier: %+v", i)
			}
		}
		var labels []string
		for _, g := range p.Groups {
			labels = append(labels, g.Label())
		}
		if !slices.Equal(labels, []string{"Acme Ltd", "Beta BV"}) {
			t.Fatalf("member of %v", labels)
		}
		if g := p.Groups[0]; string(g.Traits["plan"]) != `"gold"` || string(g.Traits["employees"]) != "40" || !g.Since.Equal(t0.Add(60e9)) {
			t.Fatalf("group %+v", g)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM group_members`); n != 2 {
			t.Fatalf("%d memberships after the merge, want 2", n)
		}
		before := dumpGroups(t, db)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if after := dumpGroups(t, db); after != before {
			t.Fatalf("rebuild changed groups:\n%s\nvs\n%s", before, after)
		}
	})
}

// TestVerifiedStateRebuilds: processing in small batches, and a rebuild, give the same
// verified and unverified state and groups (the source kind comes from events.source_id).
func TestVerifiedStateRebuilds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sources(t, db)
		for i := range 40 {
			src := "web"
			if i%3 == 0 {
				src = "backend"
			}
			u := "u" + itoa(i%7)
			identitytest.Insert(t, db, src, t0,
				M{"type": "identify", "userId": u, "anonymousId": "a" + itoa(i%11), "timestamp": at(i * 7 % 50),
					"traits": M{"email": u + "-" + itoa(i%4) + "@example.com", "phone": "+4470000000" + itoa(i%5),
						"consent": M{"email": M{"marketing": i%2 == 0}}}},
				M{"type": "group", "anonymousId": "a" + itoa(i%11), "groupId": "g" + itoa(i%3), "timestamp": at(i), "traits": M{"name": "Group " + itoa(i%3), "n": i}},
			)
			if i%9 == 0 {
				if err := identity.NewProcessor(db, identity.Options{BatchSize: 13, CatchUpBatchSize: 13}).CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := identity.NewProcessor(db, identity.Options{BatchSize: 13, CatchUpBatchSize: 13}).CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		inc := dump(t, db) + dumpGroups(t, db)
		if count(t, db, `SELECT COUNT(*) FROM customers WHERE traits LIKE '%"u":true%'`) == 0 {
			t.Fatal("no unverified trait in the stream: the test exercises nothing")
		}
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if full := dump(t, db) + dumpGroups(t, db); full != inc {
			t.Fatalf("incremental and rebuilt state differ:\n%s", firstDiff(inc, full))
		}
	})
}

func dumpGroups(t *testing.T, db *store.DB) string {
	t.Helper()
	var out string
	rows, err := db.Query(context.Background(), `SELECT group_id, name, traits, first_seen, last_seen FROM groups ORDER BY group_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, name, traits string
		var f, l int64
		if err := rows.Scan(&id, &name, &traits, &f, &l); err != nil {
			t.Fatal(err)
		}
		out += id + "|" + name + "|" + traits + "|" + itoa(int(f)) + "|" + itoa(int(l)) + "\n"
	}
	rows.Close()
	rows, err = db.Query(context.Background(), `SELECT group_id, customer_id, first_seen, seq FROM group_members ORDER BY group_id, customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c, f, s int64
		if err := rows.Scan(&id, &c, &f, &s); err != nil {
			t.Fatal(err)
		}
		out += id + "|" + itoa(int(c)) + "|" + itoa(int(f)) + "|" + itoa(int(s)) + "\n"
	}
	return out
}

// Equal compares decoded JSON values.
func Equal(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestLastSeenIsTheCustomersOwn: a message the journey engine sent and a trait one of its
// steps set (trusted source, the engine's message ids) do not move "last seen"; an open
// or a click does, and the same ids from the public key are the customer's own.
func TestLastSeenIsTheCustomersOwn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sources(t, db)
		identitytest.Load(t, db, "web", t0, M{"type": "page", "userId": "ana", "messageId": "p1", "timestamp": at(0)})
		identitytest.Load(t, db, "backend", t0,
			M{"type": "track", "event": "Email Sent", "userId": "ana", "messageId": identity.ServerSentPrefix + "x1", "timestamp": at(60)},
			M{"type": "identify", "userId": "ana", "messageId": identity.ServerProfilePrefix + "x2", "timestamp": at(120), "traits": M{"vip": true}})
		c := find(t, db, "ana")
		if want := t0.UnixMilli(); c.LastSeen.UnixMilli() != want {
			t.Fatalf("last seen %v after the server's own events, want the page view at %v", c.LastSeen, t0)
		}
		if traitValue(t, profile(t, db, c.ID), "vip") != true {
			t.Fatal("the journey step's trait was not applied")
		}
		identitytest.Load(t, db, "backend", t0, M{"type": "track", "event": "Email Link Clicked", "userId": "ana", "messageId": "journey-click-1", "timestamp": at(180)})
		if c := find(t, db, "ana"); c.LastSeen.UnixMilli() != t0.Add(180*time.Minute).UnixMilli() {
			t.Fatalf("last seen %v, want the click", c.LastSeen)
		}
		identitytest.Load(t, db, "web", t0, M{"type": "track", "event": "Email Sent", "userId": "ana", "messageId": identity.ServerSentPrefix + "x3", "timestamp": at(240)})
		if c := find(t, db, "ana"); c.LastSeen.UnixMilli() != t0.Add(240*time.Minute).UnixMilli() {
			t.Fatalf("last seen %v: an event from the public key is not the server's", c.LastSeen)
		}
	})
}
