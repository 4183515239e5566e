package privacy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/rollup"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestEraseDailyRollups: an erasure takes the person's sessions, orders, refunds and
// first purchase out of the daily rollups, which then equal a computation from scratch
// over what is left; Bob's order stays.
func TestEraseDailyRollups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.build()
		text := func(rows []rollup.Row) string {
			var b strings.Builder
			for _, r := range rows {
				fmt.Fprintf(&b, "%+v\n", r)
			}
			return b.String()
		}
		table := func() string {
			loc, err := workspace.Location(w.ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := rollup.Current(w.ctx, db, loc); err != nil || !ok {
				t.Fatalf("rollups not kept: %v", err)
			}
			p, err := rollup.ForPeriod(w.ctx, db, rollup.Query{Loc: loc, To: w.clock().AddDate(0, 0, 2)})
			if err != nil {
				t.Fatal(err)
			}
			want, err := rollup.Compute(w.ctx, db, loc)
			if err != nil {
				t.Fatal(err)
			}
			if got := text(p.Rows); got != text(want) {
				t.Fatalf("rollups:\n%s\ncomputed from the tables:\n%s", got, text(want))
			}
			return text(p.Rows)
		}
		before := table()
		if !strings.Contains(before, "Orders:3") && !strings.Contains(before, "Orders:2") {
			t.Fatalf("the fixture's orders are not in the rollups:\n%s", before)
		}
		if _, err := privacy.Erase(w.ctx, db, privacy.Query{Email: zEmail}, privacy.EraseOptions{Actor: audit.ActorCLI}); err != nil {
			t.Fatal(err)
		}
		after := table()
		if after == before || !strings.Contains(after, "RevenueMinor:1000 ") {
			t.Fatalf("after the erasure:\n%s\nbefore:\n%s", after, before)
		}
	})
}
