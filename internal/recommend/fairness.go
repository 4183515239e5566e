package recommend

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
)

// The fairness check: does each group of customers the shop defines get recommendations
// built for them as often as the others, from as wide a range of products, and are their
// lead scores alike? It reports; it changes nothing. Groups are the value segments
// (RFM: "Champions", "At Risk", ...; people without orders form "no orders") or the values
// of one trait the shop names (trait:region, trait:customer_type).

// FairnessGroup is one group's figures.
type FairnessGroup struct {
	Group            string  `json:"group"`
	Customers        int     `json:"customers"`
	Checked          int     `json:"checked"`            // customers whose home recommendations were computed (at most FairnessSample)
	OptedOut         float64 `json:"opted_out_share"`    // share who opted out of personalisation
	PersonalisedRecs float64 `json:"personalised_share"` // share of recommendation slots built from their history (not popular or pinned)
	DistinctProducts int     `json:"distinct_products"`  // products recommended to the group
	MeanPriceMinor   int64   `json:"mean_price_minor"`   // of the recommended products
	Leads            int     `json:"leads"`              // people of the group with a lead score
	MeanLeadScore    float64 `json:"mean_lead_score"`    // -1 when none
}

// FairnessReport compares the groups.
type FairnessReport struct {
	By     string          `json:"by"`
	Groups []FairnessGroup `json:"groups"`
	// ExposureRatio is the lowest personalised share over the highest (1: equal); below
	// 0.8 (the four-fifths rule of thumb) Notes says so.
	ExposureRatio float64  `json:"exposure_ratio"`
	Notes         []string `json:"notes"`
}

// FairnessSample bounds the customers per group whose recommendations are computed.
const FairnessSample = 1000

// Fairness compares groups by (segment, or trait:NAME) on the model m and the set of next
// best actions (for the segments; nil computes them).
func (s *Service) Fairness(ctx context.Context, m *Model, by string) (FairnessReport, error) {
	rep := FairnessReport{By: by}
	trait, byTrait := strings.CutPrefix(by, "trait:")
	if !byTrait && by != "segment" || byTrait && trait == "" {
		return rep, fmt.Errorf("group by %q: want segment or trait:NAME", by)
	}
	var segments *ActionSet
	if !byTrait {
		var err error
		if segments, err = s.actionsWith(ctx, m); err != nil {
			return rep, err
		}
	}
	rules, err := LoadRules(ctx, s.db)
	if err != nil {
		return rep, err
	}
	type acc struct {
		g          FairnessGroup
		slots, per int
		products   map[string]bool
		price      int64
		priced     int
		optedOut   int
		leadSum    float64
	}
	groups := map[string]*acc{}
	groupOf := map[int64]string{}
	rows, err := s.db.Query(ctx, `SELECT id, traits FROM customers ORDER BY id`)
	if err != nil {
		return rep, fmt.Errorf("read customers: %w", err)
	}
	type cust struct {
		id     int64
		traits string
	}
	var cs []cust
	for rows.Next() {
		var c cust
		if err := rows.Scan(&c.id, &c.traits); err != nil {
			rows.Close()
			return rep, err
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, err
	}
	for _, c := range cs {
		g := "no orders"
		if byTrait {
			g = traitValue(c.traits, trait)
		} else if a, ok := segments.For(c.id); ok && a.Segment != "" {
			g = a.Segment
		}
		groupOf[c.id] = g
		x := groups[g]
		if x == nil {
			x = &acc{g: FairnessGroup{Group: g}, products: map[string]bool{}}
			groups[g] = x
		}
		x.g.Customers++
		personal := Personalised(c.traits, rules.DefaultConsent)
		if !personal {
			x.optedOut++
		}
		if x.g.Checked >= FairnessSample {
			continue
		}
		x.g.Checked++
		for _, r := range m.Recommend(Request{CustomerID: c.id, Placement: "home", N: 4, Personalised: personal}) {
			x.slots++
			if r.List != ListPopular && r.List != ListPinned {
				x.per++
			}
			x.products[r.ProductID] = true
			if r.PriceMinor > 0 {
				x.price += r.PriceMinor
				x.priced++
			}
		}
	}
	leads, err := ScoreLeads(ctx, s.db, LeadOptions{}, 0)
	if err == nil {
		for _, l := range leads.Leads {
			if x := groups[groupOf[l.CustomerID]]; x != nil {
				x.g.Leads++
				x.leadSum += l.Score
			}
		}
	}
	lo, hi := math.Inf(1), 0.0
	for _, x := range groups {
		g := &x.g
		g.OptedOut = round4(float64(x.optedOut) / float64(g.Customers))
		if x.slots > 0 {
			g.PersonalisedRecs = round4(float64(x.per) / float64(x.slots))
		}
		g.DistinctProducts = len(x.products)
		if x.priced > 0 {
			g.MeanPriceMinor = x.price / int64(x.priced)
		}
		g.MeanLeadScore = -1
		if g.Leads > 0 {
			g.MeanLeadScore = round4(x.leadSum / float64(g.Leads))
		}
		rep.Groups = append(rep.Groups, *g)
		// Opted-out people get popular lists by their own choice: compare the others.
		if g.Checked >= 20 && g.OptedOut < 1 {
			share := g.PersonalisedRecs / (1 - g.OptedOut)
			lo, hi = math.Min(lo, share), math.Max(hi, share)
		}
	}
	sort.Slice(rep.Groups, func(i, j int) bool {
		if rep.Groups[i].Customers != rep.Groups[j].Customers {
			return rep.Groups[i].Customers > rep.Groups[j].Customers
		}
		return rep.Groups[i].Group < rep.Groups[j].Group
	})
	switch {
	case hi == 0 || math.IsInf(lo, 1):
		rep.ExposureRatio = 1
		rep.Notes = append(rep.Notes, "too few customers per group, or no personal recommendations yet, to compare")
	default:
		rep.ExposureRatio = round4(lo / hi)
		if rep.ExposureRatio < 0.8 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("personal recommendations reach some groups much less than others (lowest share %.0f%% of the highest, among people who did not opt out): groups with few orders get popular products instead", 100*rep.ExposureRatio))
		}
	}
	if err != nil {
		rep.Notes = append(rep.Notes, "no lead scores: "+err.Error())
	}
	return rep, nil
}

// traitValue is a trait's value as text ("(not set)" when absent), for grouping.
func traitValue(traits, name string) string {
	var raw map[string]struct {
		V any `json:"v"`
	}
	if jsonUnmarshal(traits, &raw) != nil {
		return "(not set)"
	}
	t, ok := raw[name]
	if !ok || t.V == nil {
		return "(not set)"
	}
	s := strings.TrimSpace(fmt.Sprint(t.V))
	if s == "" {
		return "(not set)"
	}
	return s
}
