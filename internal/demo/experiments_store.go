package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
)

// StoreExperiments records the demo's web test and switchback as the experiments they
// were: created, started on their first day and stopped at the end of the history, so
// the Experiments page, `omniroi experiment list|report` and the budget model's
// calibrations (experiment.Calibrations) find them. start and end are the history's.
func StoreExperiments(ctx context.Context, db *store.DB, end time.Time) error {
	for _, t := range []struct {
		e    experiment.Experiment
		days int
	}{{WebTest(), WebTestDays}, {Switchback(), SwitchbackDays}} {
		from := end.AddDate(0, 0, -t.days)
		e := t.e
		e.End = &end
		if _, err := experiment.Create(ctx, db, audit.ActorSystem, e); err != nil {
			return fmt.Errorf("demo experiment %s: %w", e.Name, err)
		}
		if _, err := experiment.Start(ctx, db, audit.ActorSystem, e.Name, from, 0); err != nil {
			return fmt.Errorf("demo experiment %s: %w", e.Name, err)
		}
		if _, err := experiment.Stop(ctx, db, audit.ActorSystem, e.Name, end); err != nil {
			return fmt.Errorf("demo experiment %s: %w", e.Name, err)
		}
	}
	return nil
}

// Recovered is one test's true effect beside the report's estimate and interval, in
// the report's units (major currency units for money).
type Recovered struct {
	Experiment string         `json:"experiment"`
	What       string         `json:"what"`
	Truth      float64        `json:"truth"`
	Estimate   experiment.Num `json:"estimate"` // null when the report has none (too few units)
	Low        experiment.Num `json:"low"`
	High       experiment.Num `json:"high"`
	Inside     bool           `json:"inside"`
	Verdict    string         `json:"verdict"`
}

func recovered(name, what string, truth float64, est, lo, hi experiment.Num, verdict string) Recovered {
	r := Recovered{Experiment: name, What: what, Truth: truth, Estimate: est, Low: lo, High: hi, Verdict: verdict}
	r.Inside = lo.Valid() && hi.Valid() && float64(lo) <= truth && truth <= float64(hi)
	return r
}

// MeasureExperiments reads the stored tests' reports as `omniroi experiment report` does
// and sets each beside its truth: the web test's difference in revenue per customer,
// the switchback's incremental sales and return on spend.
func MeasureExperiments(ctx context.Context, db *store.DB, gt *ExperimentsTruth, now time.Time) ([]Recovered, error) {
	var out []Recovered
	rep, err := experiment.BuildReport(ctx, db, WebTestName, experiment.ReportOptions{Now: now})
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", WebTestName, err)
	}
	for _, v := range rep.Primary.Result.Variants {
		if v.Control {
			continue
		}
		out = append(out, recovered(WebTestName, "revenue per customer, "+v.Variant+" − control", gt.Web.DiffMinor/100,
			v.Diff, v.DiffLow, v.DiffHigh, rep.Verdict))
	}
	e, err := experiment.Get(ctx, db, SwitchbackName)
	if err != nil {
		return nil, err
	}
	g, err := experiment.AdTestReport(ctx, db, e, now)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", SwitchbackName, err)
	}
	sb := gt.Switchback
	out = append(out, recovered(SwitchbackName, "incremental sales of the on weeks", sb.IncrementalMinor/100, g.Incremental, g.IncrementalLow, g.IncrementalHigh, g.Verdict))
	out = append(out, recovered(SwitchbackName, "return per unit of spend (ROAS)", sb.ROAS, g.ROAS, g.ROASLow, g.ROASHigh, g.Verdict))
	return out, nil
}
