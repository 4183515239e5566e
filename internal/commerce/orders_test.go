package commerce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestOrdersByTime: orders written out of time order come back by (ts, seq), for a
// window over most of the history (read through, sorted in Go) and a narrow one (the
// time index), and each window holds exactly its orders.
func TestOrdersByTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		// Written in this order: days 9, 0, 5, 5 (seq 7 before 3), 1, 9 (same ts and seq 2).
		type row struct {
			id       string
			day, seq int
		}
		rows := []row{{"a", 9, 8}, {"b", 0, 4}, {"c", 5, 7}, {"d", 5, 3}, {"e", 1, 6}, {"f", 9, 2}}
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, r := range rows {
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, 1, ?, 100, 'EUR', 'web', 'Direct', 1, ?)`,
					r.id, t0.AddDate(0, 0, r.day).UnixMilli(), r.seq); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			from, to time.Time
			want     string
		}{
			{time.Time{}, time.Time{}, "[b e d c f a]"},
			{t0.AddDate(0, 0, 1), time.Time{}, "[e d c f a]"},
			{t0.AddDate(0, 0, 1), t0.AddDate(0, 0, 9), "[e d c]"},
			{t0.AddDate(0, 0, 5), t0.AddDate(0, 0, 6), "[d c]"},
		} {
			got, err := Orders(ctx, db, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range got {
				ids = append(ids, o.OrderID)
			}
			if fmt.Sprint(ids) != c.want {
				t.Errorf("Orders(%v, %v) = %v, want %s", c.from, c.to, ids, c.want)
			}
		}
	})
}
