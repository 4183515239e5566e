package privacy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

func prefs(analytics, ads bool) map[string]any {
	return map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Analytics": analytics, "Advertising": ads}}}
}

func at(base time.Time, min int) string {
	return base.Add(time.Duration(min) * time.Minute).Format(time.RFC3339)
}

// TestConsentSignals: events without analytics consent are stored without identifiers
// (but still counted, and an order still counts as revenue), the consent change event
// keeps the person's ids, and the processor records each person's newest state, folded
// through merges and the same after a rebuild.
func TestConsentSignals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		base := time.Now().UTC().Add(-time.Hour)
		denied := prefs(false, false)
		denied["ip"] = "198.51.100.23"
		denied["page"] = map[string]any{"url": "https://shop.example/cart?email=ana%40example.com&utm_source=google&gclid=abc", "title": "Ana's cart"}
		denied["traits"] = map[string]any{"email": "ana@example.com"}
		w.send(
			map[string]any{"type": "identify", "userId": "u-ana", "anonymousId": "a-ana", "timestamp": at(base, 0),
				"traits": map[string]any{"email": "ana@example.com"}, "context": prefs(true, false)},
			map[string]any{"type": "page", "userId": "u-ana", "anonymousId": "a-ana", "name": "Cart", "timestamp": at(base, 1), "context": denied},
			map[string]any{"type": "track", "userId": "u-ana", "anonymousId": "a-ana", "event": "Order Completed", "timestamp": at(base, 2), "context": prefs(false, false),
				"properties": map[string]any{"order_id": "o-ana", "revenue": 30, "currency": "EUR", "email": "ana@example.com", "note": "leave at door"}},
			map[string]any{"type": "track", "userId": "u-ana", "anonymousId": "a-ana", "event": consent.ChangeEvent, "timestamp": at(base, 3), "context": prefs(false, true)},
			// A second device, consenting to everything, later logs in: the merge keeps the newer signal.
			map[string]any{"type": "page", "anonymousId": "a-ana-2", "name": "Home", "timestamp": at(base, 4), "context": prefs(true, true)},
		)
		var stripped []map[string]any
		rows, err := db.Query(ctx, `SELECT user_id, anonymous_id, body FROM events WHERE user_id = '' AND anonymous_id = ''`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var u, a, body string
			if err := rows.Scan(&u, &a, &body); err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"ana@example.com", "ana%40example.com", "u-ana", "a-ana", "198.51.100.23", "leave at door", "Ana's cart"} {
				if strings.Contains(body, bad) {
					t.Errorf("stored without consent, still holds %q: %s", bad, body)
				}
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(body), &m)
			stripped = append(stripped, m)
		}
		rows.Close()
		if len(stripped) != 2 {
			t.Fatalf("%d events stored without identifiers, want the page view and the order", len(stripped))
		}
		for _, m := range stripped {
			ctxm, _ := m["context"].(map[string]any)
			if ctxm["omniroi"] == nil || ctxm["consent"] == nil {
				t.Errorf("stripped event lost its consent record or the note why: %v", m)
			}
			if page, ok := ctxm["page"].(map[string]any); ok && page["url"] != "https://shop.example/cart?gclid=abc&utm_source=google" {
				t.Errorf("page url: %v", page["url"])
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM events WHERE user_id = 'u-ana' AND name = ?`, consent.ChangeEvent); n != 1 {
			t.Fatalf("the consent change event lost its ids (%d)", n)
		}
		w.send(map[string]any{"type": "identify", "userId": "u-ana", "anonymousId": "a-ana-2", "timestamp": at(base, 5)})
		w.process()

		ana, err := identity.FindCustomer(ctx, db, "u-ana")
		if err != nil {
			t.Fatal(err)
		}
		st, ok, err := identity.CustomerConsent(ctx, db, ana.ID)
		if err != nil || !ok {
			t.Fatalf("consent state: %v %v", ok, err)
		}
		if st.Analytics != consent.Granted || st.AdPersonalization != consent.Granted || !st.At.Equal(base.Add(4*time.Minute).Truncate(time.Second)) {
			t.Fatalf("state after the merge: %+v (want the second device's newer grant)", st)
		}
		// The order without consent still counts, on a customer of its own.
		if n := count(t, db, `SELECT COUNT(*) FROM orders WHERE order_id = 'o-ana' AND customer_id <> ?`, ana.ID); n != 1 {
			t.Fatalf("order without consent: %d", n)
		}
		ids, err := identity.ConsentingCustomers(ctx, db, "ad_personalization")
		if err != nil || len(ids) != 1 || ids[0] != ana.ID {
			t.Fatalf("consenting for ads: %v %v", ids, err)
		}
		before := dumpConsent(t, db)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if after := dumpConsent(t, db); after != before {
			t.Fatalf("consent after a rebuild:\n%s\nincrementally:\n%s", after, before)
		}
		d, err := privacy.Export(ctx, db, privacy.Query{UserID: "u-ana"}, audit.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		if d.Consent.Signals == nil || d.Consent.Signals.Analytics != consent.Granted || len(d.Consent.History) != 3 {
			t.Fatalf("export consent: %+v, %d signals in the history", d.Consent.Signals, len(d.Consent.History))
		}

		// With privacy.consent.required, an event without any signal counts as without consent.
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, workspace.ConsentRequiredKey.Name, "true"); err != nil {
			t.Fatal(err)
		}
		w.send(map[string]any{"type": "track", "userId": "u-cleo", "event": "Product Viewed"})
		if n := count(t, db, `SELECT COUNT(*) FROM events WHERE user_id = 'u-cleo'`); n != 0 {
			t.Fatal("consent required, none sent: stored with ids")
		}
		// The page view, the order, the consent change event (minimised, ids kept) and Cleo's.
		if w.h.Stats().EventsAnonymised != 4 {
			t.Fatalf("collector stats: %+v", w.h.Stats())
		}
	})
}

func dumpConsent(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT customer_id, analytics, ad_storage, ad_user_data, ad_personalization, personalization, signals, ts, seq FROM customer_consent ORDER BY customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, ts, seq int64
		var a, s1, s2, s3, p, sig string
		if err := rows.Scan(&id, &a, &s1, &s2, &s3, &p, &sig, &ts, &seq); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join([]string{itoa(id), a, s1, s2, s3, p, sig, itoa(ts), itoa(seq)}, " ") + "\n")
	}
	if b.Len() == 0 {
		t.Fatal("no consent rows")
	}
	return b.String()
}
