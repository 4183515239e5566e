package identity_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestConsentMergedPerKey: a `consent` object changes only the categories it names. A
// website's {"consent":{"personalisation":false}} keeps the stored email and SMS consent;
// a client grant for another category never shows as consent beside verified grants; the
// result does not depend on the order the events are processed in, survives a merge of
// two profiles, and a rebuild gives the same state.
func TestConsentMergedPerKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sources(t, db)
		backend := func(u string, min int, consent M) M {
			return M{"type": "identify", "userId": u, "timestamp": at(min), "traits": M{"consent": consent}}
		}
		web := func(u string, min int, consent M) M {
			return M{"type": "identify", "userId": u, "anonymousId": "dev-" + u, "timestamp": at(min), "traits": M{"consent": consent}}
		}
		verified := M{"email": M{"marketing": true}, "sms": M{"marketing": true}}
		// ana: the shop's back end states email and SMS consent; later her browser opts
		// out of personalisation and tries to grant push messages.
		identitytest.Load(t, db, "backend", t0, backend("ana", 0, verified))
		identitytest.Load(t, db, "web", t0, web("ana", 10, M{"personalisation": false, "push": M{"marketing": true}}))
		// bo: the same events arrive in the opposite order.
		identitytest.Load(t, db, "web", t0, web("bo", 10, M{"personalisation": false, "push": M{"marketing": true}}))
		identitytest.Load(t, db, "backend", t0, backend("bo", 0, verified))
		want := M{"email": M{"marketing": true}, "personalisation": false, "sms": M{"marketing": true}}
		for _, u := range []string{"ana", "bo"} {
			p := profile(t, db, find(t, db, u).ID)
			if got := traitValue(t, p, "consent"); !Equal(got, want) {
				t.Fatalf("%s: consent %v, want %v (per category: the browser's opt-out keeps the stored email and SMS consent, its push grant is not consent)", u, got, want)
			}
			if len(p.Unverified) != 0 {
				t.Fatalf("%s: unverified %v; the consent shown is verified or a refusal", u, p.Unverified)
			}
		}

		// A browser's withdrawal of one category, later in event time, beats the
		// verified grant of that category only; a browser's grant never beats a verified
		// refusal.
		identitytest.Load(t, db, "web", t0, web("ana", 20, M{"sms": M{"marketing": false}}))
		identitytest.Load(t, db, "backend", t0, backend("ana", 25, M{"personalisation": true}))
		identitytest.Load(t, db, "web", t0, web("ana", 30, M{"personalisation": false, "email": M{"marketing": true}}))
		identitytest.Load(t, db, "backend", t0, backend("ana", 31, M{"email": M{"marketing": false}}))
		identitytest.Load(t, db, "web", t0, web("ana", 32, M{"email": M{"marketing": true}}))
		// No verified grant is left, so the browser's push grant shows again, as an
		// unverified grant (a confirmation of the address would be needed to use it).
		want = M{"email": M{"marketing": false}, "personalisation": false, "push": M{"marketing": true}, "sms": M{"marketing": false}}
		if p := profile(t, db, find(t, db, "ana").ID); !Equal(traitValue(t, p, "consent"), want) || !slices.Equal(p.Unverified, []string{"consent"}) {
			t.Fatalf("ana after withdrawals: consent %v unverified %v, want %v", traitValue(t, p, "consent"), p.Unverified, want)
		}

		// A person known only to the browser: her grant is kept, shown as unverified.
		identitytest.Load(t, db, "web", t0, web("cy", 0, M{"email": M{"marketing": true}}))
		identitytest.Load(t, db, "web", t0, web("cy", 5, M{"personalisation": false}))
		p := profile(t, db, find(t, db, "cy").ID)
		if got := traitValue(t, p, "consent"); !Equal(got, M{"email": M{"marketing": true}, "personalisation": false}) || !slices.Equal(p.Unverified, []string{"consent"}) {
			t.Fatalf("cy: consent %v unverified %v", got, p.Unverified)
		}

		// Two profiles merged: each category keeps its own newest verified value.
		identitytest.Load(t, db, "backend", t0, backend("dee", 0, M{"email": M{"marketing": true}}),
			M{"type": "identify", "anonymousId": "shop-dee", "timestamp": at(3), "traits": M{"consent": M{"sms": M{"marketing": true}, "email": M{"marketing": false}}}},
			M{"type": "identify", "anonymousId": "shop-dee", "timestamp": at(4), "traits": M{"consent": M{"email": M{"marketing": true}}}},
		)
		identitytest.Load(t, db, "backend", t0, M{"type": "identify", "userId": "dee", "anonymousId": "shop-dee", "timestamp": at(6)})
		if got := traitValue(t, profile(t, db, find(t, db, "dee").ID), "consent"); !Equal(got, M{"email": M{"marketing": true}, "sms": M{"marketing": true}}) {
			t.Fatalf("dee after the merge: consent %v", got)
		}

		before := dump(t, db)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if after := dump(t, db); after != before {
			t.Fatalf("rebuild changed the state:\n%s", firstDiff(before, after))
		}
	})
}

// TestScrubReachesConsentLeaves: an erasure's scrub of other people's traits rewrites a
// value inside the consent trait's per-category leaves as well as its value.
func TestScrubReachesConsentLeaves(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sources(t, db)
		identitytest.Load(t, db, "backend", t0, M{"type": "identify", "userId": "eve", "timestamp": at(0),
			"traits": M{"consent": M{"email": M{"marketing": true, "referred_by": "zed@erased.example"}}}})
		c := find(t, db, "eve")
		var before string
		if err := db.QueryRow(ctx, `SELECT traits FROM customers WHERE id = ?`, c.ID).Scan(&before); err != nil {
			t.Fatal(err)
		}
		if strings.Count(before, "zed@erased.example") < 2 {
			t.Fatalf("the fixture keeps the value in the value and the leaves: %s", before)
		}
		redact := func(v json.RawMessage) (json.RawMessage, bool) {
			if !strings.Contains(string(v), "zed@erased.example") {
				return v, false
			}
			return json.RawMessage(strings.ReplaceAll(string(v), "zed@erased.example", "[erased]")), true
		}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := identity.ScrubTraits(ctx, tx, []int64{c.ID}, redact)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var after string
		if err := db.QueryRow(ctx, `SELECT traits FROM customers WHERE id = ?`, c.ID).Scan(&after); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(after, "zed@erased.example") {
			t.Fatalf("left after the scrub: %s", after)
		}
	})
}
