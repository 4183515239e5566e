package privacy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestExport: the document holds her whole history, anonymous devices included, and the
// export is in the audit log without her address.
func TestExport(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.build()
		for _, q := range []privacy.Query{{Email: zEmailTyped}, {Phone: "0049 170 5550-1234"}, {UserID: zUser}, {ID: w.zelda}, {Text: zAnon2}} {
			d, err := privacy.Export(w.ctx, db, q, audit.ActorCLI)
			if err != nil {
				t.Fatalf("export %+v: %v", q, err)
			}
			if d.CustomerID != w.zelda {
				t.Fatalf("export %+v: customer %d, want %d", q, d.CustomerID, w.zelda)
			}
		}
		d, err := privacy.Export(w.ctx, db, privacy.Query{Email: zEmail}, audit.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		anon := map[string]int{}
		names := map[string]int{}
		for _, e := range d.Events {
			anon[e.AnonID]++
			names[e.Type+" "+e.Name]++
		}
		if anon[zAnon1] < 3 || anon[zAnon2] < 2 {
			t.Errorf("events by device: %v; want the anonymous history of both devices", anon)
		}
		for _, want := range []string{"page Home", "page Bread", "track Product Viewed", "identify ", "track Order Completed", "track Order Refunded", "track Product Added", "track Email Sent"} {
			if names[want] == 0 {
				t.Errorf("export has no %q event: %v", want, names)
			}
		}
		if d.Profile == nil || len(d.Profile.Orders) != 2 || len(d.Profile.Refunds) != 1 {
			t.Fatalf("profile orders/refunds: %+v", d.Profile)
		}
		if len(d.JourneyRuns) != 1 || len(d.Messages) != 1 || d.Messages[0]["status"] != "sent" {
			t.Errorf("journey runs %v, messages %v", d.JourneyRuns, d.Messages)
		}
		if len(d.MessageCopies) != 1 || !strings.Contains(d.MessageCopies[0].Content, zEmail) {
			t.Errorf("message copies: %+v", d.MessageCopies)
		}
		if len(d.Rejected) != 1 || len(d.MentionedIn) != 1 || len(d.SegmentChanges) != 1 {
			t.Errorf("rejected %d, mentioned in %d, segment changes %d; want 1 each", len(d.Rejected), len(d.MentionedIn), len(d.SegmentChanges))
		}
		raw, _ := json.Marshal(d)
		if strings.Contains(string(raw), "Bob Baker") || strings.Contains(string(raw), "bob@example.net") {
			t.Errorf("the export carries Bob's data")
		}
		es, err := audit.List(w.ctx, db, audit.Filter{Action: "privacy.export"})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 6 || es[0].Target != "customer:"+itoa(w.zelda) {
			t.Fatalf("audit: %+v", es)
		}
		for _, e := range es {
			b, _ := json.Marshal(e)
			for _, n := range needles {
				if strings.Contains(strings.ToLower(string(b)), strings.ToLower(n)) {
					t.Errorf("audit entry names her: %s", b)
				}
			}
		}
	})
}

// TestErase is the erasure end to end: nothing of hers is left in the database files (raw
// bytes on SQLite, WAL included; every column of every table on PostgreSQL) or the
// outbox, Bob keeps his data without her in it, a rebuild brings nothing back, and her
// later events are dropped at the door until she comes back with consent.
func TestErase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.build()
		if found := leftovers(t, db, w.outbox, needles); len(found) == 0 {
			t.Fatal("the fixture's values are not found before the erasure: the search is broken")
		}
		bobOrders := count(t, db, `SELECT COUNT(*) FROM orders WHERE customer_id = ?`, w.bob)

		rep, err := privacy.Erase(w.ctx, db, privacy.Query{Text: zPhoneTyped}, privacy.EraseOptions{Actor: audit.ActorCLI, Reason: "asked by email from " + zEmail})
		if err != nil {
			t.Fatal(err)
		}
		if rep.CustomerID != w.zelda || rep.Deleted["events"] < 10 || rep.Deleted["orders"] != 2 || rep.Deleted["refunds"] != 1 ||
			rep.Deleted["journey_runs"] != 1 || rep.Deleted["journey_sends"] != 1 || rep.Deleted["rejected_events"] != 1 || rep.Deleted["lead_score_changes"] != 1 ||
			rep.Redacted["events"] != 1 || rep.Redacted["customers"] != 1 || rep.Files != 1 || rep.Suppressed < 5 {
			t.Fatalf("report: %+v", rep)
		}
		if found := leftovers(t, db, w.outbox, needles); len(found) > 0 {
			t.Fatalf("left after the erasure:\n%s", strings.Join(found, "\n"))
		}
		// Bob keeps his orders and profile; his trait that named her is gone.
		if n := count(t, db, `SELECT COUNT(*) FROM orders WHERE customer_id = ?`, w.bob); n != bobOrders || n == 0 {
			t.Fatalf("bob's orders: %d, want %d", n, bobOrders)
		}
		p, err := identity.Profile(w.ctx, db, w.bob)
		if err != nil || p.Email != "bob@example.net" || p.Name != "Bob Baker" {
			t.Fatalf("bob after the erasure: %+v %v", p.Customer, err)
		}
		if string(p.Traits["referred_by"]) != `"[erased]"` {
			t.Fatalf("bob's referrer trait: %s", p.Traits["referred_by"])
		}
		bobTraits, _ := json.Marshal(p.Traits)
		es, err := audit.List(w.ctx, db, audit.Filter{Action: "privacy.erase"})
		if err != nil || len(es) != 1 || es[0].Target != "customer:"+itoa(w.zelda) || es[0].Detail["digest"] != rep.Digest ||
			es[0].Detail["reason"] != "asked by email from [erased]" {
			t.Fatalf("audit: %+v %v", es, err)
		}

		// A rebuild derives everything again from the log: she does not come back.
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(w.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := identity.FindCustomer(w.ctx, db, zEmail); err == nil {
			t.Fatal("a rebuild brought her back")
		}
		if _, err := privacy.Compact(w.ctx, db); err != nil {
			t.Fatal(err)
		}
		if found := leftovers(t, db, w.outbox, needles); len(found) > 0 {
			t.Fatalf("left after a rebuild:\n%s", strings.Join(found, "\n"))
		}
		if n := count(t, db, `SELECT COUNT(*) FROM orders WHERE customer_id = ?`, w.bob); n != bobOrders {
			t.Fatalf("bob's orders after the rebuild: %d, want %d", n, bobOrders)
		}
		// His events were redacted the way his profile was: the rebuild derives the same.
		if p2, err := identity.Profile(w.ctx, db, w.bob); err != nil {
			t.Fatal(err)
		} else if b, _ := json.Marshal(p2.Traits); string(b) != string(bobTraits) || p2.Email != p.Email || p2.Name != p.Name {
			t.Fatalf("bob after the rebuild:\n%s\nbefore:\n%s", b, bobTraits)
		}

		// Her browser keeps sending: accepted (the reply must not reveal an erasure),
		// counted, not stored. A public key cannot bring her back, consent or not.
		before := count(t, db, `SELECT COUNT(*) FROM events`)
		consented := map[string]any{"categoryPreferences": map[string]any{"Analytics": true}}
		reply := w.sendWith(w.public,
			map[string]any{"type": "page", "anonymousId": zAnon1, "name": "Home"},
			map[string]any{"type": "identify", "userId": zUser, "traits": map[string]any{"email": zEmail}, "context": map[string]any{"consent": consented}},
			map[string]any{"type": "track", "anonymousId": "anon-new-device", "event": "Signed Up", "properties": map[string]any{"email": zEmailTyped}},
		)
		if reply["accepted"] != float64(3) {
			t.Fatalf("reply %v", reply)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM events`); n != before {
			t.Fatalf("%d events stored for an erased person", n-before)
		}
		// The same from the shop's back end without consent: dropped too.
		w.send(map[string]any{"type": "track", "userId": zUser, "event": "Logged In"})
		if n := count(t, db, `SELECT COUNT(*) FROM events`); n != before {
			t.Fatalf("%d events stored for an erased person from a server key", n-before)
		}
		if n := count(t, db, `SELECT dropped_events FROM privacy_erasures WHERE id = ?`, rep.ErasureID); n != 4 {
			t.Fatalf("dropped events counted: %d, want 4", n)
		}
		if w.h.Stats().EventsDropped != 4 {
			t.Fatalf("collector stats: %+v", w.h.Stats())
		}
		// An import of the shop's old customer list does not bring her back either.
		r, err := importer.Import(w.ctx, db, strings.NewReader("customer_id,email,first_name\n"+zUser+","+zEmail+",Zelda\nuser-carl,carl@example.net,Carl\n"), "customers.csv", importer.Options{Kind: importer.KindCustomers})
		if err != nil || r.Imported != 1 || r.Suppressed != 1 {
			t.Fatalf("customer import: %+v %v", r, err)
		}
		// She signs up again and the shop's back end (here an import) sends an identify
		// with her explicit analytics consent: the suppression is lifted.
		line, _ := json.Marshal(map[string]any{"type": "identify", "userId": zUser, "traits": map[string]any{"email": zEmail},
			"context": map[string]any{"consent": consented}, "timestamp": time.Now().UTC().Format(time.RFC3339)})
		r, err = importer.Import(w.ctx, db, strings.NewReader(string(line)+"\n"), "signup.jsonl", importer.Options{Kind: importer.KindEvents})
		if err != nil || r.Imported != 1 || r.Suppressed != 0 {
			t.Fatalf("consenting identify: %+v %v", r, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM privacy_erasures WHERE id = ? AND lifted_at > 0`, rep.ErasureID); n != 1 {
			t.Fatal("suppression not lifted")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM privacy_suppressions`); n != 0 {
			t.Fatalf("%d suppressions left", n)
		}
		w.send(map[string]any{"type": "page", "anonymousId": zAnon1, "userId": zUser, "name": "Welcome back"})
		w.process()
		c, err := identity.FindCustomer(w.ctx, db, zEmail)
		if err != nil {
			t.Fatalf("after coming back: %v", err)
		}
		if c.ID == w.zelda || c.Events != 2 {
			t.Fatalf("she came back as %+v: want a new customer with only her new events", c)
		}
	})
}

// TestEraseWhileProcessorRuns: an erasure under a processor that keeps its graph in
// memory between batches makes it reload; her next events do not resurrect old rows.
func TestEraseWhileProcessorRuns(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.build()
		proc := identity.NewProcessor(db, identity.Options{})
		if err := proc.CatchUp(w.ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := privacy.Erase(w.ctx, db, privacy.Query{UserID: zUser}, privacy.EraseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// A stranger joins with the anonymous id her old graph node held: it must become
		// a customer of its own (a stale graph would merge it into her deleted row).
		if err := privacy.Unsuppress(context.Background(), db, rep.ErasureID, audit.ActorCLI, "test"); err != nil {
			t.Fatal(err)
		}
		w.send(map[string]any{"type": "page", "anonymousId": zAnon1, "name": "Home"})
		if err := proc.CatchUp(w.ctx); err != nil {
			t.Fatalf("processor after the erasure: %v", err)
		}
		c, err := identity.FindCustomer(w.ctx, db, zAnon1)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == w.zelda || c.Email != "" || c.Events != 1 {
			t.Fatalf("stale graph: %+v", c)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM identities WHERE customer_id = ?`, w.zelda); n != 0 {
			t.Fatalf("%d identities point at the erased customer", n)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestServerKeyBringsBackWithConsent: the gate in the collection API trusts each event by
// its own source's kind. In one batch from a public key, consent does not lift an
// erasure; the same identify from the shop's back end (a server key) does.
func TestServerKeyBringsBackWithConsent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.build()
		rep, err := privacy.Erase(w.ctx, db, privacy.Query{Email: zEmail}, privacy.EraseOptions{Actor: audit.ActorCLI})
		if err != nil {
			t.Fatal(err)
		}
		consented := map[string]any{"categoryPreferences": map[string]any{"Analytics": true}}
		identify := func() map[string]any {
			return map[string]any{"type": "identify", "userId": zUser, "traits": map[string]any{"email": zEmail}, "context": map[string]any{"consent": consented}}
		}
		w.sendWith(w.public, identify())
		if n := count(t, db, `SELECT COUNT(*) FROM privacy_erasures WHERE id = ? AND lifted_at > 0`, rep.ErasureID); n != 0 {
			t.Fatal("a public key lifted the suppression")
		}
		w.send(identify())
		if n := count(t, db, `SELECT COUNT(*) FROM privacy_erasures WHERE id = ? AND lifted_at > 0`, rep.ErasureID); n != 1 {
			t.Fatal("the back end's consenting identify did not lift the suppression")
		}
	})
}
