package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/server"
)

// mountExperiments serves experiments on the API (behind a token; a write token to
// create, start and stop) and the website assignment endpoint with its script.
func mountExperiments(s *server.Server) {
	experiment.NewServer(s.DB, experiment.ServeOptions{Logger: slog.Default()}).Register(s.Mux)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func init() {
	c := &Command{
		Name:    "experiment",
		Summary: "A/B tests: analyse a CSV of units, or create, start, stop and report stored experiments",
		Usage: `omniroi experiment analyze --input FILE.csv [--metric-type mean|proportion] [--control NAME] [--format json]
                            [--sequential] [--weights control=50,b=50] [--mde 0.1] [--alpha 0.05]
       omniroi experiment create NAME --variants control=50,b=50 --metric revenue|orders|conversion[:EVENT]|count:EVENT
                            [--unit anonymous|customer|region|day] [--hypothesis TEXT] [--guardrail METRIC]... [--mde 0.1] [--end DATE]
       omniroi experiment list [--json]
       omniroi experiment show NAME [--json]
       omniroi experiment start NAME [--json]
       omniroi experiment stop NAME [--json]
       omniroi experiment report NAME [--fixed] [--json]`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		input := fs.String("input", "", "analyze: CSV with columns unit,variant,value and optionally pre_value ('-' reads stdin)")
		metricType := fs.String("metric-type", "", "analyze: mean or proportion (default: proportion when every value is 0 or 1)")
		control := fs.String("control", "", "analyze: the control variant (default: the one named control, else the first in the file)")
		format := fs.String("format", "table", "analyze: table or json")
		sequential := fs.Bool("sequential", false, "analyze: always-valid intervals and p-values (for a test read more than once)")
		weights := fs.String("weights", "", "analyze: planned split for the sample-ratio check, e.g. control=50,b=50 (default: equal)")
		mde := fs.Float64("mde", 0, "the smallest relative lift worth finding (default 0.1 = 10 %)")
		alpha := fs.Float64("alpha", 0, "analyze: significance level (default 0.05)")
		variants := fs.String("variants", "", "create: variants and weights, control first: control=50,b=50")
		metric := fs.String("metric", "", "create: primary metric: revenue, orders, conversion[:EVENT] or count:EVENT")
		unit := fs.String("unit", "anonymous", "create: what is randomised: anonymous (website visitors), customer, region or day")
		hypothesis := fs.String("hypothesis", "", "create: what you expect and why")
		var guardrails multiFlag
		fs.Var(&guardrails, "guardrail", "create: a metric that must not get worse (repeatable)")
		end := fs.String("end", "", "create: planned end, YYYY-MM-DD or RFC 3339 (the test stops assigning then)")
		fixed := fs.Bool("fixed", false, "report: fixed-horizon intervals (only right for the one planned look)")
		sub, pos, err := parseSub(fs, args, map[string][]int{
			"analyze": {0}, "create": {1}, "list": {0}, "show": {1}, "start": {1}, "stop": {1}, "report": {1},
		})
		if err != nil {
			return err
		}
		if sub == "analyze" {
			return experimentAnalyze(env, *input, *metricType, *control, *format, *weights, *sequential, *mde, *alpha, sf.JSON)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		now := time.Now()
		switch sub {
		case "create":
			vs, err := experiment.ParseVariants(*variants)
			if err != nil {
				return err
			}
			if *metric == "" {
				return fmt.Errorf("--metric is required (revenue, orders, conversion[:EVENT] or count:EVENT): %w", ErrUsage)
			}
			m, err := experiment.ParseMetric(*metric)
			if err != nil {
				return err
			}
			e := experiment.Experiment{Name: pos[0], Hypothesis: *hypothesis, Unit: experiment.Unit(*unit), Variants: vs, Metric: m, MDE: *mde}
			for _, g := range guardrails {
				gm, err := experiment.ParseMetric(g)
				if err != nil {
					return fmt.Errorf("guardrail: %w", err)
				}
				e.Guardrails = append(e.Guardrails, gm)
			}
			if *end != "" {
				t, err := expParseEnd(*end)
				if err != nil {
					return err
				}
				e.End = &t
			}
			out, err := experiment.Create(ctx, db, audit.ActorCLI, e)
			if err != nil {
				return err
			}
			return printExperimentDetails(env, sf.JSON, experiment.Describe(ctx, db, out, now))
		case "list":
			l, err := experiment.List(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, l, "NAME\tSTATUS\tUNIT\tVARIANTS\tMETRIC\tSTART\tEND", func(w io.Writer, e experiment.Experiment) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Status, e.Unit, expVariants(e), Clean(e.Metric.String()), expWhen(e.Start), expWhen(e.End))
			})
		case "show":
			e, err := experiment.Get(ctx, db, pos[0])
			if err != nil {
				return err
			}
			return printExperimentDetails(env, sf.JSON, experiment.Describe(ctx, db, e, now))
		case "start":
			e, err := experiment.StartPlanned(ctx, db, audit.ActorCLI, pos[0], now)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, e)
			}
			fmt.Fprintf(env.Stdout, "experiment %s started at %s; websites get its variants from GET /v1/experiments\n", e.Name, expWhen(e.Start))
			return nil
		case "stop":
			e, err := experiment.Stop(ctx, db, audit.ActorCLI, pos[0], now)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, e)
			}
			fmt.Fprintf(env.Stdout, "experiment %s stopped at %s\n", e.Name, expWhen(e.End))
			return nil
		default: // report
			r, err := experiment.BuildReport(ctx, db, pos[0], experiment.ReportOptions{Now: now, Fixed: *fixed})
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, r)
			}
			return printExperimentReport(env.Stdout, r)
		}
	}
	Register(c)
}

func expParseEnd(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--end %q: want YYYY-MM-DD or an RFC 3339 time", s)
}

func expWhen(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func expVariants(e experiment.Experiment) string {
	var parts []string
	for _, v := range e.Variants {
		parts = append(parts, fmt.Sprintf("%s=%g", v.Key, v.Weight))
	}
	return Clean(strings.Join(parts, ","))
}

func printExperimentDetails(env *Env, asJSON bool, d experiment.Details) error {
	if asJSON {
		return PrintJSON(env.Stdout, d)
	}
	w := env.Stdout
	e := d.Experiment
	fmt.Fprintf(w, "experiment  %s (%s)\n", e.Name, e.Status)
	if e.Hypothesis != "" {
		fmt.Fprintf(w, "hypothesis  %s\n", Clean(e.Hypothesis))
	}
	fmt.Fprintf(w, "unit        %s\n", e.Unit.Noun())
	fmt.Fprintf(w, "variants    %s (control: %s)\n", expVariants(e), Clean(e.Variants[0].Key))
	fmt.Fprintf(w, "metric      %s\n", Clean(e.Metric.Label(e.Unit)))
	for _, g := range e.Guardrails {
		fmt.Fprintf(w, "guardrail   %s\n", Clean(g.Label(e.Unit)))
	}
	fmt.Fprintf(w, "start, end  %s, %s\n", expWhen(e.Start), expWhen(e.End))
	if d.PlanText != "" {
		fmt.Fprintf(w, "plan        %s (from the last 4 weeks: %.0f %s a day, mean %.3g, sd %.3g)\n",
			d.PlanText, d.History.UnitsPerDay, e.Unit.Noun(), d.History.Mean, d.History.SD)
	} else if d.PlanError != "" {
		fmt.Fprintf(w, "plan        %s\n", d.PlanError)
	}
	return nil
}

func printExperimentReport(w io.Writer, r experiment.Report) error {
	e := r.Experiment
	fmt.Fprintf(w, "experiment %s (%s), %s to %s (%.1f days), %d %s exposed\n", e.Name, e.Status,
		r.From.Local().Format("2006-01-02 15:04"), r.To.Local().Format("2006-01-02 15:04"), r.Days, r.Units, e.Unit.Noun())
	printExperimentMetric(w, r.Primary.Label, r.Primary.Currency, r.Primary.Result)
	for _, g := range r.Guardrails {
		fmt.Fprintf(w, "\nguardrail: ")
		printExperimentMetric(w, g.Label, g.Currency, g.Result)
	}
	fmt.Fprintf(w, "\nverdict: %s\n", Clean(r.Verdict))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", Clean(n))
	}
	return nil
}

// printMetric prints one analysis as a table with its verdict lines.
func printExperimentMetric(w io.Writer, label, currency string, res experiment.Result) {
	head := label
	if currency != "" {
		head += " (" + currency + ")"
	}
	mode := "fixed horizon"
	if res.Sequential {
		mode = "sequential, valid at any look"
	}
	fmt.Fprintf(w, "%s: %s, control %s\n", head, mode, Clean(res.Control))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tUNITS\tMEAN\tLIFT\t95 % CI\tP\tP(BEAT CONTROL)")
	for _, v := range res.Variants {
		if v.Control {
			fmt.Fprintf(tw, "%s\t%d\t%s\t(control)\t\t\t\n", Clean(v.Variant), v.N, expNum(v.Mean))
			continue
		}
		lift, ci := "-", "-"
		if v.Lift.Valid() {
			lift = expPct(float64(v.Lift))
			ci = expPct(float64(v.LiftLow)) + " to " + expPct(float64(v.LiftHigh))
		} else if v.Diff.Valid() {
			lift = fmt.Sprintf("%+.3g", float64(v.Diff))
			ci = fmt.Sprintf("%+.3g to %+.3g", float64(v.DiffLow), float64(v.DiffHigh))
		}
		p, pb := "-", "-"
		if v.PValue.Valid() {
			p = fmt.Sprintf("%.2g", float64(v.PValue))
		}
		if v.ProbBeatControl.Valid() {
			pb = experiment.Chance(float64(v.ProbBeatControl))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", Clean(v.Variant), v.N, expNum(v.Mean), lift, ci, p, pb)
	}
	_ = tw.Flush()
	if res.CUPED.Applied {
		fmt.Fprintf(w, "CUPED: applied, variance reduced by %.0f %%\n", 100*float64(res.CUPED.VarianceReduction))
	} else if res.CUPED.Why != "" {
		fmt.Fprintf(w, "CUPED: not applied (%s)\n", res.CUPED.Why)
	}
	if res.SRMPValue.Valid() {
		fmt.Fprintf(w, "sample ratio check: p = %.2g\n", float64(res.SRMPValue))
	}
	if res.Correction.Method == "bonferroni" {
		fmt.Fprintf(w, "intervals and p-values Bonferroni-corrected for %d comparisons\n", res.Correction.Comparisons)
	}
	fmt.Fprintf(w, "%s\n", Clean(res.Verdict.Text))
	for _, v := range res.Variants {
		if !v.Control && v.Verdict != "" {
			fmt.Fprintf(w, "  %s: %s\n", Clean(v.Variant), Clean(v.Verdict))
		}
	}
}

func expNum(n experiment.Num) string {
	if !n.Valid() {
		return "-"
	}
	return fmt.Sprintf("%.4g", float64(n))
}

func expPct(x float64) string { return fmt.Sprintf("%+.1f %%", 100*x) }

func experimentAnalyze(env *Env, input, metricType, control, format, weights string, sequential bool, mde, alpha float64, jsonFlag bool) error {
	if input == "" {
		return fmt.Errorf("--input FILE.csv is required: %w", ErrUsage)
	}
	if format != "table" && format != "json" {
		return fmt.Errorf("--format %q: want table or json: %w", format, ErrUsage)
	}
	if metricType != "" && metricType != string(experiment.Mean) && metricType != string(experiment.Proportion) {
		return fmt.Errorf("--metric-type %q: want mean or proportion: %w", metricType, ErrUsage)
	}
	var r io.Reader = env.Stdin
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	d, err := experiment.ReadCSV(r, experiment.MetricType(metricType))
	if err != nil {
		return fmt.Errorf("%s:\n%w", input, err)
	}
	if weights != "" {
		vs, err := experiment.ParseVariants(weights)
		if err != nil {
			return err
		}
		w := map[string]float64{}
		for _, v := range vs {
			w[v.Key] = v.Weight
		}
		for i := range d.Arms {
			wt, ok := w[d.Arms[i].Name]
			if !ok {
				return fmt.Errorf("--weights has no weight for variant %q", d.Arms[i].Name)
			}
			d.Arms[i].Weight = wt
		}
	}
	res, err := experiment.Analyze(d.Arms, experiment.Options{
		Type: d.Type, Control: control, CUPED: d.HasPre, Sequential: sequential, MDE: mde, Alpha: alpha,
	})
	if err != nil {
		return err
	}
	if format == "json" || jsonFlag {
		return PrintJSON(env.Stdout, res)
	}
	label := "value per unit"
	if res.MetricType == experiment.Proportion {
		label = "conversion"
	}
	printExperimentMetric(env.Stdout, fmt.Sprintf("%s over %d units", label, d.Units), "", res)
	return nil
}
