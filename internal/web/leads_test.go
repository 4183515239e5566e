package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// seedLeads adds 400 people who browse a service business's site over 120 days; the more
// products they look at, the likelier they place a first order within a few weeks.
// Person 0 browses most at the end but opted out of personalisation. Returns person 0's id.
func seedLeads(t *testing.T, db *store.DB) int64 {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 4))
	end := testNow
	start := end.AddDate(0, 0, -120)
	type act struct {
		cust int64
		ts   int64
		typ  string
		name string
	}
	var acts []act
	type order struct{ cust, ts int64 }
	var orders []order
	const n = 400
	for i := range n {
		c := int64(700000 + i)
		day := r.Float64() * 118
		views := 1 + r.IntN(9)
		if i == 0 {
			day, views = 117, 12
		}
		at := func(d float64) int64 { return start.Add(time.Duration(d * float64(24*time.Hour))).UnixMilli() }
		acts = append(acts, act{c, at(day), "page", "Services"})
		for k := range views {
			acts = append(acts, act{c, at(day + float64(k)*0.3), "track", "Product Viewed"})
		}
		if i != 0 && r.Float64() < float64(views)/11 {
			orders = append(orders, order{c, at(day + 1 + r.Float64()*15)})
		}
	}
	if err := bulkInsert(ctx, db, "customers", "id, first_seen, last_seen, user_id, email, name, traits, events", 8, n, func(i int) []any {
		traits := "{}"
		if i == 0 {
			traits = `{"consent":{"v":{"personalisation":false}}}`
		}
		return []any{700000 + i, start.UnixMilli(), end.UnixMilli(), fmt.Sprintf("lead-%d", i), fmt.Sprintf("lead%d@example.com", i), fmt.Sprintf("Lead %d", i), traits, 1}
	}); err != nil {
		t.Fatal(err)
	}
	if err := bulkInsert(ctx, db, "activity", "seq, customer_id, ts, type, name, channel, source_id", 7, len(acts), func(i int) []any {
		a := acts[i]
		return []any{5000000 + i, a.cust, a.ts, a.typ, a.name, "Direct", 1}
	}); err != nil {
		t.Fatal(err)
	}
	if err := bulkInsert(ctx, db, "orders", "order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq", 9, len(orders), func(i int) []any {
		o := orders[i]
		return []any{fmt.Sprintf("L-%d", i), o.cust, o.ts, 90000, "EUR", "web", "Direct", 1, 6000000 + i}
	}); err != nil {
		t.Fatal(err)
	}
	rebuildSummaries(t, db)
	return 700000
}

// TestLeadsPage: the Leads list is sorted by score, each with its reasons in words, the
// check on an earlier period beside it; someone who opted out of personalisation is not
// listed even though they would score highest.
func TestLeadsPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		optedOut := seedLeads(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		resp, body := get(t, c, ts.URL+"/leads")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="leads-validation"`) || !strings.Contains(body, "AUC") {
			t.Fatalf("leads page: %d\n%.600s", resp.StatusCode, body)
		}
		_, raw := get(t, c, ts.URL+"/leads?format=json")
		var js struct {
			Tables map[string][]map[string]string `json:"tables"`
		}
		if err := json.Unmarshal([]byte(raw), &js); err != nil {
			t.Fatal(err)
		}
		leads := js.Tables["leads"]
		if len(leads) < 20 {
			t.Fatalf("%d leads\n%.500s", len(leads), raw)
		}
		prev := 2.0
		for i, l := range leads {
			s, err := strconv.ParseFloat(l["Chance of a first order in 30 days"], 64)
			if err != nil || s > prev || s < 0 || s >= 1 {
				t.Fatalf("lead %d: score %q after %v (%v): not sorted by score", i, l["Chance of a first order in 30 days"], prev, err)
			}
			prev = s
			if l["Why"] == "" || i < 10 && !strings.Contains(l["Why"], "viewed") && !strings.Contains(l["Why"], "active") {
				t.Errorf("lead %d without its reasons in words: %q", i, l["Why"])
			}
			if l["Person"] == strconv.FormatInt(optedOut, 10) {
				t.Errorf("the person who opted out of personalisation is listed (position %d)", i)
			}
		}
		// Without the opt-out the same person is a lead: the exclusion above is the consent's.
		ctx := context.Background()
		if _, err := db.Exec(ctx, `UPDATE customers SET traits = '{}' WHERE id = ?`, optedOut); err != nil {
			t.Fatal(err)
		}
		rep, err := recommend.ScoreLeads(ctx, db, recommend.LeadOptions{}, leadsLimit)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range rep.Leads {
			found = found || l.CustomerID == optedOut
		}
		if !found {
			t.Errorf("person %d is no lead even without the opt-out: the fixture does not test the exclusion", optedOut)
		}
	})
}
