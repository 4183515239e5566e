package goals

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/testenv"
)

// seasonal is a weekly pattern summing to zero.
var seasonal = [Season]float64{-30, -10, 0, 5, 10, 40, -15}

// series draws n days of level + slope·t + weekday effect + N(0, sd²) noise.
func series(rng *rand.Rand, n int, level, slope, sd float64) []float64 {
	y := make([]float64, n)
	for t := range y {
		y[t] = level + slope*float64(t) + seasonal[t%Season] + rng.NormFloat64()*sd
	}
	return y
}

func TestFitRecoversTrendAndSeason(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const n, slope = 365, 0.8
	y := series(rng, n, 200, slope, 8)
	m, err := Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alpha %.3f beta %.4f gamma %.3f level %.1f trend %.3f", m.Alpha, m.Beta, m.Gamma, m.Level, m.Trend)
	if math.Abs(m.Trend-slope) > 0.2 {
		t.Errorf("trend %.3f, true %.1f", m.Trend, slope)
	}
	for k := range Season {
		want := seasonal[(n+k)%Season]
		if math.Abs(m.Seasonal[k]-want) > 5 {
			t.Errorf("weekday effect %d days ahead: %.1f, true %.1f", k+1, m.Seasonal[k], want)
		}
	}
	// The next four weeks' point forecasts follow the true line and pattern.
	for h := 1; h <= 28; h++ {
		truth := 200 + slope*float64(n-1+h) + seasonal[(n-1+h)%Season]
		if got := m.Mean(h); math.Abs(got-truth) > 15 {
			t.Errorf("day %d ahead: forecast %.1f, true mean %.1f", h, got, truth)
		}
	}
	// Same data, same model.
	m2, _ := Fit(y)
	if m2.Alpha != m.Alpha || m2.Level != m.Level || m.Simulate(10, 500, 0.8).Sums[250] != m2.Simulate(10, 500, 0.8).Sums[250] {
		t.Error("two fits of the same data differ")
	}
}

// walk draws n days whose level wanders (a random walk with steps of sd step) around
// which the weekday pattern and N(0, sd²) noise sit: a series whose level a forecast
// must keep following.
func walk(rng *rand.Rand, n int, level, step, sd float64) []float64 {
	y := make([]float64, n)
	for t := range y {
		level += rng.NormFloat64() * step
		y[t] = level + seasonal[t%Season] + rng.NormFloat64()*sd
	}
	return y
}

// TestIntervalCoverage simulates many histories with their futures and counts how often
// the 80 % intervals (per day, and of the four weeks' total) hold the truth: for a
// steady trend and for a wandering level.
func TestIntervalCoverage(t *testing.T) {
	t.Parallel()
	const n, horizon = 180, 28
	for _, c := range []struct {
		name string
		reps int // histories; -short: fewer where the bounds still hold at that count
		gen  func(rng *rand.Rand) []float64
	}{
		{"trend", testenv.Size(100, 30), func(rng *rand.Rand) []float64 { return series(rng, n+horizon, 500, 0.3, 20) }},
		{"wandering level", testenv.Size(100, 60), func(rng *rand.Rand) []float64 { return walk(rng, n+horizon, 500, 6, 20) }},
	} {
		reps := c.reps
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each series has its own generator: the two run side by side
			rng := rand.New(rand.NewPCG(7, 8))
			var dayIn, dayAll, sumIn int
			var brier float64
			for range reps {
				y := c.gen(rng)
				m, err := Fit(y[:n])
				if err != nil {
					t.Fatal(err)
				}
				f := m.Simulate(horizon, 1000, 0.8)
				var total float64
				for h := range horizon {
					v := y[n+h]
					total += v
					if v >= f.Low[h] && v <= f.High[h] {
						dayIn++
					}
					dayAll++
				}
				if total >= f.SumQuantile(0.1) && total <= f.SumQuantile(0.9) {
					sumIn++
				}
				p := f.ProbabilityAtLeast(f.SumMean())
				hit := 0.0
				if total >= f.SumMean() {
					hit = 1
				}
				brier += (p - hit) * (p - hit)
			}
			day := float64(dayIn) / float64(dayAll)
			sum := float64(sumIn) / float64(reps)
			t.Logf("80 %% intervals: per day %.3f, four-week total %.3f (%d histories); Brier score of P(total ≥ forecast mean) %.3f", day, sum, reps, brier/float64(reps))
			if day < 0.75 || day > 0.85 {
				t.Errorf("per-day coverage %.3f, want near 0.80", day)
			}
			if sum < 0.70 || sum > 0.90 {
				t.Errorf("four-week total coverage %.3f, want near 0.80", sum)
			}
		})
	}
}

func TestFitTooShort(t *testing.T) {
	t.Parallel()
	_, err := Fit(make([]float64, 20))
	if !errors.Is(err, ErrTooShort) {
		t.Fatalf("err = %v, want ErrTooShort", err)
	}
	for _, want := range []string{"at least 28 days", "has 20", "8 more needed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if _, err := Fit(make([]float64, MinDays)); err != nil {
		t.Errorf("%d days: %v", MinDays, err)
	}
}

// BenchmarkForecast fits two years of daily history and simulates a quarter ahead with
// the default number of paths: what one goal costs.
func BenchmarkForecast(b *testing.B) {
	y := series(rand.New(rand.NewPCG(5, 6)), 730, 1000, 0.2, 60)
	for b.Loop() {
		m, err := Fit(y)
		if err != nil {
			b.Fatal(err)
		}
		m.Simulate(90, DefaultPaths, 0.8)
	}
}
