package value

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// feedStore: customers 1–30 buy every 10 days until the end; customers 31–60 bought
// every 10 days for four months, then stopped.
func feedStore(t *testing.T, db *store.DB, start, end time.Time) {
	t.Helper()
	ctx := context.Background()
	seq := int64(0)
	err := db.Write(ctx, func(tx *store.Tx) error {
		for c := int64(1); c <= 60; c++ {
			stop := end
			if c > 30 {
				stop = start.AddDate(0, 4, 0)
			}
			for at := start.Add(time.Duration(c) * time.Hour); at.Before(stop); at = at.Add(10 * 24 * time.Hour) {
				seq++
				_, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', 'Direct', 1, ?)`,
					fmt.Sprintf("o%d", seq), c, at.UnixMilli(), 1000+c*10, seq)
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type feedRow struct {
	cust     int64
	seg      string
	p        float64
	baseline bool
}

func readFeed(t *testing.T, db *store.DB, after int64) (rows []feedRow, maxID int64) {
	t.Helper()
	rs, err := db.Query(context.Background(), `SELECT id, customer_id, segment, p_alive, baseline FROM segment_changes WHERE id > ? ORDER BY id`, after)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var r feedRow
		var b int
		if err := rs.Scan(&maxID, &r.cust, &r.seg, &r.p, &b); err != nil {
			t.Fatal(err)
		}
		r.baseline = b == 1
		rows = append(rows, r)
	}
	return rows, maxID
}

func TestRefreshSegments(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		end := start.AddDate(0, 6, 0)
		feedStore(t, db, start, end)

		// First refresh, two months in: everyone active, written as the baseline.
		t1 := start.AddDate(0, 2, 0)
		res, err := RefreshSegments(ctx, db, t1, FeedOptions{Thresholds: []float64{0.33}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Baseline != 60 || res.Customers != 60 || res.Changes != 60 || !res.PAlive {
			t.Fatalf("first refresh: %+v; want a baseline of 60 customers with P(alive)", res)
		}
		rows, last := readFeed(t, db, 0)
		for _, r := range rows {
			if !r.baseline || r.p < 0 || r.p > 1 {
				t.Fatalf("baseline row %+v", r)
			}
		}
		// The same day again: nothing moved.
		if res, err = RefreshSegments(ctx, db, t1, FeedOptions{Thresholds: []float64{0.33}}); err != nil || res.Changes != 0 || res.Baseline != 0 {
			t.Fatalf("repeat refresh: %+v, %v; want no changes", res, err)
		}

		// At the end the lapsed half has been quiet for two months: their rows move, not
		// as a baseline, and each new row differs from the customer's previous one.
		res, err = RefreshSegments(ctx, db, end, FeedOptions{Thresholds: []float64{0.33}})
		if err != nil {
			t.Fatal(err)
		}
		rows2, _ := readFeed(t, db, last)
		if res.Baseline != 0 || res.Changes != len(rows2) || len(rows2) == 0 {
			t.Fatalf("end refresh %+v wrote %d rows", res, len(rows2))
		}
		prev := map[int64]feedRow{}
		for _, r := range rows {
			prev[r.cust] = r
		}
		var lapsedMoved, lapsedLow int
		for _, r := range rows2 {
			if r.baseline {
				t.Errorf("row %+v marked baseline", r)
			}
			p := prev[r.cust]
			if p.seg == r.seg && !crossed(p.p, r.p, []float64{0.33}, 0.1) {
				t.Errorf("customer %d: %s %.3f → %s %.3f is no change", r.cust, p.seg, p.p, r.seg, r.p)
			}
			if r.cust > 30 {
				lapsedMoved++
				if r.p < p.p {
					lapsedLow++
				}
			}
		}
		if lapsedMoved != 30 || lapsedLow != 30 {
			t.Errorf("lapsed customers: %d moved, %d with lower P(alive); want 30 and 30", lapsedMoved, lapsedLow)
		}
		// The regulars may move up (to Champions), never into a lapsed segment.
		for _, r := range rows2 {
			lapsed := r.seg == "At Risk" || r.seg == "Lost" || r.seg == "Hibernating" || r.seg == "Can't Lose Them"
			if (r.cust <= 30) == lapsed {
				t.Errorf("customer %d moved to %s (P(alive) %.3f)", r.cust, r.seg, r.p)
			}
		}
	})
}

func TestCrossed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b float64
		want bool
	}{
		{0.95, 0.91, false}, {0.95, 0.89, true}, {0.36, 0.32, true}, {0.34, 0.331, false},
		{-1, 0.5, true}, {0.5, -1, true}, {-1, -1, false}, {0.2, 0.2, false},
	} {
		if got := crossed(c.a, c.b, []float64{0.33}, 0.1); got != c.want {
			t.Errorf("crossed(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
