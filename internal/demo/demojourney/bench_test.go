package demojourney

import (
	"context"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkDemoJourneys times Run alone on a 6,000-person demo (14 days):
// go test -run '^$' -bench DemoJourneys -benchtime 1x ./internal/demo/demojourney/
func BenchmarkDemoJourneys(b *testing.B) {
	ctx := context.Background()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := storetest.SQLite(b)
		dir := b.TempDir()
		if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: 1, Customers: 6000, End: end}, Dir: dir}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := Run(ctx, db, Options{Dir: dir, End: end, Days: 14, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Replay.Events), "events")
		b.ReportMetric(float64(rep.Delivered["email"]), "emails")
	}
}

// BenchmarkDemoJourneyCoverage measures how often the holdout report's 95 % interval for
// incremental revenue holds the journeys' true gain, over b.N demo worlds (seeds 1..N,
// 4,000 people, 21 days each):
//
//	go test -run '^$' -bench DemoJourneyCoverage -benchtime 20x -timeout 60m ./internal/demo/demojourney/
func BenchmarkDemoJourneyCoverage(b *testing.B) {
	ctx := context.Background()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var intervals, held, measurable, all, welchHeld, convHeld int
	for i := 0; i < b.N; i++ {
		db := storetest.SQLite(b)
		dir := b.TempDir()
		seed := int64(i + 1)
		if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: seed, Customers: 4000, End: end}, Dir: dir}); err != nil {
			b.Fatal(err)
		}
		rep, err := Run(ctx, db, Options{Dir: dir, End: end, Days: 21, Seed: seed})
		if err != nil {
			b.Fatal(err)
		}
		for _, j := range rep.Journeys {
			m := j.Measured
			truth := float64(j.Truth.RevenueMinor)
			if m.Treated.Runs >= 2 && m.Holdout.Runs >= 2 {
				all++
				// Welch regardless of Cochran's rule, recomputed from the groups.
				tg, hg := m.Treated, m.Holdout
				ci := journey.Welch(tg.RevenuePerRun, tg.RevenueSD*tg.RevenueSD, tg.Runs, hg.RevenuePerRun, hg.RevenueSD*hg.RevenueSD, hg.Runs)
				conv := m.Treated.Converted + m.Holdout.Converted
				if conv > 0 {
					aov := float64(m.Treated.Revenue+m.Holdout.Revenue) / float64(conv)
					lo, hi := m.LiftCI[0]/100*float64(m.Treated.Runs)*aov, m.LiftCI[1]/100*float64(m.Treated.Runs)*aov
					if lo <= truth && truth <= hi {
						convHeld++
					}
				}
				if per := truth / float64(tg.Runs); ci[0] <= per && per <= ci[1] {
					welchHeld++
				}
			}
			if m.TooFewRuns {
				continue
			}
			measurable++
			intervals++
			if m.IncrementalCI[0] <= truth && truth <= m.IncrementalCI[1] {
				held++
			} else {
				b.Logf("seed %d %s: true %.0f outside [%.0f, %.0f] (treated %d, holdout %d runs)", seed, j.Name, truth, m.IncrementalCI[0], m.IncrementalCI[1], m.Treated.Runs, m.Holdout.Runs)
			}
		}
	}
	if intervals > 0 {
		b.ReportMetric(float64(held)/float64(intervals)*100, "%covered")
	}
	b.ReportMetric(float64(intervals), "intervals")
	if all > 0 {
		b.ReportMetric(float64(all), "arms≥2")
		b.ReportMetric(float64(welchHeld)/float64(all)*100, "%welch")
		b.ReportMetric(float64(convHeld)/float64(all)*100, "%conv×aov")
	}
}
