package importer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestImpossibleRowsRefused: imported rows dated in the future or before 1990, and amounts
// beyond ±10^15 minor units (alone or added up), are bad rows with a reason, like the
// API's refusals.
func TestImpossibleRowsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		future := time.Now().UTC().Add(72 * time.Hour).Format(time.RFC3339)
		for _, c := range []struct {
			kind, name, file string
			bad              map[int]string // line → reason
		}{
			{KindEvents, "events.jsonl", `{"type":"track","event":"A","userId":"u","timestamp":"2024-03-01T10:00:00Z","messageId":"ok-1"}
{"type":"track","event":"A","userId":"u","timestamp":"` + future + `","messageId":"f-1"}
{"type":"track","event":"A","userId":"u","timestamp":"1985-01-01T00:00:00Z","messageId":"p-1"}
{"type":"track","event":"Order Completed","userId":"u","timestamp":"2024-03-01T10:00:00Z","properties":{"order_id":"1","revenue":"20000000000000"}}
`, map[int]string{2: "ahead of the server's clock", 3: "before 1990", 4: "beyond ±10^15"}},
			{KindOrders, "orders.csv", `order_id,customer_id,timestamp,total,currency,price,quantity
A-1,c1,2024-03-01T10:00:00Z,12.50,EUR,,
A-2,c1,` + future + `,12.50,EUR,,
A-3,c1,2024-03-01T10:00:00Z,10000000000000.01,EUR,,
A-4,c1,2024-03-01T10:00:00Z,,EUR,9000000000000,1
A-4,c1,,,,9000000000000,1
`, map[int]string{3: "ahead of the server's clock", 4: "beyond ±10^15", 5: "add up beyond ±10^15"}},
			{KindSpend, "spend.csv", `date,channel,campaign,amount,currency
2024-03-01,Paid Search,brand,12.40,EUR
2024-03-01,Paid Search,huge,99999999999999999999,EUR
2024-03-02,Paid Search,twice,9000000000000,EUR
2024-03-02,Paid Search,twice,9000000000000,EUR
`, map[int]string{3: "beyond ±10^15", 5: "add up beyond ±10^15"}},
		} {
			t.Run(c.kind, func(t *testing.T) {
				rep, err := Import(ctx, db, strings.NewReader(c.file), c.name, Options{Kind: c.kind})
				if !errors.Is(err, ErrBadRows) || rep.Rejected != len(c.bad) {
					t.Fatalf("all-or-nothing: %v, %d rejected, want %d: %+v", err, rep.Rejected, len(c.bad), rep.Errors)
				}
				for _, e := range rep.Errors {
					if w, ok := c.bad[e.Line]; !ok || !strings.Contains(e.Reason, w) {
						t.Errorf("line %d: %q, want a reason with %q", e.Line, e.Reason, w)
					}
				}
				rep, err = Import(ctx, db, strings.NewReader(c.file), c.name, Options{Kind: c.kind, SkipBad: true})
				if err != nil || rep.Rejected != len(c.bad) || rep.Imported == 0 {
					t.Fatalf("--skip-bad: %v %+v", err, rep)
				}
				var n int
				if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM rejected_events WHERE origin = ?`, "import "+c.name).Scan(&n); err != nil || n == 0 {
					t.Fatalf("rejected_events for %s: %d %v", c.name, n, err)
				}
			})
		}
	})
}
