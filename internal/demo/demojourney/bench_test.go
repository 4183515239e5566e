package demojourney

import (
	"context"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
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
