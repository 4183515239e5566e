package recommend_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// The demo's customers have hidden tastes (groups of products across categories) that
// steer what they look at. Recommendations learnt from the demo's events recover them:
// for a customer's most recently viewed product, the products "similar" names belong to
// the customer's hidden taste far more often than the popular products do.
func TestDemoTastesRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a demo")
	}
	ctx := context.Background()
	db := storetest.SQLite(t)
	cfg := demo.Config{Seed: 7, Customers: 2000, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: cfg, Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.LoadCatalogue(ctx, db); err != nil {
		t.Fatal(err)
	}
	tastes, err := demo.Tastes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	group := map[string]map[string]bool{}
	for g, ps := range demo.TasteProducts() {
		for _, p := range ps {
			if group[p] == nil {
				group[p] = map[string]bool{}
			}
			group[p][demo.TasteNames[g]] = true
		}
	}
	m, err := recommend.BuildFromStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	// Each customer's taste, through the identifiers of their events; their last view.
	rows, err := db.Query(ctx, `SELECT a.customer_id, p.product_id, i.value FROM product_events p JOIN activity a ON a.seq = p.seq
		JOIN identities i ON i.customer_id = a.customer_id AND i.kind IN ('anonymous_id', 'user_id')
		WHERE p.kind = 'view' ORDER BY a.customer_id, p.ts`)
	if err != nil {
		t.Fatal(err)
	}
	type cust struct {
		taste    string
		lastView string
	}
	cs := map[int64]*cust{}
	for rows.Next() {
		var id int64
		var prod, ident string
		if err := rows.Scan(&id, &prod, &ident); err != nil {
			t.Fatal(err)
		}
		c := cs[id]
		if c == nil {
			c = &cust{}
			cs[id] = c
		}
		c.lastView = prod
		if g, ok := tastes[ident]; ok {
			c.taste = demo.TasteNames[g]
		}
	}
	rows.Close()
	var n, simHits, popHits, shown, popShown int
	for id, c := range cs {
		if c.taste == "" {
			continue
		}
		n++
		sim := m.Recommend(recommend.Request{CustomerID: id, Placement: "product", List: recommend.ListSimilar, Products: []string{c.lastView}, N: 3})
		pop := m.Recommend(recommend.Request{Placement: "home", List: recommend.ListPopular, Products: []string{c.lastView}, N: 3})
		for _, r := range sim {
			shown++
			if group[r.ProductID][c.taste] {
				simHits++
			}
		}
		for _, r := range pop {
			popShown++
			if group[r.ProductID][c.taste] {
				popHits++
			}
		}
	}
	simShare, popShare := float64(simHits)/float64(shown), float64(popHits)/float64(popShown)
	t.Logf("%d customers with views and a known taste: similar %.1f%% in their taste, popular %.1f%%", n, 100*simShare, 100*popShare)
	if n < 200 {
		t.Fatalf("only %d customers to check", n)
	}
	if simShare < 2*popShare || simShare < 0.5 {
		t.Fatalf("similar recovers tastes %.1f%% of the time, popular %.1f%%: want at least twice and half", 100*simShare, 100*popShare)
	}

	// Next best actions on the demo: every customer gets one, each with its reason, and
	// the shop's customers are not all told the same thing.
	acts, err := recommend.NextActions(ctx, db, m, nil, recommend.NBAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, a := range acts {
		kinds[a.Action]++
		if a.Reason == "" || a.Action == recommend.ActionRecommend && a.Product == nil {
			t.Fatalf("action without its reason or product: %+v", a)
		}
	}
	t.Logf("next best actions: %v", kinds)
	if len(kinds) < 3 {
		t.Fatalf("next best actions %v: want at least three kinds", kinds)
	}
	// Lead scores (two-month windows: a 2,000-person demo has few first orders a month):
	// the time split validates, and the leads come with reasons.
	rep, err := recommend.ScoreLeads(ctx, db, recommend.LeadOptions{Window: 60 * 24 * time.Hour, Horizon: 60 * 24 * time.Hour}, 20)
	if err != nil {
		t.Fatal(err)
	}
	v := rep.Validation
	t.Logf("leads: AUC %.3f (baseline %.3f), %d/%d converted in training", v.AUC, v.BaselineAUC, v.TrainConverted, v.TrainPeople)
	if v.AUC <= 0.5 || len(rep.Leads) == 0 || len(rep.Leads[0].Reasons) == 0 || len(v.Reliability) == 0 {
		t.Fatalf("lead report %+v", rep)
	}
}
