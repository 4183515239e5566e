package journey

import (
	"context"
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
