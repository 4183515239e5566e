package journey

import (
	"context"
	"fmt"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestReportReachedMessage: by default the report compares the runs that reached a
// message step (holdout runs record a suppressed send there), counting orders from that
// moment; runs that ended before it (the cart bought within the hour) are left out of
// both arms. AllRuns counts every run from entry.
func TestReportReachedMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const hour = int64(3_600_000)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for i := int64(0); i < 200; i++ {
				start := 1_000_000 + i*10*hour
				holdout := i%10 == 0
				h := 0
				if holdout {
					h = 1
				}
				var id int64
				if err := tx.QueryRow(ctx, `INSERT INTO journey_runs (journey, version, customer_id, status, holdout, started_at, updated_at) VALUES ('cart', 1, ?, 'done', ?, ?, ?) RETURNING id`,
					i+1, h, start, start).Scan(&id); err != nil {
					return err
				}
				order := func(at int64) error {
					_, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, 2500, 'EUR', 'web', 'Direct', 1, ?)`,
						fmt.Sprintf("o%d-%d", i, at), i+1, at, 1000+i)
					return err
				}
				if i%2 == 1 { // bought within the hour: the run exits before the message
					if err := order(start + 10*60_000); err != nil {
						return err
					}
					continue
				}
				status, reason := "sent", ""
				if holdout {
					status, reason = "suppressed", "holdout"
				}
				if _, err := tx.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, reason, not_before, created_at, sent_at) VALUES (?, ?, 'cart', ?, 1, 'email', 'marketing', ?, ?, ?, ?, ?)`,
					IdemKey(id, 1, "email"), id, i+1, status, reason, start+hour, start+hour, start+hour); err != nil {
					return err
				}
				if i%4 == 0 && !holdout {
					if err := order(start + 2*hour); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Measure(ctx, db, "cart", ReportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Runs != "reached a message" || rep.Treated.Runs != 80 || rep.Holdout.Runs != 20 || rep.Treated.Converted != 40 || rep.Holdout.Converted != 0 || rep.Treated.Revenue != 40*2500 {
			t.Errorf("reached: %s, treated %+v, holdout %+v; want 80 runs 40 converted EUR 1000, holdout 20 runs 0", rep.Runs, rep.Treated, rep.Holdout)
		}
		all, err := Measure(ctx, db, "cart", ReportOptions{AllRuns: true})
		if err != nil {
			t.Fatal(err)
		}
		if all.Runs != "all" || all.Treated.Runs != 180 || all.Holdout.Runs != 20 || all.Treated.Converted != 140 || all.Holdout.Converted != 0 {
			t.Errorf("all runs: treated %+v, holdout %+v; want 180 runs 140 converted, holdout 20 runs 0", all.Treated, all.Holdout)
		}
		if rep.Incremental != 40*2500 || rep.LiftCI[0] <= 0 {
			t.Errorf("reached: incremental %v, lift CI %v", rep.Incremental, rep.LiftCI)
		}
	})
}
