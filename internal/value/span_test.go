package value

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestImpossibleOrdersLeftOut: orders stored before the API refused impossible input
// (dated 9999 or year 1, or of math.MaxInt64 cents) are left out of the value models and
// counted, so the cohorts API answers the same table as over the real data.
func TestImpossibleOrdersLeftOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedStore(t, db, 200, 3)
		h := NewService(db).Handler()
		var before struct {
			AsOf    string `json:"as_of"`
			Cohorts []struct {
				Start  string
				Months []json.RawMessage
			}
		}
		getJSON(t, h, "/api/v1/cohorts", http.StatusOK, &before)
		d0, err := LoadStoreData(ctx, db, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range []struct {
			ts      time.Time
			revenue int64
		}{
			{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), 1000},
			{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 1000},
			{base.AddDate(0, 0, 100), math.MaxInt64},
		} {
			if _, err := db.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, 1, ?, ?, 'EUR', 'web', 'Direct', 1, ?)`,
				"evil-"+string(rune('a'+i)), o.ts.UnixMilli(), o.revenue, 1<<40+i); err != nil {
				t.Fatal(err)
			}
		}
		d, err := LoadStoreData(ctx, db, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Implausible != 3 || len(d.Transactions) != len(d0.Transactions) {
			t.Fatalf("implausible %d, transactions %d (were %d)", d.Implausible, len(d.Transactions), len(d0.Transactions))
		}
		var after struct {
			AsOf    string `json:"as_of"`
			Cohorts []struct {
				Start  string
				Months []json.RawMessage
			}
		}
		getJSON(t, NewService(db).Handler(), "/api/v1/cohorts", http.StatusOK, &after)
		if after.AsOf != before.AsOf || len(after.Cohorts) != len(before.Cohorts) || len(after.Cohorts[0].Months) != len(before.Cohorts[0].Months) {
			t.Fatalf("cohorts as of %s, %d cohorts, first of %d months; over the real data %s, %d, %d",
				after.AsOf, len(after.Cohorts), len(after.Cohorts[0].Months), before.AsOf, len(before.Cohorts), len(before.Cohorts[0].Months))
		}
	})
}

// TestCohortsBounded: whatever transactions a caller passes, the dense cohort table spans
// at most 1990 to a year from now.
func TestCohortsBounded(t *testing.T) {
	t.Parallel()
	txs := []Transaction{
		{CustomerID: "a", Time: time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC), Amount: 100},
		{CustomerID: "b", Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Amount: 100},
		{CustomerID: "c", Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Amount: 100},
	}
	rep := Cohorts(txs, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	cells := 0
	for _, c := range rep.Cohorts {
		cells += len(c.Months)
	}
	if maxMonths := (time.Now().Year() + 1 - 1990 + 1) * 12; cells > maxMonths || len(rep.Cohorts) != 1 {
		t.Fatalf("%d cohorts, %d cells (at most %d)", len(rep.Cohorts), cells, maxMonths)
	}
}
