package collect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestImpossibleInputRefused: timestamps far ahead or before 1990 and amounts beyond
// ±10^15 minor units are refused per event, with the reason in the reply and in
// rejected_events; a call with too many trait keys is kept without the extra ones, and
// the reply says so.
func TestImpossibleInputRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := workspace.Set(ctx, db, "test", workspace.MaxFutureKey.Name, "2h"); err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, db, collect.Options{})
		now := time.Now().UTC()
		ts := func(t time.Time) string { return t.Format(time.RFC3339) }
		traits := map[string]any{}
		for i := range 300 {
			traits[fmt.Sprintf("k%03d", i)] = i
		}
		many, _ := json.Marshal(traits)
		items := []string{
			`{"type":"track","event":"Viewed","userId":"u","timestamp":"9999-12-31T00:00:00Z"}`,                                                                               // 0
			`{"type":"track","event":"Viewed","userId":"u","timestamp":"1969-07-20T20:17:00Z"}`,                                                                               // 1
			`{"type":"track","event":"Viewed","userId":"u","timestamp":"` + ts(now.Add(90*time.Minute)) + `"}`,                                                                // 2: within 2 h
			`{"type":"track","event":"Viewed","userId":"u","timestamp":"` + ts(now.Add(3*time.Hour)) + `"}`,                                                                   // 3: past the setting
			`{"type":"track","event":"Order Completed","userId":"u","properties":{"order_id":"X","revenue":1e16,"currency":"EUR"}}`,                                           // 4
			`{"type":"track","event":"Order Completed","userId":"u","properties":{"order_id":"Y","total":"99999999999999999999"}}`,                                            // 5
			`{"type":"track","event":"Order Completed","userId":"u","properties":{"order_id":"Z","products":[{"price":9e12,"quantity":1000}]}}`,                               // 6
			`{"type":"track","event":"Order Completed","userId":"u","properties":{"order_id":"W","revenue":24.5,"currency":"EUR","products":[{"price":12.25,"quantity":2}]}}`, // 7 fine
			`{"type":"identify","userId":"u","traits":` + string(many) + `}`,                                                                                                  // 8: kept, capped
			`{"type":"track","event":"Viewed","userId":"u","sentAt":"` + ts(now) + `","timestamp":"1950-01-01T00:00:00Z"}`,                                                    // 9: skew-corrected, still 1950
		}
		r := f.post(t, "/v1/batch", f.key, batchOf(items...))
		if r.status != 200 || r.body["accepted"] != 3.0 {
			t.Fatalf("batch: %d %s", r.status, r.raw)
		}
		var got struct {
			Rejected []struct {
				Index int
				Error string
			}
			Notices []struct {
				Index  int
				Notice string
			}
		}
		if err := json.Unmarshal([]byte(r.raw), &got); err != nil {
			t.Fatal(err)
		}
		want := map[int]string{0: "ahead of the server's clock", 1: "before 1990", 3: "more than 2h0m0s ahead", 4: "properties.revenue", 5: "properties.total", 6: "products[0]", 9: "before 1990"}
		if len(got.Rejected) != len(want) {
			t.Fatalf("rejected %+v, want indices %v", got.Rejected, want)
		}
		for _, x := range got.Rejected {
			if w, ok := want[x.Index]; !ok || !strings.Contains(x.Error, w) {
				t.Errorf("item %d rejected with %q, want a reason with %q", x.Index, x.Error, w)
			}
		}
		if len(got.Notices) != 1 || got.Notices[0].Index != 8 || !strings.Contains(got.Notices[0].Notice, "without the last 44") {
			t.Fatalf("notices %+v", got.Notices)
		}
		// The same reasons are stored where the dashboard lists rejections.
		rows, err := db.Query(ctx, `SELECT position, reason FROM rejected_events ORDER BY position`)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[int]string{}
		for rows.Next() {
			var pos int
			var reason string
			if err := rows.Scan(&pos, &reason); err != nil {
				t.Fatal(err)
			}
			stored[pos] = reason
		}
		rows.Close()
		for i, w := range want {
			if !strings.Contains(stored[i], w) {
				t.Errorf("rejected_events position %d: %q, want %q", i, stored[i], w)
			}
		}
		if !strings.Contains(stored[8], "accepted in part") {
			t.Errorf("rejected_events position 8: %q", stored[8])
		}
		// The identify is stored with its first 256 traits.
		for _, ev := range f.events(t) {
			if ev.Type != "identify" {
				continue
			}
			var body struct{ Traits map[string]any }
			if err := json.Unmarshal(ev.Body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Traits) != 256 || body.Traits["k255"] == nil || body.Traits["k256"] != nil {
				t.Fatalf("stored traits: %d keys", len(body.Traits))
			}
		}
		// A single call over the limit is a 400 with the reason.
		r = f.post(t, "/v1/track", f.key, []byte(items[0]))
		if r.status != 400 || !strings.Contains(r.raw, "ahead of the server's clock") {
			t.Fatalf("single future call: %d %s", r.status, r.raw)
		}
	})
}
