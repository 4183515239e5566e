package goals

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

func setSetting(t testing.TB, db *store.DB, k, v string) {
	t.Helper()
	if err := db.Write(context.Background(), func(tx *store.Tx) error { return store.SetSetting(context.Background(), tx, k, v) }); err != nil {
		t.Fatal(err)
	}
}

func TestGoalsAddListRemove(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setSetting(t, db, "currency", "EUR")
		today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for _, c := range []struct {
			in   Input
			want string
		}{
			{Input{Name: "", Target: "10", By: "2026-12-31"}, "goal name"},
			{Input{Name: "x/y", Target: "10", By: "2026-12-31"}, "goal name"},
			{Input{Name: "q4", Metric: "profit", Target: "10", By: "2026-12-31"}, `metric "profit"`},
			{Input{Name: "q4", Target: "", By: "2026-12-31"}, "needs a target"},
			{Input{Name: "q4", Target: "abc", By: "2026-12-31"}, "not a number"},
			{Input{Name: "q4", Target: "0", By: "2026-12-31"}, "more than 0"},
			{Input{Name: "q4", Metric: "orders", Target: "12.5", By: "2026-12-31"}, "whole number of orders"},
			{Input{Name: "q4", Target: "10"}, "needs a date"},
			{Input{Name: "q4", Target: "10", By: "31/12/2026"}, "want YYYY-MM-DD"},
			{Input{Name: "q4", Target: "10", By: "2026-11-30"}, "before the start"},
			{Input{Name: "q4", Target: "10", By: "2030-01-01"}, "three years"},
		} {
			if _, err := Parse(ctx, db, c.in, today); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: err %v, want %q", c.in, err, c.want)
			}
		}
		g, err := Parse(ctx, db, Input{Name: "Q4 revenue", Target: "15,000", By: "2026-12-31"}, today)
		if err != nil {
			t.Fatal(err)
		}
		if g.Target != 1500000 || g.Currency != "EUR" || g.Metric != MetricRevenue || day(g.From) != "2026-12-01" {
			t.Fatalf("parsed %+v", g)
		}
		if err := Add(ctx, db, g, audit.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if err := Add(ctx, db, g, audit.ActorCLI); !errors.Is(err, ErrExists) {
			t.Fatalf("second add: %v", err)
		}
		o, err := Parse(ctx, db, Input{Name: "orders", Metric: "orders", Target: "500", From: "2026-11-01", By: "2026-12-15"}, today)
		if err != nil {
			t.Fatal(err)
		}
		if err := Add(ctx, db, o, audit.ActorCLI); err != nil {
			t.Fatal(err)
		}
		gs, err := List(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) != 2 || gs[0].Name != "orders" || gs[1].Name != "Q4 revenue" || gs[0].Target != 500 || gs[0].Currency != "" || day(gs[0].From) != "2026-11-01" {
			t.Fatalf("list %+v", gs)
		}
		if err := Remove(ctx, db, "Q4 revenue", audit.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if err := Remove(ctx, db, "Q4 revenue", audit.ActorCLI); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second remove: %v", err)
		}
		es, err := audit.List(ctx, db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			actions = append(actions, e.Action+" "+e.Target)
		}
		if got := strings.Join(actions, ","); !strings.Contains(got, "goal.add goal:Q4 revenue") || !strings.Contains(got, "goal.remove goal:Q4 revenue") {
			t.Errorf("audit: %s", got)
		}
	})
}

// TestTrackStore tracks goals on orders loaded like production loads them: the actual
// counts the days from the goal's start, a reached goal says so, a past one is missed, a
// too-short history says how many days are needed.
func TestTrackStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setSetting(t, db, "currency", "EUR")
		start := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
		rng := rand.New(rand.NewPCG(3, 4))
		var evs []string
		n := 0
		const days = 70
		for d := range days {
			k := 3 + int(d%7)%3 + rng.IntN(3) // orders a day: weekday pattern and noise
			for range k {
				n++
				evs = append(evs, fmt.Sprintf(`{"type":"track","event":"Order Completed","userId":"u%d","timestamp":%q,"properties":{"order_id":"o%d","revenue":50,"currency":"EUR"}}`,
					n%40, start.AddDate(0, 0, d).Format(time.RFC3339), n))
			}
		}
		identitytest.Load(t, db, "shop", start.AddDate(0, 0, days), evs...)
		now := start.AddDate(0, 0, days) // the day after the last order
		mk := func(name, metric, target, from, by string) Goal {
			g, err := Parse(ctx, db, Input{Name: name, Metric: metric, Target: target, From: from, By: by}, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		sts, err := Track(ctx, db, []Goal{
			mk("reached", "orders", "10", "2026-09-01", "2026-12-31"),
			mk("missed", "revenue", "1000000", "2026-09-01", "2026-09-30"),
			mk("forecast", "orders", "432", "2026-09-01", "2026-11-30"),
			mk("later", "orders", "100", "2026-11-15", "2026-11-30"),
			mk("far", "orders", "100000", "2026-09-01", "2026-11-30"),
		}, now)
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]Status{}
		for _, s := range sts {
			by[s.Name] = s
			t.Logf("%s: %s %v", s.Name, s.Text, s.Warnings)
		}
		if s := by["reached"]; s.Status != StatusReached || s.Actual != float64(n) || *s.Probability != 1 || s.Text != fmt.Sprintf("%d of 10 orders by 31 Dec 2026: reached.", n) {
			t.Errorf("reached: %+v (orders %d)", s, n)
		}
		if s := by["missed"]; s.Status != StatusMissed || !strings.Contains(s.Text, "missed by") || s.Actual <= 0 {
			t.Errorf("missed: %+v", s)
		}
		f := by["forecast"]
		if f.Status != StatusOnTrack && f.Status != StatusAtRisk || f.Probability == nil || f.Expected <= f.Actual || f.Low > f.Expected || f.High < f.Expected {
			t.Errorf("forecast: %+v", f)
		}
		// About 4.8 orders a day: 70 days counted (to 9 Nov), 21 forecast: about 435 expected.
		if *f.Probability < 0.1 || *f.Probability > 0.9 || math.Abs(f.Expected-float64(n)*91/70) > 15 {
			t.Errorf("432 orders by 30 Nov from %d in 70 days: probability %.2f, expected %.0f", n, *f.Probability, f.Expected)
		}
		// A goal starting after the data counts only its own days (16 of them, about 77 orders).
		if l := by["later"]; l.Actual != 0 || math.Abs(l.Expected-float64(n)*16/70) > 10 || !strings.HasPrefix(l.Text, "0 of 100 orders by 30 Nov 2026") {
			t.Errorf("later: %+v", l)
		}
		if s := by["far"]; s.Status != StatusAtRisk || *s.Probability > 0.01 || !strings.Contains(s.Text, "under 1 %") {
			t.Errorf("far: %+v", s)
		}

		if s := by["missed"]; s.Text != "€7,250 of €1,000,000 by 30 Sep 2026: missed by €992,750." {
			t.Errorf("missed text %q", s.Text)
		}
		// Three weeks of history only: no forecast, and how many days are needed.
		sts, err = Track(ctx, db, []Goal{mk("short", "orders", "600", "2026-09-01", "2026-11-30")}, start.AddDate(0, 0, 21))
		if err != nil {
			t.Fatal(err)
		}
		if s := sts[0]; s.Status != StatusUnknown || s.Probability != nil || !strings.Contains(strings.Join(s.Warnings, " "), "at least 28 days") ||
			!strings.Contains(strings.Join(s.Warnings, " "), "7 more needed") {
			t.Errorf("short: %+v", s)
		}
	})
}

// TestTrackSeriesCalibrated sets goals at the true median of the period's total: the
// reported probabilities average near one half and the goals are reached about as often.
func TestTrackSeriesCalibrated(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	const n, horizon = 120, 30
	reps := testenv.Size(60, 20) // goals; -short: fewer, same bound
	var sumP, hits, brier float64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range reps {
		y := series(rng, n+horizon, 300, 0.5, 25)
		var dates []time.Time
		for i := range n {
			dates = append(dates, base.AddDate(0, 0, i))
		}
		var truth float64 // the true mean of the future's total
		var total float64
		for h := range horizon {
			t := n + h
			truth += 300 + 0.5*float64(t) + seasonal[t%Season]
			total += y[t]
		}
		g := Goal{Name: "g", Metric: MetricOrders, Target: int64(math.Round(truth)), From: base.AddDate(0, 0, n), By: base.AddDate(0, 0, n+horizon-1)}
		st := TrackSeries(g, mix.TargetSeries{Dates: dates, Values: y[:n], Target: MetricOrders}, base.AddDate(0, 0, n))
		if st.Probability == nil {
			t.Fatalf("no probability: %+v", st)
		}
		p := *st.Probability
		hit := 0.0
		if total >= float64(g.Target) {
			hit = 1
		}
		sumP += p
		hits += hit
		brier += (p - hit) * (p - hit)
	}
	t.Logf("mean probability %.3f, reached %.3f, Brier %.3f (%d goals at the true median)", sumP/float64(reps), hits/float64(reps), brier/float64(reps), reps)
	if m := sumP / float64(reps); m < 0.35 || m > 0.65 {
		t.Errorf("mean probability %.3f, want near 0.5", m)
	}
}
