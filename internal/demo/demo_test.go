package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

var testEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// seed3 is one world of 2,000 people (seed 3) with its events and ground truth, built
// once for the tests that only read it (TestGroundTruth, TestExperimentsInGenerator):
// the simulation and its counterfactual worlds are most of their time.
var seed3 struct {
	once sync.Once
	cfg  Config
	sum  *Summary
	evs  []Event
	gt   *GroundTruth
	err  error
}

// sharedWorld returns the seed-3 world, building it on first use.
func sharedWorld(t *testing.T) (Config, *Summary, []Event, *GroundTruth) {
	t.Helper()
	seed3.once.Do(func() {
		seed3.cfg = Config{Seed: 3, Customers: 2000, End: testEnd}
		seed3.sum, seed3.evs = generate(t, seed3.cfg, true)
		seed3.gt, seed3.err = Truth(context.Background(), seed3.cfg, seed3.sum.Spend())
	})
	if seed3.sum == nil || seed3.gt == nil {
		t.Fatalf("the shared seed-3 world was not built: %v", seed3.err)
	}
	return seed3.cfg, seed3.sum, seed3.evs, seed3.gt
}

// generate runs the generator and checks that (source, messageId) is unique: the store
// keeps one event per pair, so a repeat would silently be lost. keep collects the events.
func generate(t *testing.T, cfg Config, keep bool) (*Summary, []Event) {
	t.Helper()
	var all []Event
	seen := map[string]bool{}
	marker := []byte(`"messageId":"`)
	sum, err := Generate(context.Background(), cfg, func(evs []Event) error {
		for _, e := range evs {
			i := bytes.Index(e.Data, marker)
			if i < 0 {
				t.Fatalf("event without messageId: %s", e.Data)
			}
			id := e.Data[i+len(marker):]
			id = id[:bytes.IndexByte(id, '"')]
			if k := e.Source + "|" + string(id); seen[k] {
				t.Fatalf("duplicate messageId %s", k)
			} else {
				seen[k] = true
			}
			if keep {
				e.Data = append([]byte(nil), e.Data...)
				all = append(all, e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum, all
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	a, _ := generate(t, Config{Seed: 7, Customers: 400, End: testEnd, Workers: 1}, false)
	b, _ := generate(t, Config{Seed: 7, Customers: 400, End: testEnd, Workers: 3}, false)
	c, _ := generate(t, Config{Seed: 8, Customers: 400, End: testEnd}, false)
	if a.SHA256 != b.SHA256 || a.Events != b.Events {
		t.Fatalf("same seed, different worlds: %s (%d) vs %s (%d)", a.SHA256, a.Events, b.SHA256, b.Events)
	}
	if a.SHA256 == c.SHA256 {
		t.Fatal("different seeds gave the same events")
	}
	d, _ := generate(t, Config{Seed: 7, Customers: 400, End: testEnd.AddDate(0, 1, 0)}, false)
	if a.SHA256 == d.SHA256 {
		t.Fatal("a different end date gave the same events")
	}
}

// props is the part of an event the distribution test reads.
type props struct {
	Type        string `json:"type"`
	Event       string `json:"event"`
	UserID      string `json:"userId"`
	AnonymousID string `json:"anonymousId"`
	Properties  struct {
		OrderID  string `json:"order_id"`
		Location string `json:"location"`
		Channel  string `json:"channel"`
		URL      string `json:"url"`
		Referrer string `json:"referrer"`
		CartID   string `json:"cart_id"`
	} `json:"properties"`
	Context struct {
		Campaign struct{ Source, Medium, Name string } `json:"campaign"`
	} `json:"context"`
}

func TestScaleAndDistributions(t *testing.T) {
	t.Parallel()
	sum, evs := generate(t, Config{Seed: 1, Customers: 500, End: testEnd}, true)
	if sum.Events < 15000 || sum.Events > 35000 {
		t.Errorf("500 people gave %d events; want about 25,000", sum.Events)
	}
	var (
		orders, refunds, identifiedOrders int
		refundRate, idShare               float64
		ordersByCustomer                  = map[string]int{}
		locations                         = map[string]int{}
		names                             = map[string]int{}
		utm                               = map[string]int{}
		carts, orderedCarts               = map[string]bool{}, map[string]bool{}
		gclid, fbclid, organicRef         int
		storeVisits                       int
		prev                              = map[string]int64{}
	)
	received := time.Now()
	for i, e := range evs {
		// Every event must pass the API's own validation.
		if _, err := event.Normalize(e.Data, "", received, time.Time{}); err != nil {
			t.Fatalf("event %d rejected by event.Normalize: %v\n%s", i, err, e.Data)
		}
		var p props
		if err := json.Unmarshal(e.Data, &p); err != nil {
			t.Fatal(err)
		}
		names[p.Event]++
		if e.TS < testEnd.AddDate(-1, 0, 0).Add(-2*time.Hour).UnixMilli() || e.TS >= testEnd.UnixMilli() {
			t.Fatalf("event outside the window: %s", e.Data)
		}
		switch p.Event {
		case "Order Completed":
			orders++
			locations[p.Properties.Location]++
			// Identified: a web account, a loyalty card, or a caller's number.
			if who := p.UserID + p.AnonymousID; p.UserID != "" || strings.HasPrefix(who, "loy_") || strings.HasPrefix(who, "caller-") {
				identifiedOrders++
				ordersByCustomer[who]++
			}
			if p.Properties.CartID != "" {
				orderedCarts[p.Properties.CartID] = true
			}
		case "Order Refunded":
			refunds++
		case "Product Added":
			carts[p.Properties.CartID] = true
		case "Store Visit":
			storeVisits++
			if p.Properties.Channel != "in_store" {
				t.Fatalf("store visit without channel in_store: %s", e.Data)
			}
		}
		if c := p.Context.Campaign; c.Source != "" {
			utm[c.Source+"/"+c.Medium]++
		}
		if p.Type == "page" {
			switch {
			case strings.Contains(p.Properties.URL, "gclid="):
				gclid++
			case strings.Contains(p.Properties.URL, "fbclid="):
				fbclid++
			case p.Properties.Referrer == "https://www.google.com/":
				organicRef++
			}
		}
		// Each person's events come in time order: check per sender id.
		id := p.UserID + "|" + p.AnonymousID
		if last, ok := prev[id]; ok && e.TS < last && e.Source == "web" {
			t.Fatalf("events of %s out of time order", id)
		}
		prev[id] = e.TS
	}
	refundRate = float64(refunds) / float64(orders)
	idShare = float64(identifiedOrders) / float64(orders)
	t.Logf("%d events, %d orders (%v), identified %.2f, repeat buyers %d of %d, refunds %.3f", sum.Events, orders, locations, idShare, repeatCount(ordersByCustomer), len(ordersByCustomer), refundRate)
	if int64(orders) != sum.Orders {
		t.Errorf("%d Order Completed events, summary says %d orders", orders, sum.Orders)
	}
	if refundRate < 0.01 || refundRate > 0.03 {
		t.Errorf("refund rate %.3f, want about 2%%", refundRate)
	}
	if idShare < 0.2 || idShare > 0.8 {
		t.Errorf("share of identified orders %.2f; want a mix of identified and anonymous", idShare)
	}
	repeat := 0
	for _, n := range ordersByCustomer {
		if n > 1 {
			repeat++
		}
	}
	if rr := float64(repeat) / float64(len(ordersByCustomer)); rr < 0.3 || rr > 0.95 {
		t.Errorf("repeat rate among identified buyers %.2f", rr)
	}
	for _, loc := range []string{"web", "store", "phone"} {
		if locations[loc] == 0 {
			t.Errorf("no orders at location %q", loc)
		}
	}
	if locations["store"] < locations["web"] {
		t.Errorf("a bakery sells more in the shop than online: %v", locations)
	}
	for _, n := range []string{"Email Delivered", "Email Opened", "Email Link Clicked", "SMS Delivered", "SMS Link Clicked",
		"Store Visit", "Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Order Refunded"} {
		if names[n] == 0 {
			t.Errorf("no %q events", n)
		}
	}
	for _, s := range []string{"google/cpc", "facebook/paid_social", "instagram/paid_social", "instagram/social", "newsletter/email", "sms/sms"} {
		if utm[s] == 0 {
			t.Errorf("no landing pages with utm %s (have %v)", s, utm)
		}
	}
	if gclid == 0 || fbclid == 0 || organicRef == 0 {
		t.Errorf("gclid %d, fbclid %d, organic google referrers %d", gclid, fbclid, organicRef)
	}
	abandoned := 0
	for c := range carts {
		if !orderedCarts[c] {
			abandoned++
		}
	}
	if abandoned == 0 {
		t.Error("no abandoned carts")
	}

	// Spend: every paid channel has some, every row is well formed.
	rows := sum.Spend()
	byChannel := map[string]int64{}
	byCampaign := map[string]int64{}
	for _, r := range rows {
		if r.AmountMinor < 0 || r.Date < "2025-11-01" || r.Date >= "2026-11-01" {
			t.Fatalf("bad spend row %+v", r)
		}
		byChannel[r.Channel] += r.AmountMinor
		byCampaign[r.Campaign] += r.AmountMinor
	}
	for _, ch := range []string{"Paid Search", "Paid Social", "Email", "SMS"} {
		if byChannel[ch] <= 0 {
			t.Errorf("no spend for %s: %v", ch, byChannel)
		}
	}
	for _, c := range Campaigns {
		if c.CPCMinor > 0 && byCampaign[c.Campaign] <= 0 {
			t.Errorf("no spend for campaign %s", c.Campaign)
		}
	}
}

func TestScaleGrowsWithCustomers(t *testing.T) {
	t.Parallel()
	a, _ := generate(t, Config{Seed: 1, Customers: 300, End: testEnd}, false)
	b, _ := generate(t, Config{Seed: 1, Customers: 1200, End: testEnd}, false)
	ratio := float64(b.Events) / float64(a.Events)
	if ratio < 3 || ratio > 5.5 {
		t.Errorf("4x the people gave %.2fx the events", ratio)
	}
}

func TestGroundTruth(t *testing.T) {
	t.Parallel()
	_, sum, _, gt := sharedWorld(t)
	if gt.Baseline.Conversions != sum.Orders || gt.Baseline.RevenueMinor != sum.Revenue {
		t.Fatalf("ground truth baseline %+v != generated world (%d orders, %d)", gt.Baseline, sum.Orders, sum.Revenue)
	}
	if gt.NoMarketing.Conversions >= gt.Baseline.Conversions || gt.NoMarketing.RevenueMinor >= gt.Baseline.RevenueMinor {
		t.Errorf("removing all marketing did not lower the totals: %+v vs %+v", gt.NoMarketing, gt.Baseline)
	}
	check := func(kind, k string, e Effect) {
		// Without a lever some of its people arrive by another route, and a session that
		// comes through the brand search ad instead of a retargeting ad converts more: a
		// lever's effect may be a hair below zero, never a real loss.
		if float64(e.IncrementalRevenueMinor) < -0.0005*float64(gt.Baseline.RevenueMinor) || e.IncrementalConversions < -2 {
			t.Errorf("%s %s has a negative effect: %+v", kind, k, e)
		}
		if e.Counterfactual.Conversions > gt.Baseline.Conversions {
			t.Errorf("%s %s counterfactual %d > baseline %d", kind, k, e.Counterfactual.Conversions, gt.Baseline.Conversions)
		}
		if e.Counterfactual.Conversions < gt.NoMarketing.Conversions {
			t.Errorf("%s %s counterfactual below the no-marketing world", kind, k)
		}
	}
	for k, e := range gt.Levers {
		check("lever", k, e)
	}
	for k, e := range gt.Channels {
		check("channel", k, e)
	}
	for _, ch := range []string{"Paid Search", "Paid Social", "Organic Social", "Email", "SMS", "Referral"} {
		e, ok := gt.Channels[ch]
		if !ok || e.IncrementalConversions == 0 {
			t.Errorf("channel %s: no effect in ground truth (%+v)", ch, e)
		}
	}
	roas := func(k string) float64 {
		e := gt.Levers[k]
		if e.TrueROAS == nil {
			t.Fatalf("lever %s has no ROAS (spend %d)", k, e.SpendMinor)
		}
		return *e.TrueROAS
	}
	// The designed contrasts: email beats everything, Facebook retargeting is mostly
	// cannibalised, generic search earns more than brand search.
	if !(roas("email") > roas("google_cakes") && roas("google_cakes") > roas("facebook_retargeting")) {
		t.Errorf("ROAS order: email %.2f, google_cakes %.2f, facebook_retargeting %.2f", roas("email"), roas("google_cakes"), roas("facebook_retargeting"))
	}
	if roas("google_brand") >= roas("google_cakes") {
		t.Errorf("brand search %.2f should earn less than generic %.2f", roas("google_brand"), roas("google_cakes"))
	}
	// A removed channel is simulated, not summed: the channel and its single lever agree.
	if gt.Channels["Email"].IncrementalRevenueMinor != gt.Levers["email"].IncrementalRevenueMinor {
		t.Error("Email channel and email lever disagree")
	}
	if math.IsNaN(float64(gt.Marketing.IncrementalRevenueMinor)) || gt.Marketing.IncrementalConversions <= 0 {
		t.Errorf("all marketing: %+v", gt.Marketing)
	}
	b, err := gt.MarshalIndent()
	if err != nil || !json.Valid(b) {
		t.Fatalf("ground truth JSON: %v", err)
	}
}

// TestCounterfactualSkipIsExact checks the shortcut Truth takes: a person a lever never
// touched has the same year without it.
func TestCounterfactualSkipIsExact(t *testing.T) {
	t.Parallel()
	w, err := newWorld(Config{Seed: 5, Customers: 2000, End: testEnd})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for id := uint32(0); id < 2000; id++ {
		p := w.newPerson(id)
		o := w.simulate(&p, LevAll, nil, nil)
		reach := o.touched | routeLever[p.route]
		for i := 0; i < levCount; i++ {
			l := Lever(1 << i)
			if reach&l != 0 {
				continue
			}
			cf := w.simulate(&p, LevAll&^l, nil, nil)
			if cf.orders != o.orders || cf.revenue != o.revenue {
				t.Fatalf("person %d: lever %d never touched them but removing it changed %+v to %+v", id, l, o, cf)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

func TestEmitterDoesNotChangeOutcomes(t *testing.T) {
	t.Parallel()
	w, err := newWorld(Config{Seed: 9, Customers: 500, End: testEnd})
	if err != nil {
		t.Fatal(err)
	}
	em := &emitter{w: w}
	for id := uint32(0); id < 500; id++ {
		p := w.newPerson(id)
		a := w.simulate(&p, LevAll, nil, nil)
		b := w.simulate(&p, LevAll, em, newTally(len(w.days)))
		if a != b {
			t.Fatalf("person %d: %+v without events, %+v with", id, a, b)
		}
	}
}

func TestCalendar(t *testing.T) {
	t.Parallel()
	for y, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05"} {
		if got := easterSunday(y).Format("2006-01-02"); got != want {
			t.Errorf("Easter %d = %s, want %s", y, got, want)
		}
	}
	if got := mothersDay(2026).Format("2006-01-02"); got != "2026-05-10" {
		t.Errorf("Mother's Day 2026 = %s", got)
	}
	if got := DefaultEnd(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("DefaultEnd = %v", got)
	}
}

func repeatCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		if v > 1 {
			n++
		}
	}
	return n
}

// TestAbsentPersonEmitsNothing: a person whose life ends the day they would arrive
// produces no events; the emitter must not hand on the previous person's events again.
func TestAbsentPersonEmitsNothing(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 11, Customers: 5000, End: testEnd, Workers: 1}
	w, err := newWorld(cfg)
	if err != nil {
		t.Fatal(err)
	}
	absent := -1
	for id := 1; id < cfg.Customers; id++ {
		if p := w.newPerson(uint32(id)); p.death <= p.arrive {
			absent = id
			break
		}
	}
	if absent < 0 {
		t.Fatal("no absent person among 5,000; pick another seed")
	}
	cfg.Customers = absent + 1
	generate(t, cfg, false) // fails on a duplicate messageId
}
