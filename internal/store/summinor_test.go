package store_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestSumMinor: sums of money in SQL are exact for real amounts and hold at int64's
// bounds instead of failing ("integer overflow" on SQLite, an unscannable numeric on
// PostgreSQL) or wrapping into a negative total.
func TestSumMinor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sum := func(where string) int64 {
			t.Helper()
			var s int64
			if err := db.QueryRow(ctx, `SELECT `+db.SumMinor("amount_minor")+` FROM spend WHERE `+where).Scan(&s); err != nil {
				t.Fatalf("sum %s: %v", where, err)
			}
			return s
		}
		if s := sum("1 = 1"); s != 0 {
			t.Fatalf("empty sum %d", s)
		}
		insert := func(day string, amount int64) {
			t.Helper()
			if _, err := db.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency, impressions, clicks) VALUES (?, 'Paid Search', ?, 'manual', ?, 'EUR', 0, 0)`,
				day, fmt.Sprint(amount), amount); err != nil {
				t.Fatal(err)
			}
		}
		// Exact below 2^53: odd amounts that a float sum of non-integers would blur.
		for i := range 1000 {
			insert("2024-01-01", 999_999_999_999+int64(i))
		}
		if s, want := sum("day = '2024-01-01'"), int64(1000*999_999_999_999+999*1000/2); s != want {
			t.Fatalf("sum of real amounts %d, want %d", s, want)
		}
		// Amounts an older version let in: the plain SUM overflows, ours saturates.
		insert("2024-01-02", math.MaxInt64-5)
		insert("2024-01-02", math.MaxInt64-6)
		insert("2024-01-03", math.MinInt64+5)
		insert("2024-01-03", math.MinInt64+6)
		if s := sum("day = '2024-01-02'"); s != math.MaxInt64 {
			t.Fatalf("overflowing sum %d, want MaxInt64", s)
		}
		if s := sum("day = '2024-01-03'"); s != math.MinInt64 {
			t.Fatalf("underflowing sum %d, want MinInt64", s)
		}
		var plain int64
		if err := db.QueryRow(ctx, `SELECT SUM(amount_minor) FROM spend WHERE day = '2024-01-02'`).Scan(&plain); err == nil && plain >= 0 {
			t.Fatalf("plain SUM gave %d: the test does not reproduce the overflow", plain)
		}
	})
}
