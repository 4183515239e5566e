package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// shopFixture is a bakery: a catalogue, twelve regulars who buy sourdough with butter
// (a third with jam too), Mia (a loyalty member who agreed to email offers, bought a
// sourdough loaf and has jam in her online cart) and Otto (who opted out of
// personalisation). It returns Mia's and Otto's customer numbers.
func shopFixture(t testing.TB, db *store.DB) (mia, otto int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := workspace.Set(ctx, db, "test", "shop_url", "https://crumb.example"); err != nil {
		t.Fatal(err)
	}
	ps := []catalog.Product{
		{ID: "sourdough", Title: "Sourdough Loaf", Category: "bread", PriceMinor: 550, Currency: "EUR", URL: "https://crumb.example/p/sourdough", Origin: "test"},
		{ID: "butter", Title: "Salted Butter", Category: "dairy", PriceMinor: 350, Currency: "EUR", URL: "https://crumb.example/p/butter", Origin: "test"},
		{ID: "jam", Title: "Apricot Jam", Category: "jars", PriceMinor: 450, Currency: "EUR", URL: "https://crumb.example/p/jam", Origin: "test"},
		{ID: "coffee", Title: "Flat White", Category: "coffee", PriceMinor: 340, Currency: "EUR", URL: "https://crumb.example/p/coffee", Origin: "test"},
	}
	start := testNow.AddDate(0, 0, -20)
	if err := db.Write(ctx, func(tx *store.Tx) error { _, _, err := catalog.Upsert(ctx, tx, ps, start); return err }); err != nil {
		t.Fatal(err)
	}
	ts := func(d time.Duration) string { return start.Add(d).Format(time.RFC3339) }
	order := func(user, id string, at time.Duration, products ...string) map[string]any {
		var items []map[string]any
		for _, p := range products {
			items = append(items, map[string]any{"product_id": p, "quantity": 1})
		}
		return map[string]any{"type": "track", "event": "Order Completed", "userId": user, "timestamp": ts(at),
			"properties": map[string]any{"order_id": id, "revenue": 9, "currency": "EUR", "location": "store", "products": items}}
	}
	var evs []any
	for i := range 12 {
		ps := []string{"sourdough", "butter"}
		if i%3 == 0 {
			ps = append(ps, "jam")
		}
		evs = append(evs, order(fmt.Sprintf("reg%d", i), fmt.Sprintf("R%d", i), time.Duration(i)*time.Hour, ps...))
	}
	evs = append(evs,
		map[string]any{"type": "identify", "userId": "u-mia", "timestamp": ts(0), "traits": map[string]any{
			"name": "Mia Baker", "email": "mia@shop.example", "phone": "+44 7700 900123", "loyalty_card": "loy_777",
			"consent": map[string]any{"email": map[string]any{"marketing": true}}}},
		order("u-mia", "M1", 30*time.Hour, "sourdough"),
		map[string]any{"type": "track", "event": "Product Added", "userId": "u-mia", "timestamp": ts(40 * time.Hour),
			"properties": map[string]any{"product_id": "jam", "cart_id": "C1"}},
		map[string]any{"type": "identify", "userId": "u-otto", "timestamp": ts(0), "traits": map[string]any{
			"name": "Otto Opt", "email": "otto@shop.example", "consent": map[string]any{"email": map[string]any{"marketing": true}, "personalisation": false}}},
		order("u-otto", "O1", 31*time.Hour, "sourdough"),
	)
	identitytest.Load(t, db, "till", start.Add(48*time.Hour), evs...)
	for _, u := range []struct {
		user string
		id   *int64
	}{{"u-mia", &mia}, {"u-otto", &otto}} {
		if err := db.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = 'user_id' AND value = ?`, u.user).Scan(u.id); err != nil {
			t.Fatal(err)
		}
	}
	return mia, otto
}

const staffEmail = "till@shop.example"

// TestClienteling: staff find a customer by loyalty card, email or phone and see her
// card: recommendations with their reasons, the open cart, consent, value and the next
// best action; someone who opted out of personalisation gets neither personal
// recommendations nor an action; staff can open nothing else; every search and card is
// in the audit log without the search text or contact details.
func TestClienteling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mia, otto := shopFixture(t, db)
		ts := newTestServer(t, db, Options{})
		if _, err := auth.CreateUserRole(ctx, db, staffEmail, testPassword, auth.RoleStaff); err != nil {
			t.Fatal(err)
		}
		c := ts.client(t)
		resp, body := ts.login(t, c, staffEmail, testPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/clienteling" {
			t.Fatalf("staff login: %d to %q, want the clienteling page\n%.300s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		card := fmt.Sprintf("/clienteling/%d", mia)
		for _, q := range []string{"loy_777", "mia@shop.example", "900123", "Mia Bak"} {
			resp, body := get(t, c, ts.URL+"/clienteling?q="+url.QueryEscape(q))
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != card {
				t.Errorf("search %q: %d to %q, want her card\n%.300s", q, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
		resp, body = get(t, c, ts.URL+card)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("card: %d\n%.500s", resp.StatusCode, body)
		}
		for _, want := range []string{"Mia Baker", "card loy_777", "Salted Butter", "because you bought Sourdough Loaf", `id="cl-cart"`, "Apricot Jam",
			"Email offers: yes", "SMS offers: no", "Personal recommendations: yes", "Suggested:", "store: 1"} {
			if !strings.Contains(body, want) {
				t.Errorf("Mia's card lacks %q", want)
			}
		}
		var js struct {
			Action *struct{ Action, Reason string } `json:"next_best_action"`
			Recs   []struct{ Reason string }        `json:"recommendations"`
		}
		_, raw := get(t, c, ts.URL+card+"?format=json")
		if err := json.Unmarshal([]byte(raw), &js); err != nil || js.Action == nil || js.Action.Reason == "" {
			t.Fatalf("card JSON: %v\n%.500s", err, raw)
		}

		// Otto opted out: popular products only, no action, and the card says so.
		_, body = get(t, c, fmt.Sprintf("%s/clienteling/%d", ts.URL, otto))
		for _, want := range []string{"Otto Opt", "Personal recommendations: no (opted out)", "opted out of personalisation", "Nothing to suggest"} {
			if !strings.Contains(body, want) {
				t.Errorf("Otto's card lacks %q", want)
			}
		}
		if strings.Contains(body, "because you bought") {
			t.Error("Otto's card recommends from his history")
		}

		// Staff open the clienteling page only.
		for _, p := range []string{"/", fmt.Sprintf("/customers/%d", mia), "/customers?q=mia", "/leads", "/segments", "/personalisation", "/audit"} {
			if resp, _ := get(t, c, ts.URL+p); resp.StatusCode != http.StatusForbidden {
				t.Errorf("staff at %s: %d, want 403", p, resp.StatusCode)
			}
		}

		// The owner's customer page shows the same action and reason.
		oc, _ := ts.loggedIn(t)
		_, body = get(t, oc, fmt.Sprintf("%s/customers/%d", ts.URL, otto))
		if !strings.Contains(body, `id="next-action"`) || !strings.Contains(body, "opted out of personalisation") {
			t.Errorf("Otto's customer page lacks his next best action\n%.300s", body)
		}

		// The fairness check, grouped by a trait the shop names: Otto is the one who opted out.
		_, raw = get(t, oc, ts.URL+"/personalisation?by=trait:name&format=json")
		var fj struct {
			Models   []struct{ Name string }
			Fairness struct {
				Groups []struct {
					Group    string  `json:"group"`
					OptedOut float64 `json:"opted_out_share"`
				}
			}
		}
		if err := json.Unmarshal([]byte(raw), &fj); err != nil || len(fj.Models) < 5 {
			t.Fatalf("personalisation JSON: %v\n%.400s", err, raw)
		}
		opted := map[string]float64{}
		for _, g := range fj.Fairness.Groups {
			opted[g.Group] = g.OptedOut
		}
		if opted["Otto Opt"] != 1 || opted["Mia Baker"] != 0 {
			t.Errorf("fairness groups by name: %v", opted)
		}
		if _, body := get(t, oc, ts.URL+"/personalisation?by=region"); !strings.Contains(body, "Group by segment, or by a trait") {
			t.Errorf("a bad grouping is not explained")
		}
		if _, body := get(t, oc, ts.URL+"/personalisation"); !strings.Contains(body, `id="fair-ratio"`) {
			t.Errorf("the fairness check by segment is missing")
		}

		es, err := audit.List(ctx, db, audit.Filter{Action: "customer"})
		if err != nil {
			t.Fatal(err)
		}
		views, searches := map[string]int{}, 0
		for _, e := range es {
			b, _ := json.Marshal(e)
			for _, secret := range []string{"loy_777", "mia@shop.example", "900123", "Mia", "Otto"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("audit entry holds personal data %q: %s", secret, b)
				}
			}
			switch e.Action {
			case "customer.view":
				views[e.Actor+" "+e.Target]++
			case "customer.search":
				searches++
			}
		}
		if views[audit.UserActor(staffEmail)+fmt.Sprintf(" customer:%d", mia)] != 2 || views[audit.UserActor(staffEmail)+fmt.Sprintf(" customer:%d", otto)] != 1 ||
			views[audit.UserActor(testEmail)+fmt.Sprintf(" customer:%d", otto)] != 1 {
			t.Errorf("customer views logged: %v", views)
		}
		if searches != 4 {
			t.Errorf("%d searches logged, want 4", searches)
		}
	})
}
