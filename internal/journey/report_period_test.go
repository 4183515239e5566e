package journey

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// periodRun is one run of the period fixture; orderH > 0 is an order that many hours after
// the run's start.
type periodRun struct {
	cust    int64
	holdout bool
	started time.Time
	orderH  int
	revenue int64
}

var (
	periodFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	periodTo   = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
)

// periodRuns: March runs and runs around March on both sides, so an unfiltered
// report differs from March's in every figure.
var periodRuns = []periodRun{
	{1, false, periodFrom, 48, 5000},                   // on the first instant: included
	{2, false, periodTo.Add(-2 * time.Hour), 30, 3000}, // last day; converts after To, still counts
	{3, true, time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC), 0, 0},
	{4, true, time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC), 24, 1500},
	{5, false, time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), 0, 0},
	{6, false, time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC), 5, 10000}, // February
	{7, true, time.Date(2026, 2, 11, 9, 0, 0, 0, time.UTC), 0, 0},
	{8, false, periodTo, 1, 7000}, // on To: excluded
	{9, true, periodTo.Add(time.Hour), 2, 2000},
	{10, false, time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC), 3, 900},
}

func seedPeriodRuns(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		for i, r := range periodRuns {
			h := 0
			if r.holdout {
				h = 1
			}
			ms := r.started.UnixMilli()
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO journey_runs (journey, version, customer_id, status, holdout, started_at, updated_at) VALUES ('period', 1, ?, 'done', ?, ?, ?) RETURNING id`,
				r.cust, h, ms, ms).Scan(&id); err != nil {
				return err
			}
			if !r.holdout {
				if _, err := tx.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, not_before, created_at, sent_at) VALUES (?, ?, 'period', ?, 1, 'sms', 'marketing', 'sent', ?, ?, ?)`,
					IdemKey(id, 1, "sms"), id, r.cust, ms, ms, ms); err != nil {
					return err
				}
			}
			if r.orderH > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', 'direct', 1, ?)`,
					fmt.Sprintf("P-%d", r.cust), r.cust, r.started.Add(time.Duration(r.orderH)*time.Hour).UnixMilli(), r.revenue, 1000+i); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed runs: %v", err)
	}
}

// expectPeriod counts the fixture's runs started in [from, to) (zero: open) the way the
// report should: runs, conversions and revenue per arm, and treated sends.
func expectPeriod(from, to time.Time) (tr, ho Group, sends int64) {
	for _, r := range periodRuns {
		if (!from.IsZero() && r.started.Before(from)) || (!to.IsZero() && !r.started.Before(to)) {
			continue
		}
		g := &tr
		if r.holdout {
			g = &ho
		} else {
			sends++
		}
		g.Runs++
		if r.orderH > 0 && time.Duration(r.orderH)*time.Hour < 7*24*time.Hour {
			g.Converted++
			g.Revenue += r.revenue
		}
	}
	return tr, ho, sends
}

func checkReport(t *testing.T, what string, rep *Report, from, to time.Time, costPerSend int64) {
	t.Helper()
	tr, ho, sends := expectPeriod(from, to)
	if rep.Treated.Runs != tr.Runs || rep.Treated.Converted != tr.Converted || rep.Treated.Revenue != tr.Revenue ||
		rep.Holdout.Runs != ho.Runs || rep.Holdout.Converted != ho.Converted || rep.Holdout.Revenue != ho.Revenue {
		t.Errorf("%s: treated %+v holdout %+v, want treated %d runs %d converted %d revenue, holdout %d runs %d converted %d revenue",
			what, rep.Treated, rep.Holdout, tr.Runs, tr.Converted, tr.Revenue, ho.Runs, ho.Converted, ho.Revenue)
	}
	if rep.Sends != sends || rep.Cost != sends*costPerSend {
		t.Errorf("%s: sends %d cost %d, want %d and %d", what, rep.Sends, rep.Cost, sends, sends*costPerSend)
	}
	if got := rep.Period.From; (got == nil) != from.IsZero() || (got != nil && !got.Equal(from)) {
		t.Errorf("%s: period from %v, want %v", what, got, from)
	}
	if got := rep.Period.To; (got == nil) != to.IsZero() || (got != nil && !got.Equal(to)) {
		t.Errorf("%s: period to %v, want %v", what, got, to)
	}
}

func TestReportPeriod(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seedPeriodRuns(t, db)
		ctx := context.Background()
		const cost = 5
		base := ReportOptions{AllRuns: true, CostPerSend: map[string]int64{"sms": cost}}

		// The fixture must tell the window apart from all runs, or this test proves nothing.
		allTr, allHo, _ := expectPeriod(time.Time{}, time.Time{})
		marTr, marHo, _ := expectPeriod(periodFrom, periodTo)
		if allTr.Runs == marTr.Runs || allHo.Runs == marHo.Runs || allTr.Revenue == marTr.Revenue {
			t.Fatal("fixture: March and all time agree")
		}

		march := base
		march.From, march.To = periodFrom, periodTo
		rep, err := Measure(ctx, db, "period", march)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, "March", rep, periodFrom, periodTo, cost)
		if rep.Currency != "EUR" || rep.Treated.Converted == 0 {
			t.Errorf("March: currency %q, %d treated conversions", rep.Currency, rep.Treated.Converted)
		}

		all, err := Measure(ctx, db, "period", base)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, "all time", all, time.Time{}, time.Time{}, cost)

		// Open bounds on either side.
		since := base
		since.From = periodFrom
		if rep, err := Measure(ctx, db, "period", since); err != nil {
			t.Fatal(err)
		} else {
			checkReport(t, "since March", rep, periodFrom, time.Time{}, cost)
		}
		until := base
		until.To = periodTo
		if rep, err := Measure(ctx, db, "period", until); err != nil {
			t.Fatal(err)
		} else {
			checkReport(t, "until April", rep, time.Time{}, periodTo, cost)
		}

		// One scan for both must give the same figures as two separate reports.
		p, a, err := MeasureWithAllTime(ctx, db, "period", march)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, "MeasureWithAllTime period", p, periodFrom, periodTo, cost)
		checkReport(t, "MeasureWithAllTime all", a, time.Time{}, time.Time{}, cost)
		if p.Lift != rep.Lift || p.LiftCI != rep.LiftCI || p.RevenueDiffCI != rep.RevenueDiffCI || a.Lift != all.Lift || a.IncrementalCI != all.IncrementalCI {
			t.Errorf("MeasureWithAllTime differs from Measure: %+v / %+v vs %+v / %+v", p, a, rep, all)
		}

		bad := base
		bad.From, bad.To = periodTo, periodFrom
		if _, err := Measure(ctx, db, "period", bad); err == nil {
			t.Error("a period ending before it starts: no error")
		}
	})
}
