package demo

import (
	"context"
	"testing"
	"time"
)

var benchEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkGenerate measures the default-size world (about 1M events); b.N worlds.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		var n int64
		sum, err := Generate(context.Background(), Config{Seed: 1, End: benchEnd}, func(evs []Event) error {
			n += int64(len(evs))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sum.Events), "events")
	}
}

// BenchmarkTruth measures the counterfactual runs of the default-size world.
func BenchmarkTruth(b *testing.B) {
	for b.Loop() {
		if _, err := Truth(context.Background(), Config{Seed: 1, End: benchEnd}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
