package web

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestDailyRevenueWithTimeZone: with a time zone set, "Revenue per day" sums to the
// Revenue card on the first load and on every repeat load (served from the cache, whose
// days carried the first request's *time.Location and so matched no bucket of the next).
func TestDailyRevenueWithTimeZone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		for _, tz := range []string{"America/New_York", "Europe/Paris"} {
			if _, err := workspace.Set(context.Background(), db, "test", workspace.TimeZoneKey.Name, tz); err != nil {
				t.Fatal(err)
			}
			loc, _ := time.LoadLocation(tz)
			to := time.Date(2026, 4, 1, 0, 0, 0, 0, loc)
			_, want := sumOrders(to.AddDate(0, 0, -30), to)
			for load := 1; load <= 3; load++ {
				_, body := get(t, c, ts.URL+"/?format=json")
				var ov struct {
					Tables map[string][]map[string]string `json:"tables"`
				}
				if err := json.Unmarshal([]byte(body), &ov); err != nil {
					t.Fatalf("%s: %v\n%.300s", tz, err, body)
				}
				var got int64
				for _, row := range ov.Tables["revenue-over-time"] {
					f, err := strconv.ParseFloat(row["Revenue"], 64)
					if err != nil {
						t.Fatalf("%s: revenue %q: %v", tz, row["Revenue"], err)
					}
					got += int64(f*100 + 0.5)
				}
				if got != want {
					t.Fatalf("%s, load %d: revenue per day sums to %d, want %d (the orders of the period)", tz, load, got, want)
				}
			}
		}
	})
}
