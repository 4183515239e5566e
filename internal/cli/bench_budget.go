package cli

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/omniroi/omniroi/internal/mix"
)

// BudgetBenchResult is what `omniroi bench budget --json` prints.
type BudgetBenchResult struct {
	Days        int     `json:"days"`
	Channels    int     `json:"channels"`
	Granularity string  `json:"granularity"`
	Uncertainty string  `json:"uncertainty"`
	Draws       int     `json:"draws"`
	Runs        int     `json:"runs"`
	FitSeconds  float64 `json:"fit_seconds"`  // median wall time over the runs: model forms, holdout fit, intervals, diagnostics
	PlanSeconds float64 `json:"plan_seconds"` // median wall time: allocation, gain interval, moves
	CurveSecs   float64 `json:"curves_seconds"`
	// CPU seconds (user + system, all threads) of the same steps: what they cost whatever
	// else the machine is doing.
	FitCPU     float64 `json:"fit_cpu_seconds"`
	PlanCPU    float64 `json:"plan_cpu_seconds"`
	Coverage   float64 `json:"roas_interval_coverage"` // share of channels whose true ROAS is inside the interval
	GOMAXPROCS int     `json:"gomaxprocs"`
	LoadAvg    float64 `json:"load_avg_1m,omitempty"`
}

func init() {
	bench := &Command{
		Name:    "budget",
		Summary: "fit and plan time of the marketing-mix model on synthetic daily data",
		Usage:   "omniroi bench budget [--days 730] [--channels 8] [--runs 3] [--seed 1] [--uncertainty laplace|bootstrap] [--json]",
	}
	bench.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(bench, env)
		days := fs.Int("days", 730, "days of synthetic history")
		channels := fs.Int("channels", 8, "paid channels")
		runs := fs.Int("runs", 3, "datasets (seeds seed, seed+1, ...); times are medians")
		seed := fs.Uint64("seed", 1, "first seed")
		unc := fs.String("uncertainty", mix.Laplace, "laplace or bootstrap")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 || *days < 60 || *channels < 1 || *runs < 1 {
			return ErrUsage
		}
		res := BudgetBenchResult{Days: *days, Channels: *channels, Uncertainty: *unc, Runs: *runs, GOMAXPROCS: runtime.GOMAXPROCS(0)}
		var fits, plans, curves, fitCPU, planCPU []float64
		in, all := 0, 0
		for r := range *runs {
			d, truth := mix.Synthetic(*seed+uint64(r), *days, *channels)
			t0, c0 := time.Now(), processCPU()
			m, err := mix.Fit(ctx, d, mix.Options{Uncertainty: *unc})
			if err != nil {
				return err
			}
			fits = append(fits, time.Since(t0).Seconds())
			fitCPU = append(fitCPU, (processCPU() - c0).Seconds())
			t1, c1 := time.Now(), processCPU()
			if _, err := m.Plan(mix.PlanOptions{}); err != nil {
				return err
			}
			plans = append(plans, time.Since(t1).Seconds())
			planCPU = append(planCPU, (processCPU() - c1).Seconds())
			t2 := time.Now()
			m.ResponseCurves(0, 0, 0)
			curves = append(curves, time.Since(t2).Seconds())
			res.Granularity = m.Period.String()
			res.Draws = m.Draws()
			for c, ce := range m.Channels {
				all++
				if truth.ROAS[c] >= ce.ROASLow && truth.ROAS[c] <= ce.ROASHigh {
					in++
				}
			}
		}
		res.FitSeconds, res.PlanSeconds, res.CurveSecs = median(fits), median(plans), median(curves)
		res.FitCPU, res.PlanCPU = median(fitCPU), median(planCPU)
		res.Coverage = float64(in) / float64(all)
		res.LoadAvg = loadAvg()
		if *asJSON {
			return PrintJSON(env.Stdout, res)
		}
		fmt.Fprintf(env.Stdout, "data             %d days × %d channels (synthetic, %d datasets), fitted by %s\n", res.Days, res.Channels, res.Runs, res.Granularity)
		fmt.Fprintf(env.Stdout, "fit              %.2f s, %.2f CPU s (median; both forms, holdout fit, %s intervals from %d draws, diagnostics)\n", res.FitSeconds, res.FitCPU, res.Uncertainty, res.Draws)
		fmt.Fprintf(env.Stdout, "plan             %.3f s, %.3f CPU s (median; allocation, gain interval, moves)\n", res.PlanSeconds, res.PlanCPU)
		fmt.Fprintf(env.Stdout, "response curves  %.3f s (median; every channel, with intervals)\n", res.CurveSecs)
		fmt.Fprintf(env.Stdout, "ROAS coverage    %d of %d true ROAS inside the %.0f %% interval\n", in, all, 80.0)
		fmt.Fprintf(env.Stdout, "GOMAXPROCS       %d\n", res.GOMAXPROCS)
		if res.LoadAvg > 0 {
			fmt.Fprintf(env.Stdout, "machine load     %.1f (1-minute average; above the core count, wall-clock figures understate)\n", res.LoadAvg)
		}
		return nil
	}
	RegisterBench(bench)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
