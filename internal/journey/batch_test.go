package journey

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestReEntryFollowsMerges: two anonymous visitors each sign up, then log in as the same
// person; the identity processor folds both into one customer. A third sign-up by that
// person must count the merged customers' runs: reentry: never keeps them out.
func TestReEntryFollowsMerges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		proc := identity.NewProcessor(db, identity.Options{})
		f.processFn = func() {
			if err := proc.CatchUp(f.ctx); err != nil {
				t.Fatalf("processor: %v", err)
			}
		}
		f.apply(`name: once
entry: {event: Signed Up}
reentry: never
holdout: 0
steps:
  - email: {subject: "Welcome", text: "Hi"}
`)
		consent := map[string]any{"email": map[string]any{"marketing": true}}
		for _, u := range []string{"bob", "eve"} {
			f.insert(map[string]any{"type": "identify", "userId": u, "messageId": "id-" + u, "traits": map[string]any{"email": u + "@example.com", "consent": consent}})
		}
		f.drain()
		f.insert(map[string]any{"type": "track", "event": "Signed Up", "anonymousId": "dev-1", "messageId": "s1"})
		f.insert(map[string]any{"type": "track", "event": "Signed Up", "anonymousId": "dev-2", "messageId": "s2"})
		f.drain()
		if n := f.count(`SELECT COUNT(*) FROM journey_runs`); n != 2 {
			t.Fatalf("runs after two anonymous sign-ups = %d, want 2", n)
		}
		f.insert(map[string]any{"type": "identify", "userId": "bob", "anonymousId": "dev-1", "messageId": "l1"})
		f.insert(map[string]any{"type": "identify", "userId": "bob", "anonymousId": "dev-2", "messageId": "l2"})
		f.drain()
		bob, err := identity.FindCustomer(f.ctx, db, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if n := f.count(`SELECT COUNT(*) FROM customer_merges WHERE survivor_id = ?`, bob.ID); n != 2 {
			t.Fatalf("merges into bob: %d (the processor's merge rule changed?)", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE customer_id = ?`, bob.ID); n != 0 {
			t.Fatalf("bob has %d runs under his own id; the test needs them under the merged ids", n)
		}
		// Bob signs up again, and eve (never entered) for the first time.
		f.insert(map[string]any{"type": "track", "event": "Signed Up", "userId": "bob", "messageId": "s3"})
		f.insert(map[string]any{"type": "track", "event": "Signed Up", "userId": "eve", "messageId": "s4"})
		f.drain()
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE customer_id = ?`, bob.ID); n != 0 {
			t.Errorf("bob entered again despite reentry: never (his merged customers ran it)")
		}
		for _, m := range f.sink.byChannel("email") {
			if m.To == "bob@example.com" {
				t.Errorf("bob was mailed again: %+v", m)
			}
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs`); n != 3 {
			t.Errorf("runs = %d, want 3 (two anonymous, eve)", n)
		}
	})
}

// TestOneBatchManyEvents: events consumed in one transaction behave as one by one: a run
// started and exited in the same batch, a repeat entry refused by the run the batch just
// started, and a wait-until answered in the batch.
func TestOneBatchManyEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.apply(`name: cart
entry: {event: Product Added, key: cart_id}
exit: [{event: Order Completed, key: cart_id}]
holdout: 0
steps:
  - wait: 1h
  - email: {subject: "Your cart", text: "{{.Event.cart_id}}"}
`)
		f.apply(`name: review
entry: {event: Order Completed}
reentry: after_exit
holdout: 0
steps:
  - wait:
      until: {event: Review Written}
      timeout: 2h
      on_event: thanks
  - email: {subject: "Review?", text: "please"}
  - goto: end
  - id: thanks
    sms: {text: "thanks"}
`)
		a := f.customer(1, consented)
		b := f.customer(2, consented)
		f.trackNoDrain("1", a, "Product Added", map[string]any{"cart_id": "A"})
		f.trackNoDrain("2", b, "Product Added", map[string]any{"cart_id": "B"})
		f.trackNoDrain("3", b, "Product Added", map[string]any{"cart_id": "B"})
		f.trackNoDrain("4", a, "Order Completed", map[string]any{"cart_id": "A", "order_id": "o1"})
		f.trackNoDrain("5", a, "Order Completed", map[string]any{"cart_id": "A2", "order_id": "o2"}) // review run active: no second
		f.trackNoDrain("6", a, "Review Written", nil)
		f.drain()
		got := map[string]int{}
		rows, err := db.Query(f.ctx, `SELECT journey, entry_key, status, step FROM journey_runs ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var j, k, st string
			var step int
			if err := rows.Scan(&j, &k, &st, &step); err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprintf("%s/%s/%s/%d", j, k, st, step)]++
		}
		rows.Close()
		want := map[string]int{"cart/A/exited/0": 1, "cart/B/active/0": 1, "review//done/4": 1}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("runs %v, want %v", got, want)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_timers`); n != 1 {
			t.Errorf("timers = %d, want 1 (cart B)", n)
		}
		if sms := f.sink.byChannel("sms"); len(sms) != 1 || !strings.HasPrefix(sms[0].Text, "thanks") {
			t.Errorf("sms: %+v", sms)
		}
		f.advance(3 * time.Hour)
		mails := f.sink.byChannel("email")
		if len(mails) != 1 || !strings.HasPrefix(mails[0].Text, "B\n") {
			t.Errorf("emails: %+v, want one for cart B", mails)
		}
	})
}

// TestLoadProfilesMatchesLoadProfile: the batch read gives the profiles loadProfile gives.
func TestLoadProfilesMatchesLoadProfile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, q := range []string{
				`INSERT INTO customers (id, first_seen, last_seen, user_id, email, phone, name, traits) VALUES
					(1, 0, 0, 'u1', 'a@x.io', '+1', 'Ada Lovelace', '{"timezone":{"v":"Europe/Paris","t":0,"s":0},"vip":{"v":true,"t":0,"s":0}}'),
					(2, 0, 0, '', 'b@x.io', '', '', '{"first_name":{"v":"Bo","t":0,"s":0}}'),
					(4, 0, 0, '', '', '', 'Cy', 'not json')`,
				`INSERT INTO identities (kind, value, customer_id, first_seen, seq) VALUES ('anonymous_id', 'late', 2, 50, 0), ('anonymous_id', 'early', 2, 10, 0), ('anonymous_id', 'x', 1, 1, 0)`,
				`INSERT INTO segment_changes (customer_id, segment, p_alive, changed_at) VALUES (1, 'New', -1, 0), (1, 'Champions', -1, 1), (2, 'At Risk', 0.2, 0)`,
				`INSERT INTO customer_merges (seq, ts, survivor_id, merged_id, kind, value) VALUES (1, 0, 1, 3, 'user_id', 'u1')`,
			} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{1, 2, 3, 4, 99}
		err = db.Write(ctx, func(tx *store.Tx) error {
			w := (&Engine{}).newWork(tx, time.Now())
			if err := w.loadProfiles(ctx, ids); err != nil {
				return err
			}
			for _, id := range ids {
				want, err := loadProfile(ctx, w.q, id)
				if err != nil {
					return err
				}
				if got := w.profiles[id]; !reflect.DeepEqual(got, want) {
					t.Errorf("customer %d: batch %+v, one by one %+v", id, got, want)
				}
			}
			if p := w.profiles[3]; p.ID != 1 || p.Segment != "Champions" {
				t.Errorf("merged-away customer 3: %+v, want customer 1's profile", p)
			}
			if p := w.profiles[2]; p.AnonymousID != "early" || p.FirstName != "Bo" {
				t.Errorf("customer 2: %+v", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestSendShapesBindInOrder: SQLite binds an update's values by position, so each
// shape's SET list must name its columns in the order they are declared.
func TestSendShapesBindInOrder(t *testing.T) {
	t.Parallel()
	for name, sh := range sendShapes {
		var refs []string
		for _, r := range rowRef.FindAllString(sh.set, -1) {
			refs = append(refs, strings.TrimPrefix(r, "v."))
		}
		var cols []string
		for _, c := range sh.cols {
			cols = append(cols, strings.Fields(c)[0])
		}
		if strings.Join(refs, ",") != strings.Join(cols, ",") {
			t.Errorf("shape %s: SET uses %v, columns are %v", name, refs, cols)
		}
	}
}

// TestReEntryPerCustomer: a keyed journey's cooldown applies per key by default (one run
// per order) and, with per: customer, across the customer's keys (one review request a
// month however often they buy).
func TestReEntryPerCustomer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		for _, j := range []struct{ name, per string }{{"per-order", ""}, {"per-customer", ", per: customer"}} {
			f.apply("name: " + j.name + "\nentry: {event: Order Completed, key: order_id}\nreentry: {cooldown: 30d" + j.per + "}\nholdout: 0\nsteps:\n  - wait: 7d\n  - email: {subject: \"How was it\", text: \"Tell us\"}\n")
		}
		u := f.customer(1, consented)
		for i, gap := range []time.Duration{0, 3 * 24 * time.Hour, 10 * 24 * time.Hour, 25 * 24 * time.Hour} {
			f.advance(gap)
			f.track(u, "Order Completed", map[string]any{"order_id": "o" + itoa(int64(i)), "revenue": 10})
		}
		// Orders on days 0, 3, 13 and 38: every order its own run per key; per customer,
		// day 3 and day 13 fall within 30 days of the day-0 run, day 38 does not.
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE journey = 'per-order'`); n != 4 {
			t.Errorf("per order: %d runs, want 4", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE journey = 'per-customer'`); n != 2 {
			t.Errorf("per customer: %d runs, want 2", n)
		}
	})
	if _, err := Compile([]byte("name: x\nentry: {event: A, key: k}\nreentry: {cooldown: 30d, per: household}\nsteps:\n  - wait: 1d\n")); err == nil || !strings.Contains(err.Error(), `"household" is not key or customer`) {
		t.Errorf("bad per: %v", err)
	}
}
