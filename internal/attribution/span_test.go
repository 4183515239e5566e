package attribution

import (
	"math"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestStoredImpossibleRowsIgnored: rows an older version derived from impossible events (a
// touch and an order dated 0001-01-01, an order in 9999, an order of math.MaxInt64 cents)
// must not fail or stretch the all-time attribution, ROI and default range.
func TestStoredImpossibleRowsIgnored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		roiFixture(t, db)
		h := NewHTTPHandler(db)
		url := "/api/v1/attribution?model=all&lookback=30d"
		rec, before := get(t, h, url)
		if rec.Code != 200 {
			t.Fatalf("all time: %d %s", rec.Code, rec.Body)
		}
		f := newFixture(t, db)
		f.seq = 10_000
		year1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
		f.act(9, year1, "Home", "Paid Search", "old")
		f.order("evil-1", 9, year1.Add(time.Hour), 1000, "web", "Paid Search")
		f.order("evil-9999", 8, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), 1000, "web", "Email")
		f.act(7, at(1, "08:00"), "Home", "Paid Social", "fb")
		f.order("evil-max", 7, at(1, "08:30"), math.MaxInt64, "web", "Paid Social")

		rec, after := get(t, NewHTTPHandler(db), url)
		if rec.Code != 200 {
			t.Fatalf("all time with impossible rows: %d %s", rec.Code, rec.Body)
		}
		jb, ja := before["journeys"].(map[string]any), after["journeys"].(map[string]any)
		if ja["conversions"].(float64) != jb["conversions"].(float64)+1 { // the MaxInt64 order is real-dated
			t.Fatalf("conversions %v → %v", jb["conversions"], ja["conversions"])
		}
		for _, r := range after["results"].([]any) {
			m := r.(map[string]any)
			if v, _ := m["total_value"].(float64); v < 0 {
				t.Errorf("%s: negative total value %v", m["model"], v)
			}
		}
		from, to, err := DefaultROIRange(t.Context(), db)
		if err != nil || to.Year() > time.Now().Year()+1 || from.Year() < 1990 {
			t.Fatalf("default ROI range %v to %v (%v)", from, to, err)
		}
	})
}
