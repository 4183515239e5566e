package journey

import (
	"context"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestReportCostFromSettings: without costs of its own a report costs its sends with the
// journeys.cost.* settings (fractions of a cent kept until the total), so it has an ROI;
// costs given to the report win; costs in the business currency do not apply to a report
// in another one.
func TestReportCostFromSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedPeriodRuns(t, db)
		_, _, sends := expectPeriod(periodFrom, periodTo)
		opt := ReportOptions{From: periodFrom, To: periodTo}
		r, err := Measure(ctx, db, "period", opt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cost != 0 || r.ROI != nil {
			t.Fatalf("no cost set: cost %d, ROI %v", r.Cost, r.ROI)
		}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "journeys.cost.sms", "0.065"); err != nil {
			t.Fatal(err)
		}
		r, err = Measure(ctx, db, "period", opt)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(float64(sends)*6.5 + 0.5)
		if r.Cost != want || r.CostFrom != "settings" || r.ROI == nil {
			t.Fatalf("%d sends at 0.065 EUR: cost %d from %q, ROI %v; want %d from settings", sends, r.Cost, r.CostFrom, r.ROI, want)
		}
		r, err = Measure(ctx, db, "period", ReportOptions{From: periodFrom, To: periodTo, CostPerSend: map[string]int64{"sms": 10}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Cost != 10*sends || r.CostFrom != "options" {
			t.Fatalf("given costs: %d from %q, want %d", r.Cost, r.CostFrom, 10*sends)
		}
		r, err = Measure(ctx, db, "period", ReportOptions{From: periodFrom, To: periodTo, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Cost != 0 {
			t.Fatalf("EUR costs applied to a USD report: %d", r.Cost)
		}
	})
}

// TestReportCostPerJourney: a journey's own message cost takes the place of the setting in
// its report (and only in its report); an empty cost returns it to the setting; a bad
// cost, a channel without costs or an unknown journey is refused.
func TestReportCostPerJourney(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedPeriodRuns(t, db)
		if _, err := db.Exec(ctx, `INSERT INTO journeys (name, version, doc, plan, digest, created_at) VALUES ('period', 1, '', '{}', 'x', 0)`); err != nil {
			t.Fatal(err)
		}
		_, _, sends := expectPeriod(periodFrom, periodTo)
		opt := ReportOptions{From: periodFrom, To: periodTo}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "journeys.cost.sms", "0.065"); err != nil {
			t.Fatal(err)
		}
		if err := SetJourneyCost(ctx, db, "period", "sms", "0.10"); err != nil {
			t.Fatal(err)
		}
		r, err := Measure(ctx, db, "period", opt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cost != 10*sends || r.CostFrom != "journey" || r.ROI == nil {
			t.Fatalf("%d sends at the journey's 0.10 EUR: cost %d from %q; want %d from journey", sends, r.Cost, r.CostFrom, 10*sends)
		}
		if c, _ := JourneyCosts(ctx, db, "period"); c["sms"] != "0.1" {
			t.Errorf("stored cost %v", c)
		}
		if err := SetJourneyCost(ctx, db, "period", "sms", ""); err != nil {
			t.Fatal(err)
		}
		if r, _ = Measure(ctx, db, "period", opt); r.CostFrom != "settings" || r.Cost != int64(float64(sends)*6.5+0.5) {
			t.Errorf("after reset: cost %d from %q", r.Cost, r.CostFrom)
		}
		for _, c := range [][3]string{{"period", "sms", "-1"}, {"period", "fax", "1"}, {"nobody", "sms", "1"}} {
			if err := SetJourneyCost(ctx, db, c[0], c[1], c[2]); err == nil {
				t.Errorf("%v: accepted", c)
			}
		}
		es, err := audit.List(ctx, db, audit.Filter{Action: "journey.cost"})
		if err != nil || len(es) != 2 {
			t.Errorf("audit: %d entries, %v", len(es), err)
		}
	})
}

// TestStepWords: steps read in words, without template syntax.
func TestStepWords(t *testing.T) {
	t.Parallel()
	for _, tp := range Templates() {
		p, err := Compile(tp.Source)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Nodes {
			w := p.StepWords(i)
			if w == "" || strings.Contains(w, "{{") || strings.Contains(w, "->") {
				t.Errorf("%s step %d: %q", tp.Name, i+1, w)
			}
		}
	}
	p, _ := Compile(mustTemplate(t, "abandoned-cart"))
	for i, want := range []string{
		"Wait up to 1 hour for “Order Completed” (same cart_id); if it comes, the journey ends; if not, go on.",
		"Send an email: the built-in “abandoned cart” message, then go on.",
		"Wait 1 day, then go on.",
		"If the message of step email was opened, the journey ends; otherwise go on.",
		"Send a push notification, then the journey ends.",
	} {
		if got := p.StepWords(i); got != want {
			t.Errorf("step %d: %q, want %q", i+1, got, want)
		}
	}
}

func mustTemplate(t *testing.T, name string) []byte {
	src, err := TemplateSource(name)
	if err != nil {
		t.Fatal(err)
	}
	return src
}
