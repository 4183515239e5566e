package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/demo/demojourney"
	"github.com/omniroi/omniroi/internal/store"
)

// demoExperiments reads the demo's tests with known effects as `omniroi experiment
// report` does and sets each beside its truth: the web test and the switchback from the
// generated history, and the journey's subject-line test when the journeys ran.
func demoExperiments(ctx context.Context, db *store.DB, rep *demo.LoadReport, jr *demojourney.Report) ([]demo.Recovered, error) {
	now := time.Now()
	out, err := demo.MeasureExperiments(ctx, db, rep.GroundTruth.Experiments, now)
	if err != nil {
		return nil, fmt.Errorf("demo experiments: %w", err)
	}
	if jr != nil && jr.SubjectTest.Runs > 0 {
		v, verdict, err := demojourney.MeasureSubjectTest(ctx, db, now)
		if err != nil {
			return nil, fmt.Errorf("demo experiments: %w", err)
		}
		r := demo.Recovered{Experiment: demojourney.SubjectTestName, What: "open rate per run, " + demojourney.SubjectTestVariant + " − control",
			Truth: jr.SubjectTest.TrueDiff, Estimate: v.Diff, Low: v.DiffLow, High: v.DiffHigh, Verdict: verdict}
		r.Inside = v.DiffLow.Valid() && v.DiffHigh.Valid() && float64(v.DiffLow) <= r.Truth && r.Truth <= float64(v.DiffHigh)
		out = append(out, r)
	}
	return out, nil
}

func printDemoExperiments(w io.Writer, exps []demo.Recovered) {
	if len(exps) == 0 {
		return
	}
	fmt.Fprintln(w, "  experiments   tests with known effects (omniroi experiment list; omniroi experiment report NAME); true effect beside the report's 95% interval:")
	for _, r := range exps {
		if !r.Low.Valid() || !r.High.Valid() {
			fmt.Fprintf(w, "    %-23s %s: true %s, no interval yet\n", r.Experiment, r.What, num(r.Truth))
			continue
		}
		in := "holds the truth"
		if !r.Inside {
			in = "MISSES the truth"
		}
		fmt.Fprintf(w, "    %-23s %s: true %s, measured %s (%s to %s): %s\n", r.Experiment, r.What, num(r.Truth), num(float64(r.Estimate)), num(float64(r.Low)), num(float64(r.High)), in)
	}
	seen := map[string]bool{}
	for _, r := range exps {
		if !seen[r.Experiment] {
			seen[r.Experiment] = true
			fmt.Fprintf(w, "    %-23s %s\n", r.Experiment, strings.TrimSpace(r.Verdict))
		}
	}
}

func num(x float64) string {
	switch {
	case x != 0 && x > -1 && x < 1:
		return fmt.Sprintf("%+.3f", x)
	default:
		return fmt.Sprintf("%+.2f", x)
	}
}
