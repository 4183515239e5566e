package value

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestSummaryDataSnapshot: the value snapshot built from the per-customer order summaries
// (LoadSummaryData, what the service reads) is identical to the one built from every
// order and refund (LoadStoreData) on the demo shop (its time zone is an hour east of UTC,
// so days are not UTC days): the same customers,
// fits, predictions, churn bands, segments and cohorts.
func TestSummaryDataSnapshot(t *testing.T) {
	testenv.Slow(t, "loads a demo shop")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: 3, Customers: 800, End: end}, Dir: t.TempDir(),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
			t.Fatal(err)
		}
		var refunds int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM refunds`).Scan(&refunds); err != nil || refunds == 0 {
			t.Fatalf("the demo shop has %d refunds (%v): the test needs some", refunds, err)
		}
		if ok, err := commerce.SummariesCurrent(ctx, db, storeLocation(ctx, db)); err != nil || !ok {
			t.Fatalf("the order summaries are not kept for %v (%v): the test would not read them", storeLocation(ctx, db), err)
		}
		svc := NewService(db)
		st, err := ReadStoreState(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		fromOrders, err := LoadStoreData(ctx, db, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		fromSummaries, err := LoadSummaryData(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if fromSummaries.Orders != fromOrders.Orders || fromSummaries.SkippedOrders != fromOrders.SkippedOrders || fromSummaries.Location.String() != "Etc/GMT-1" {
			t.Errorf("summaries: %d orders, %d skipped; orders: %d, %d", fromSummaries.Orders, fromSummaries.SkippedOrders, fromOrders.Orders, fromOrders.SkippedOrders)
		}
		a, err := svc.snapshotOf(ctx, st, fromOrders, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, err := svc.snapshotOf(ctx, st, fromSummaries, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Summaries) < 100 || a.NoRepeats {
			t.Fatalf("the demo shop gives %d customers (no repeats: %v): too few to compare", len(a.Summaries), a.NoRepeats)
		}
		for _, part := range []struct {
			name string
			x, y any
		}{
			{"as of", a.AsOf, b.AsOf}, {"customer summaries", a.Summaries, b.Summaries}, {"models", a.Models, b.Models},
			{"predictions", a.Predictions, b.Predictions}, {"churn bands", a.Bands, b.Bands},
			{"segments", a.Segments, b.Segments}, {"cohorts", a.Cohorts, b.Cohorts},
		} {
			x, err := json.Marshal(part.x)
			if err != nil {
				t.Fatal(err)
			}
			y, err := json.Marshal(part.y)
			if err != nil {
				t.Fatal(err)
			}
			if string(x) != string(y) {
				t.Errorf("%s differ:\nfrom orders:    %.400s\nfrom summaries: %.400s", part.name, x, y)
			}
		}
	})
}
