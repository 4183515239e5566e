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
	"github.com/omniroi/omniroi/internal/journey"
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
       omniroi experiment report NAME [--fixed] [--json]
       omniroi experiment plan-geo --channel NAME [--design regions|switchback] [--metric revenue|orders] [--target-roas 2]
                            [--spend-per-day N] [--postcode-prefix 2] [--period-days 7] [--washout 1] [--input FILE.csv] [--json]
       omniroi experiment analyze-geo --input FILE.csv --test-start DATE [--test-end DATE] [--design regions|switchback]
                            [--treatment AREA,AREA] [--period-days N] [--washout 1] [--channel NAME] [--alpha 0.05] [--format json]
       ad-channel tests: create NAME --unit region|day --channel NAME --variants control,off --metric revenue
                            [--regions "control=75,92;off=93,94"] [--postcode-prefix 2] [--period-days 7] [--washout 1]`,
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
		var geo geoFlags
		fs.StringVar(&geo.channel, "channel", "", "ad-channel tests: the channel, as named in the spend table")
		fs.StringVar(&geo.regions, "regions", "", `create, unit region: each variant's postcode areas, "control=75,92;off=93,94" (default: proposed from history)`)
		fs.IntVar(&geo.prefix, "postcode-prefix", 0, "ad-channel tests: leading postcode characters that make an area (default 2)")
		fs.IntVar(&geo.period, "period-days", 0, "switchback: days per on/off period (create, plan-geo: default 7; analyze-geo: default none, each run of one state is a period)")
		fs.IntVar(&geo.washout, "washout", -1, "switchback: days left out at the start of each period (default 1; 0 for none)")
		fs.StringVar(&geo.design, "design", "", "plan-geo, analyze-geo: regions or switchback (default: plan both; analyze regions when the file has them)")
		fs.Float64Var(&geo.targetROAS, "target-roas", 0, "plan-geo: the smallest return per unit of spend worth proving (default 2)")
		fs.Float64Var(&geo.spendPerDay, "spend-per-day", 0, "plan-geo: the channel's spend per day (default: its mean over the last 28 days)")
		fs.StringVar(&geo.testStart, "test-start", "", "analyze-geo: the first day of the test, YYYY-MM-DD")
		fs.StringVar(&geo.testEnd, "test-end", "", "analyze-geo: the last day of the test (default: the file's last day)")
		fs.StringVar(&geo.treatment, "treatment", "", "analyze-geo: the treated regions, comma-separated (else a group column)")
		sub, pos, err := parseSub(fs, args, map[string][]int{
			"analyze": {0}, "create": {1}, "list": {0}, "show": {1}, "start": {1}, "stop": {1}, "report": {1},
			"plan-geo": {0}, "analyze-geo": {0},
		})
		if err != nil {
			return err
		}
		if sub == "analyze" {
			return experimentAnalyze(env, *input, *metricType, *control, *format, *weights, *sequential, *mde, *alpha, sf.JSON)
		}
		if sub == "analyze-geo" {
			return experimentAnalyzeGeo(env, *input, geo, *alpha, *format == "json" || sf.JSON)
		}
		if sub == "plan-geo" && *input != "" {
			return experimentPlanGeoFile(env, *input, *metric, geo, sf.JSON)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		now := time.Now()
		switch sub {
		case "plan-geo":
			if geo.channel == "" {
				return fmt.Errorf("--channel is required (the channel's name in the spend table): %w", ErrUsage)
			}
			plan, err := experiment.PlanAdChannel(ctx, db, experiment.PlanRequest{Channel: geo.channel, Design: geo.design, Metric: *metric,
				PostcodePrefix: geo.prefix, PeriodDays: geo.period, Washout: geo.washoutOpt(), TargetROAS: geo.targetROAS,
				SpendPerDay: geo.spendPerDay, Seed: "plan-" + geo.channel, Now: now})
			if err != nil {
				return err
			}
			return printGeoPlan(env, sf.JSON, plan)
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
			e := experiment.Experiment{Name: pos[0], Hypothesis: *hypothesis, Unit: experiment.Unit(*unit), Variants: vs, Metric: m, MDE: *mde,
				Channel: geo.channel, Design: experiment.Design{PostcodePrefix: geo.prefix, PeriodDays: geo.period}}
			if geo.washout >= 0 {
				w := geo.washout
				e.Design.Washout = &w
			}
			if geo.regions != "" {
				if e.Design.Regions, err = experiment.ParseRegions(geo.regions); err != nil {
					return err
				}
			}
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
			r, err := experiment.BuildReport(ctx, db, pos[0], experiment.ReportOptions{Now: now, Fixed: *fixed, Journeys: journey.ExperimentReport})
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
	if e.Channel != "" {
		fmt.Fprintf(w, "channel     %s\n", Clean(e.Channel))
	}
	if len(e.Design.Regions) > 0 {
		for _, v := range e.Variants {
			fmt.Fprintf(w, "regions     %s: %s\n", Clean(v.Key), Clean(strings.Join(e.Design.Regions[v.Key], ", ")))
		}
	}
	printSchedule(w, d.Schedule)
	if d.GeoPlan != nil {
		fmt.Fprintf(w, "plan        %s (from %s to %s: %.0f %s of sales and %.0f of spend a day)\n", Clean(d.PlanText),
			d.GeoPlan.HistoryFrom, d.GeoPlan.HistoryTo, d.GeoPlan.MeanPerDay, d.GeoPlan.Currency, d.GeoPlan.SpendPerDay)
		return nil
	}
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
	if e.IsAdTest() {
		fmt.Fprintf(w, "experiment %s (%s): %s on %s\n", e.Name, e.Status, Clean(e.Channel), e.Unit.Noun())
		printSchedule(w, r.Schedule)
		if r.Geo != nil {
			printGeoResult(w, *r.Geo)
		} else {
			fmt.Fprintf(w, "verdict: %s\n", Clean(r.Verdict))
		}
		return nil
	}
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

type geoFlags struct {
	channel, regions, design, testStart, testEnd, treatment string
	prefix, period, washout                                 int
	targetROAS, spendPerDay                                 float64
}

// washoutOpt maps the flag (-1 unset, 0 none) to GeoPlanOptions' (0 default, -1 none).
func (g geoFlags) washoutOpt() int {
	switch {
	case g.washout < 0:
		return 0
	case g.washout == 0:
		return -1
	}
	return g.washout
}

func printSchedule(w io.Writer, sched []experiment.SchedulePeriod) {
	for i, p := range sched {
		state := "off"
		if p.On {
			state = "on"
		}
		head := "schedule   "
		if i > 0 {
			head = "           "
		}
		fmt.Fprintf(w, "%s %s to %s: %s (%s)\n", head, p.From, p.To, state, Clean(p.Variant))
	}
}

func printGeoPlan(env *Env, asJSON bool, g experiment.GeoPlan) error {
	if asJSON {
		return PrintJSON(env.Stdout, g)
	}
	w := env.Stdout
	cur := ""
	if g.Currency != "" {
		cur = " " + g.Currency
	}
	fmt.Fprintf(w, "history %s to %s (%d days): %.0f%s of %s a day; %s spends %.2f%s a day\n", g.HistoryFrom, g.HistoryTo, g.HistoryDays,
		g.MeanPerDay, cur, g.Metric, Clean(g.Channel), g.SpendPerDay, cur)
	for _, d := range g.Designs {
		fmt.Fprintf(w, "\n%s:\n", d.Design)
		if !d.Available {
			fmt.Fprintf(w, "  not possible: %s\n", Clean(d.Why))
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  DAYS\tDETECTS ROAS ≥\tDETECTS LIFT ≥\tSPEND MOVED")
		for _, x := range d.Durations {
			mark := ""
			if x.Days == d.Days {
				mark = "  <- proposed"
			}
			fmt.Fprintf(tw, "  %d\t%.2f\t%.1f %%\t%.0f%s\n", x.Days, x.MDEROAS, 100*x.MDELift, x.SpendMoved, mark)
		}
		_ = tw.Flush()
		if d.Placebo.Windows > 0 {
			fmt.Fprintf(w, "  placebo check on the history: %d of %d fake tests called an effect\n", d.Placebo.FalseAlarms, d.Placebo.Windows)
		}
		fmt.Fprintf(w, "  %s\n", Clean(d.Text))
	}
	fmt.Fprintf(w, "\nplan: %s\n", Clean(g.Text))
	return nil
}

func printGeoResult(w io.Writer, g experiment.GeoResult) {
	fmt.Fprintf(w, "%s, test %s to %s (%d days) after %d days of history\n", g.Method, g.From, g.To, g.TestDays, g.PreDays)
	fmt.Fprintf(w, "incremental  %.0f (%.0f %% CI %.0f to %.0f)\n", float64(g.Incremental), 100*g.Level, float64(g.IncrementalLow), float64(g.IncrementalHigh))
	if g.Lift.Valid() {
		fmt.Fprintf(w, "lift         %s (%s to %s)\n", expPct(float64(g.Lift)), expPct(float64(g.LiftLow)), expPct(float64(g.LiftHigh)))
	}
	if g.SpendChange.Valid() {
		fmt.Fprintf(w, "spend moved  %.2f\n", float64(g.SpendChange))
	}
	if g.ROAS.Valid() {
		fmt.Fprintf(w, "ROAS         %.2f (%.2f to %.2f)\n", float64(g.ROAS), float64(g.ROASLow), float64(g.ROASHigh))
	}
	if g.PValue.Valid() {
		fmt.Fprintf(w, "p            %.2g\n", float64(g.PValue))
	}
	if g.Placebo.Windows > 0 {
		fmt.Fprintf(w, "placebo      %d of %d fake tests before the test called an effect\n", g.Placebo.FalseAlarms, g.Placebo.Windows)
	} else if g.Placebo.Note != "" {
		fmt.Fprintf(w, "placebo      %s\n", Clean(g.Placebo.Note))
	}
	fmt.Fprintf(w, "verdict: %s\n", Clean(g.Verdict))
	for _, n := range g.Notes {
		fmt.Fprintf(w, "note: %s\n", Clean(n))
	}
	if g.Placebo.Note != "" && g.Placebo.Windows > 0 {
		fmt.Fprintf(w, "note: %s\n", Clean(g.Placebo.Note))
	}
}

func readGeoFile(env *Env, input string) (experiment.GeoData, error) {
	if input == "" {
		return experiment.GeoData{}, fmt.Errorf("--input FILE.csv is required: %w", ErrUsage)
	}
	var r io.Reader = env.Stdin
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return experiment.GeoData{}, err
		}
		defer f.Close()
		r = f
	}
	g, err := experiment.ReadGeoCSV(r)
	if err != nil {
		return g, fmt.Errorf("%s:\n%w", input, err)
	}
	return g, nil
}

func experimentAnalyzeGeo(env *Env, input string, geo geoFlags, alpha float64, asJSON bool) error {
	if geo.testStart == "" {
		return fmt.Errorf("--test-start DATE is required: %w", ErrUsage)
	}
	g, err := readGeoFile(env, input)
	if err != nil {
		return err
	}
	var treat []string
	if geo.treatment != "" {
		treat = strings.Split(geo.treatment, ",")
	}
	res, err := experiment.AnalyzeGeoFile(g, experiment.GeoFileOptions{TestStart: geo.testStart, TestEnd: geo.testEnd, Design: geo.design,
		Treatment: treat, Washout: geo.washout, PeriodDays: geo.period, Alpha: alpha, Channel: geo.channel})
	if err != nil {
		return err
	}
	if asJSON {
		return PrintJSON(env.Stdout, res)
	}
	printGeoResult(env.Stdout, res)
	return nil
}

func experimentPlanGeoFile(env *Env, input, metric string, geo geoFlags, asJSON bool) error {
	g, err := readGeoFile(env, input)
	if err != nil {
		return err
	}
	if metric != "" {
		g.Metric = metric
	}
	spd := geo.spendPerDay
	if spd <= 0 && g.HasSpend {
		from := max(0, g.Days-28)
		var s float64
		for _, v := range g.Spend[from:] {
			s += v
		}
		spd = s / float64(g.Days-from)
	}
	name := geo.channel
	if name == "" {
		name = "the channel"
	}
	plan, err := experiment.PlanGeo(g.Panel, experiment.GeoPlanOptions{Channel: name, SpendPerDay: spd, Design: geo.design, TargetROAS: geo.targetROAS,
		Seed: "plan-" + name, PeriodDays: geo.period, Washout: geo.washoutOpt()})
	if err != nil {
		return err
	}
	return printGeoPlan(env, asJSON, plan)
}
