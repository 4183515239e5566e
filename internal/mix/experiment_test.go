//go:build unix

package mix

import (
	"context"
	"flag"
	"fmt"
	"math"
	"testing"
	"time"
)

// The measurements behind two choices in docs/decisions.md ("Budget model"). They take
// minutes, so they run only when asked:
//
//	go test ./internal/mix -run TestExperiment -v -args -experiment
var runMeasurements = flag.Bool("experiment", false, "run the measurements behind the budget model's choices")

// TestExperimentUncertainty compares the interval methods on synthetic data with known
// answers: the share of true ROAS inside the 80 % intervals and the CPU time per fit.
func TestExperimentUncertainty(t *testing.T) {
	if !*runMeasurements {
		t.Skip("run with -args -experiment")
	}
	const sims = 20
	for _, method := range []string{laplaceIID, Laplace, Bootstrap} {
		in, all := 0, 0
		var cpu time.Duration
		for s := range sims {
			d, tr := Synthetic(uint64(200+s), 365, 4)
			c0 := processCPU()
			m, err := Fit(context.Background(), d, Options{Uncertainty: method, Holdout: -1})
			if err != nil {
				t.Fatal(err)
			}
			cpu += processCPU() - c0
			for c, ce := range m.Channels {
				all++
				if tr.ROAS[c] >= ce.ROASLow && tr.ROAS[c] <= ce.ROASHigh {
					in++
				}
			}
		}
		t.Logf("%-12s coverage %d/%d = %.2f, %.2f CPU s per fit", method, in, all, float64(in)/float64(all), cpu.Seconds()/sims)
	}
}

// TestExperimentCaution compares the planner's caution (how many standard deviations of
// a channel's change it subtracts) on synthetic data: the plan's true gain as a share of
// the best possible gain (the true response curves), summed over datasets, and the worst.
func TestExperimentCaution(t *testing.T) {
	t.Parallel()
	if !*runMeasurements {
		t.Skip("run with -args -experiment")
	}
	const sims = 10
	levels := []float64{0, 0.5, 1, 2}
	got := make([]float64, len(levels))
	worst := make([]float64, len(levels))
	var best float64
	for s := range sims {
		d, tr := Synthetic(uint64(s+1), 730, 8)
		m, err := Fit(context.Background(), d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		C := len(m.Channels)
		cur, lo, hi := make([]float64, C), make([]float64, C), make([]float64, C)
		for c := range C {
			cur[c] = m.Channels[c].Spend
			hi[c] = m.defaultMax(c) * cur[c]
		}
		value := func(sp []float64) float64 {
			v := 0.0
			for c := range sp {
				v += tr.Response(c, sp[c]/cur[c])
			}
			return v
		}
		base := value(cur)
		b := value(Allocate(cur, lo, hi, sum(cur), 0, tr.Response)) - base
		best += b
		line := fmt.Sprintf("dataset %d: best %.0f;", s+1, b)
		for i, ra := range levels {
			pl, err := m.Plan(PlanOptions{RiskAversion: &ra})
			if err != nil {
				t.Fatal(err)
			}
			rec := make([]float64, C)
			for c := range C {
				rec[c] = pl.Channels[c].Recommended
			}
			g := value(rec) - base
			got[i] += g
			worst[i] = math.Min(worst[i], g/b)
			line += fmt.Sprintf(" %.1f sd: %.0f %%", ra, 100*g/b)
		}
		t.Log(line)
	}
	for i, ra := range levels {
		t.Logf("caution %.1f sd: %.0f %% of the best possible gain in all, worst dataset %.0f %%", ra, 100*got[i]/best, 100*worst[i])
	}
}
