package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
)

func init() {
	c := &Command{
		Name:    "journey",
		Summary: "automate journeys: templates, apply, list, show, report, run",
		Usage: `omniroi journey templates
omniroi journey apply TEMPLATE|FILE      (a built-in name, or a YAML/JSON document)
omniroi journey apply TEMPLATE --set holdout=20% --set name=cart-eu
                                         (a built-in with chosen settings; templates --json lists them)
omniroi journey validate FILE            (compile and print the plan, store nothing)
omniroi journey list
omniroi journey show NAME                (plan with counts per step and the latest decisions)
omniroi journey decisions NAME [RUN_ID] [--limit 50]  (why each channel and send time was chosen)
omniroi journey report NAME [--window 7d] [--cost email=0,sms=5,push=0] [--from DAY] [--to DAY] [--all-runs]
                                         (--from/--to: runs started on those days, inclusive)
omniroi journey enable|disable NAME
omniroi journey policy [FILE]            (show, or set from YAML, the workspace guardrails)
omniroi journey run [--once]             (run the engine without the web server)
Flags: --data, --db, --json; run also takes --base-url and the OMNIROI_SMTP_URL,
OMNIROI_SMS_URL, OMNIROI_PUSH_URL, OMNIROI_WEBHOOK_SECRET variables.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		return runJourney(ctx, env, c, args)
	}
	Register(c)
	RegisterBench(journeysBenchCommand())
}

// journeyCmdFlags are the flags of omniroi journey's subcommands.
type journeyCmdFlags struct {
	window, cost, from, to string
	allRuns, once          bool
	limit                  int
	sets                   map[string]string // apply --set KEY=VALUE
	baseURL                string
}

// runJourney runs omniroi journey SUBCOMMAND.
func runJourney(ctx context.Context, env *Env, c *Command, args []string) error {
	ctx = audit.WithActor(ctx, audit.ActorCLI) // apply, enable, disable and policy are audited
	fs, sf := storeFlagSet(c, env)
	window := fs.String("window", "7d", "report: an order this long after the first message (with --all-runs: after entry) counts as a conversion")
	allRuns := fs.Bool("all-runs", false, "report: compare every run from its entry, not only the runs that reached a message")
	cost := fs.String("cost", "", "report: cost per delivered send in minor units, e.g. email=0,sms=5 (default: the journeys.cost.* settings)")
	from := fs.String("from", "", "report: first day of the runs compared, YYYY-MM-DD in the business time zone (default: the first run)")
	to := fs.String("to", "", "report: last day of the runs compared, YYYY-MM-DD, inclusive (default: today)")
	once := fs.Bool("once", false, "run: do the work due now, then exit")
	limit := fs.Int("limit", 50, "decisions: how many to list")
	sets := map[string]string{}
	fs.Func("set", "apply: a built-in journey's setting, KEY=VALUE (repeatable; e.g. holdout=20%, steps[2].wait=2d)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%q is not KEY=VALUE", v)
		}
		sets[strings.TrimSpace(k)] = val
		return nil
	})
	baseURL := StringFlag(fs, "base-url", "http://127.0.0.1:8080", "run: public URL for tracking and unsubscribe links")
	// Flags may come after the positional arguments: omniroi journey show cart --json.
	sub, rest, err := parseSub(fs, args, map[string][]int{"templates": {0}, "validate": {1}, "apply": {1}, "list": {0}, "show": {1},
		"decisions": {1, 2}, "report": {1}, "enable": {1}, "disable": {1}, "run": {0}, "policy": {0, 1}})
	if err != nil {
		return err
	}
	switch sub {
	case "templates":
		return journeyTemplates(env, sf.JSON)
	case "validate":
		return journeyValidate(env, rest[0], sf.JSON)
	}
	db, err := sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	f := journeyCmdFlags{window: *window, cost: *cost, from: *from, to: *to, allRuns: *allRuns, once: *once, limit: *limit, sets: sets, baseURL: *baseURL}
	return journeyOnStore(ctx, env, db, sub, rest, f, sf.JSON)
}

// journeyOnStore runs the subcommands that read or change the store.
func journeyOnStore(ctx context.Context, env *Env, db *store.DB, sub string, rest []string, f journeyCmdFlags, asJSON bool) error {
	switch sub {
	case "apply":
		return journeyApply(ctx, env, db, rest[0], f.sets, asJSON)
	case "list":
		ls, err := journey.List(ctx, db)
		if err != nil {
			return err
		}
		return printRows(env, asJSON, ls, "NAME\tVERSION\tENABLED\tENTRY\tACTIVE\tRUNS\tSENT", func(w io.Writer, s journey.Summary) {
			fmt.Fprintf(w, "%s\t%d\t%v\t%s\t%d\t%d\t%d\n", Clean(s.Name), s.Version, s.Enabled, Clean(s.Entry), s.Active, s.Total, s.Sent)
		})
	case "show":
		d, err := journey.Show(ctx, db, rest[0])
		if err != nil {
			return err
		}
		if asJSON {
			return PrintJSON(env.Stdout, d)
		}
		printShow(env, d)
		return nil
	case "decisions":
		return journeyDecisions(ctx, env, db, rest, f.limit, asJSON)
	case "report":
		return journeyReport(ctx, env, db, rest[0], f, asJSON)
	case "enable", "disable":
		return journey.SetEnabled(ctx, db, rest[0], sub == "enable")
	case "run":
		return journeyRun(ctx, env, db, f.baseURL, f.once)
	case "policy":
		return journeyPolicy(ctx, env, db, rest)
	}
	return ErrUsage
}

// journeyValidate compiles a journey document and prints its plan, storing nothing.
func journeyValidate(env *Env, file string, asJSON bool) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	p, err := journey.Compile(src)
	if err != nil {
		return fmt.Errorf("%s:\n%w", file, err)
	}
	if asJSON {
		return PrintJSON(env.Stdout, p)
	}
	fmt.Fprint(env.Stdout, p.String())
	return nil
}

// journeyApply applies a journey document from a file, or a built-in template with its
// --set settings (the same function as the dashboard's form).
func journeyApply(ctx context.Context, env *Env, db *store.DB, arg string, sets map[string]string, asJSON bool) error {
	var a journey.Applied
	src, err := os.ReadFile(arg)
	if errors.Is(err, os.ErrNotExist) {
		if a, err = applyBuiltIn(ctx, db, arg, sets); err != nil {
			return err
		}
	} else if err != nil {
		return err
	} else if len(sets) > 0 {
		return errors.New("--set applies to a built-in journey, not to a file: edit the file instead")
	} else if a, err = journey.Apply(ctx, db, src); err != nil {
		return err
	}
	if asJSON {
		return PrintJSON(env.Stdout, a)
	}
	if a.Changed {
		fmt.Fprintf(env.Stdout, "journey %s: version %d applied; new runs use it, running runs keep theirs\n", a.Name, a.Version)
	} else {
		fmt.Fprintf(env.Stdout, "journey %s: unchanged (version %d)\n", a.Name, a.Version)
	}
	return nil
}

// applyBuiltIn applies the built-in journey named arg (with or without .yaml) with its
// settings; bad settings are listed one per line.
func applyBuiltIn(ctx context.Context, db *store.DB, arg string, sets map[string]string) (journey.Applied, error) {
	name := strings.TrimSuffix(arg, ".yaml")
	if _, err := journey.TemplateSource(name); err != nil {
		return journey.Applied{}, fmt.Errorf("%s is neither a file nor a built-in journey (omniroi journey templates lists them)", arg)
	}
	a, fields, err := journey.ApplyTemplate(ctx, db, name, sets)
	if err != nil {
		return a, err
	}
	if len(fields) > 0 {
		var msgs []string
		for k, m := range fields {
			msgs = append(msgs, "--set "+Clean(k)+": "+Clean(m))
		}
		sort.Strings(msgs)
		return a, errors.New(strings.Join(msgs, "\n"))
	}
	return a, nil
}

// journeyDecisions lists why each channel and send time was chosen, for a journey or one
// of its runs.
func journeyDecisions(ctx context.Context, env *Env, db *store.DB, rest []string, limit int, asJSON bool) error {
	var runID int64
	if len(rest) == 2 {
		var err error
		if runID, err = strconv.ParseInt(rest[1], 10, 64); err != nil {
			return fmt.Errorf("run id %q: %w", rest[1], err)
		}
	}
	ds, err := journey.Decisions(ctx, db, rest[0], runID, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return PrintJSON(env.Stdout, ds)
	}
	printDecisions(env, ds)
	return nil
}

// journeyReport measures a journey's effect against its holdout.
func journeyReport(ctx context.Context, env *Env, db *store.DB, name string, f journeyCmdFlags, asJSON bool) error {
	w, err := journey.ParseDays(f.window)
	if err != nil {
		return fmt.Errorf("--window: %w", err)
	}
	costs, err := journey.ParseCosts(f.cost)
	if err != nil {
		return fmt.Errorf("--cost: %w", err)
	}
	opt := journey.ReportOptions{Window: w, CostPerSend: costs, AllRuns: f.allRuns}
	if opt.From, opt.To, err = journey.ReportPeriod(ctx, db, f.from, f.to, "--from", "--to"); err != nil {
		return err
	}
	r, err := journey.Measure(ctx, db, name, opt)
	if err != nil {
		return err
	}
	if asJSON {
		return PrintJSON(env.Stdout, r)
	}
	printReport(env, r)
	return nil
}

// journeyPolicy prints the workspace guardrails, or sets them from a YAML file.
func journeyPolicy(ctx context.Context, env *Env, db *store.DB, rest []string) error {
	if len(rest) == 1 {
		src, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		wp, err := journey.ParsePolicy(src)
		if err != nil {
			return fmt.Errorf("%s:\n%w", rest[0], err)
		}
		if err := journey.SavePolicy(ctx, db, wp); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "workspace policy saved; running servers pick it up within 30 seconds")
		return nil
	}
	wp, err := journey.LoadPolicy(ctx, db)
	if err != nil {
		return err
	}
	return PrintJSON(env.Stdout, wp)
}

// journeysBenchCommand is omniroi bench journeys.
func journeysBenchCommand() *Command {
	b := &Command{
		Name:    "journeys",
		Summary: "journey runs per minute through entry, wait and send to a local sink (SQLite in a temp dir)",
		Usage:   "omniroi bench journeys [--runs 20000] [--batch 2000]",
	}
	b.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(b, env)
		runs := fs.Int("runs", 20000, "customers entering the journey")
		batch := fs.Int("batch", 2000, "engine batch size")
		if err := fs.Parse(args); err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "omniroi-bench-journeys-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			return err
		}
		defer db.Close()
		r, err := journey.Bench(ctx, db, journey.BenchOptions{Runs: *runs, Batch: *batch})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%d runs (entry, 1 h wait, email to an in-process sink) in %v: %.0f runs/min\n  entry %v, timers %v, dispatch %v\n",
			r.Runs, r.Elapsed.Round(time.Millisecond), r.RunsPerMinute, r.Entry.Round(time.Millisecond), r.Timers.Round(time.Millisecond), r.Dispatch.Round(time.Millisecond))
		return nil
	}
	return b
}

func journeyTemplates(env *Env, asJSON bool) error {
	ts := journey.Templates()
	if asJSON {
		type t struct {
			Name, Description, Document string
			Settings                    []journey.TemplateSetting
		}
		var out []t
		for _, x := range ts {
			st, err := journey.TemplateSettings(x.Name)
			if err != nil {
				return err
			}
			out = append(out, t{x.Name, x.Description, string(x.Source), st})
		}
		return PrintJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, x := range ts {
		fmt.Fprintf(tw, "%s\t%s\n", x.Name, x.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "\napply one with: omniroi journey apply NAME")
	return nil
}

func printShow(env *Env, d *journey.Detail) {
	state := "enabled"
	if !d.Enabled {
		state = "disabled"
	}
	fmt.Fprintf(env.Stdout, "%s version %d of %d, %s\n", Clean(d.Name), d.Version, d.Versions, state)
	var st []string
	for k, v := range d.Runs {
		st = append(st, fmt.Sprintf("%s %d", Clean(k), v))
	}
	sort.Strings(st)
	fmt.Fprintf(env.Stdout, "runs (this version): %s\n\n", strings.Join(st, ", "))
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTEP\tWAITING\tSENDS\tOPENED\tCLICKED\t")
	for _, s := range d.Steps {
		var sends []string
		for k, v := range s.Sends {
			if k == "suppressed" {
				for r, n := range s.Suppressed {
					sends = append(sends, fmt.Sprintf("suppressed(%s) %d", Clean(r), n))
				}
				continue
			}
			sends = append(sends, fmt.Sprintf("%s %d", Clean(k), v))
		}
		sort.Strings(sends)
		fmt.Fprintf(tw, "%d\t%s: %s\t%d\t%s\t%d\t%d\t\n", s.Index, Clean(s.ID), Clean(s.Text), s.Waiting, strings.Join(sends, ", "), s.Opened, s.Clicked)
	}
	tw.Flush()
	if len(d.Decisions) > 0 {
		fmt.Fprintln(env.Stdout, "\nlatest decisions:")
		printDecisions(env, d.Decisions)
	}
}

func printDecisions(env *Env, ds []journey.Decision) {
	for _, d := range ds {
		fmt.Fprintf(env.Stdout, "%s  run %d  customer %d  step %d  %s: %s\n", d.At.Format(time.RFC3339), d.RunID, d.CustomerID, d.Step, Clean(d.Kind), Clean(d.Text))
	}
}

func printReport(env *Env, r *journey.Report) {
	w := env.Stdout
	if r.Runs == "all" {
		fmt.Fprintf(w, "%s: all runs, conversions within %s of entry, revenue in %s (minor units)\n", Clean(r.Journey), r.Window, Clean(r.Currency))
	} else {
		fmt.Fprintf(w, "%s: runs that reached a message, conversions within %s of the first message (the holdout's would-be message), revenue in %s (minor units)\n", Clean(r.Journey), r.Window, Clean(r.Currency))
	}
	if p := r.Period; p.From != nil || p.To != nil {
		first, last := "the first run", "now"
		if p.From != nil {
			first = p.From.Format(time.DateOnly)
		}
		if p.To != nil {
			last = p.To.AddDate(0, 0, -1).Format(time.DateOnly)
		}
		fmt.Fprintf(w, "runs started %s to %s (a run may convert up to %s after the last day)\n", first, last, r.Window)
	} else {
		fmt.Fprintln(w, "runs started at any time")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tRUNS\tCONVERTED\tRATE\t95% CI (Wilson)\tREVENUE/RUN\t")
	for _, g := range []struct {
		n string
		g journey.Group
	}{{"treated", r.Treated}, {"holdout", r.Holdout}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t%.2f%% – %.2f%%\t%.1f\t\n", g.n, g.g.Runs, g.g.Converted, g.g.Rate*100, g.g.RateCI[0]*100, g.g.RateCI[1]*100, g.g.RevenuePerRun)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nconversion lift: %+.2f pp (95%% CI %+.2f to %+.2f, Newcombe)\n", r.Lift, r.LiftCI[0], r.LiftCI[1])
	if r.TooFewRuns {
		fmt.Fprintf(w, "revenue per run: %+.1f (no interval yet: treated %d of %d, holdout %d of %d runs needed for this revenue's skew)\n",
			r.RevenueDiff, r.Treated.Runs, r.Treated.MinRuns, r.Holdout.Runs, r.Holdout.MinRuns)
	} else {
		fmt.Fprintf(w, "revenue per run: %+.1f (95%% CI %+.1f to %+.1f, Welch)\n", r.RevenueDiff, r.RevenueDiffCI[0], r.RevenueDiffCI[1])
		fmt.Fprintf(w, "incremental revenue: %.0f (95%% CI %.0f to %.0f)\n", r.Incremental, r.IncrementalCI[0], r.IncrementalCI[1])
	}
	fmt.Fprintf(w, "sends: %d, cost: %d", r.Sends, r.Cost)
	if r.ROI != nil {
		fmt.Fprintf(w, ", ROI: %.2f", *r.ROI)
	}
	fmt.Fprintln(w)
	if !r.SignificantLift {
		fmt.Fprintln(w, "the lift is not significant at 95 %: the holdout may simply be too small yet")
	}
	if r.Experiment != nil {
		fmt.Fprintf(w, "\nholdout as an experiment (always-valid intervals): %s\n", Clean(r.Experiment.Verdict))
	}
	for _, t := range r.Tests {
		fmt.Fprintf(w, "\n%s %s at step %s, %d runs: ", t.Mode, Clean(t.Name), Clean(t.Step), t.Runs)
		printExperimentMetric(w, t.Primary.Label, t.Primary.Currency, t.Primary.Result)
		if t.Mode == journey.ModeOptimise {
			fmt.Fprintf(w, "%s\n", Clean(t.Verdict))
		}
		for _, n := range t.Notes {
			fmt.Fprintf(w, "note: %s\n", Clean(n))
		}
	}
}

func journeyRun(ctx context.Context, env *Env, db *store.DB, baseURL string, once bool) error {
	cfg := journey.SenderConfigFromEnv()
	cfg.NetPolicy = journey.SettingsNetPolicy(db)
	senders, err := cfg.Senders()
	if err != nil {
		return err
	}
	eng, err := journey.NewEngine(ctx, db, journey.Options{Senders: senders, BaseURL: strings.TrimSuffix(baseURL, "/"), ShopURL: os.Getenv("OMNIROI_SHOP_URL"), Logger: env.Log,
		Recommender: journeyRunRecommender(ctx, db, env.Log)})
	if err != nil {
		return err
	}
	if once {
		return eng.Drain(ctx)
	}
	env.Log.Info("journey engine running; /j/ links need `omniroi serve` to be reachable", "base_url", baseURL)
	return eng.Run(ctx)
}

// journeyServeHook starts the journey engine inside `omniroi serve` and mounts /j/
// (tracking, unsubscribe, inbound SMS, delivery reports). sc.PublicURL is serve's
// --public-url: links in messages must reach this server. rec renders recommendations in
// messages (nil: messages that ask for them leave them out).
func journeyServeHook(sc serveConfig, rec journey.Recommender) func(*server.Server) {
	return func(s *server.Server) {
		log, publicURL := sc.Log, sc.PublicURL
		if log == nil {
			log = slog.Default()
		}
		cfg := sc.Senders
		cfg.NetPolicy = journey.SettingsNetPolicy(s.DB)
		senders, err := cfg.Senders()
		if err != nil {
			log.Error("journeys disabled", "err", err)
			return
		}
		if publicURL == "" {
			log.Warn("journeys: no --public-url; tracking and unsubscribe links will point at http://127.0.0.1:8080")
			publicURL = "http://127.0.0.1:8080"
		}
		ctx, cancel := context.WithCancel(context.Background())
		eng, err := journey.NewEngine(ctx, s.DB, journey.Options{Senders: senders, BaseURL: strings.TrimSuffix(publicURL, "/"), ShopURL: sc.ShopURL, Logger: log,
			Recommender: rec})
		if err != nil {
			cancel()
			log.Error("journeys disabled", "err", err)
			return
		}
		hopt := cfg.HandlerOptions(publicURL)
		logInboundRoutes(log, hopt)
		s.Mux.Handle("/j/", journey.NewHTTPHandler(eng, hopt))
		done := make(chan struct{})
		go func() {
			defer close(done)
			eng.Run(ctx)
		}()
		s.OnShutdown(func(context.Context) {
			cancel()
			<-done
		})
	}
}

// logInboundRoutes says at start which provider routes take requests, and what turns on
// the others: a route without its secret answers 503 and processes nothing.
func logInboundRoutes(log *slog.Logger, opt journey.HandlerOptions) {
	for _, r := range journey.InboundRoutes(opt) {
		if r.On {
			log.Info("journeys: provider route on", "route", "POST "+r.Path, "checks", r.Accepts)
		} else {
			log.Warn("journeys: provider route off (answers 503, processes nothing)", "route", "POST "+r.Path, "to_enable", r.Missing)
		}
	}
}
