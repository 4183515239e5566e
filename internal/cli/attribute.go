package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
)

// journeyFlags are the flags attribute and roi share.
type journeyFlags struct {
	from, to, lookback, session, halfLife, weights, events, valueProp, format string
	order                                                                     int
}

func (jf *journeyFlags) register(fsReg interface {
	StringVar(p *string, name, value, usage string)
	IntVar(p *int, name string, value int, usage string)
}) {
	fsReg.StringVar(&jf.from, "from", "", "first day of conversions, YYYY-MM-DD (UTC)")
	fsReg.StringVar(&jf.to, "to", "", "day after the last day of conversions, YYYY-MM-DD (exclusive)")
	fsReg.StringVar(&jf.lookback, "lookback", "30d", "touches at most this long before a conversion (e.g. 30d, 7d, 12h)")
	fsReg.StringVar(&jf.session, "session-timeout", "30m", "inactivity that ends a visit")
	fsReg.StringVar(&jf.halfLife, "half-life", "7d", "time_decay half-life")
	fsReg.StringVar(&jf.weights, "weights", "", "custom model weights, e.g. 0.4,0.2,0.4")
	fsReg.StringVar(&jf.events, "conversion-events", attribution.OrderCompleted, "comma-separated conversion event names (Order Completed is read from the orders table, net of refunds)")
	fsReg.StringVar(&jf.valueProp, "value-property", attribution.DefaultValueProperty, "property holding the value of conversion events other than Order Completed")
	fsReg.IntVar(&jf.order, "order", 1, "markov chain order (1 to 4)")
	fsReg.StringVar(&jf.format, "format", "table", "table, csv or json")
}

// parse parses the flags of a command that takes no positional argument and turns the
// journey flags into options; --json stands for --format json.
func (jf *journeyFlags) parse(fs *flag.FlagSet, args []string, sf *StoreFlags) (attribution.PathOptions, attribution.Config, error) {
	if err := parseNoArgs(fs, args); err != nil {
		return attribution.PathOptions{}, attribution.Config{}, err
	}
	if sf.JSON {
		jf.format = "json"
	}
	return jf.options()
}

func (jf *journeyFlags) options() (attribution.PathOptions, attribution.Config, error) {
	var jo attribution.PathOptions
	var cfg attribution.Config
	var err error
	if jo.From, err = attribution.ParseDate(jf.from); err != nil {
		return jo, cfg, fmt.Errorf("--from: %w", err)
	}
	if jo.To, err = attribution.ParseDate(jf.to); err != nil {
		return jo, cfg, fmt.Errorf("--to: %w", err)
	}
	for _, d := range []struct {
		flag, v string
		dst     *time.Duration
	}{{"lookback", jf.lookback, &jo.Lookback}, {"session-timeout", jf.session, &jo.SessionTimeout}, {"half-life", jf.halfLife, &cfg.HalfLife}} {
		if *d.dst, err = attribution.ParseDuration(d.v); err != nil {
			return jo, cfg, fmt.Errorf("--%s: %w", d.flag, err)
		}
	}
	if cfg.CustomWeights, err = attribution.ParseWeights(jf.weights); err != nil {
		return jo, cfg, fmt.Errorf("--weights: %w", err)
	}
	cfg.Order = jf.order
	jo.ConversionEvents = attribution.SplitList(jf.events)
	jo.ValueProperty = jf.valueProp
	return jo, cfg, checkFormat("attribute", jf.format)
}

func init() {
	c := &Command{
		Name:    "attribute",
		Summary: "split conversions and revenue over marketing channels (11 attribution models)",
		Usage: `omniroi attribute [--paths FILE] [--model NAME|all] [--order K] [--format table|csv|json]
                 [--from DATE --to DATE] [--lookback 30d] [--session-timeout 30m] [--half-life 7d]
                 [--weights 0.4,0.2,0.4] [--conversion-events "Order Completed"] [--ignore-nulls]
                 [--ground-truth FILE|none] [--data DIR | --db DSN]

Without --paths, paths are built from the store's touches and orders; with --paths, a
ChannelAttribution-style path file ("-" for stdin) is read instead. --ground-truth compares the
models with a demo's ground_truth.json (default: the one in --data, when present).`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		var jf journeyFlags
		jf.register(fs)
		paths := fs.String("paths", "", "ChannelAttribution-style path file instead of the store; - is stdin")
		model := fs.String("model", "all", "model name or all: "+fmt.Sprint(attribution.ModelNames))
		ignoreNulls := fs.Bool("ignore-nulls", false, "markov: leave out non-converting journeys")
		gtFlag := fs.String("ground-truth", "", "ground_truth.json to compare with; none to skip (default: DATA/ground_truth.json when present)")
		jo, cfg, err := jf.parse(fs, args, sf)
		if err != nil {
			return err
		}
		cfg.IgnoreNulls = *ignoreNulls
		var models []string
		if *model != "" {
			models = []string{*model}
		}
		if *paths != "" {
			return attributePathFile(ctx, env, *paths, models, cfg, jf.format)
		}
		gt := *gtFlag
		switch {
		case gt == "none":
			gt = ""
		case gt != "" && jf.format == "csv":
			return fmt.Errorf("--ground-truth prints with --format table or json, not csv")
		case gt == "" && jf.format != "csv":
			gt = attribution.DefaultGroundTruth(sf.Data)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := ensurePaths(ctx, env, db); err != nil {
			return err
		}
		rep, err := attribution.NewService(db).Analyze(ctx, attribution.Query{From: jo.From, To: jo.To, Paths: jo, Models: models, Config: cfg})
		if err != nil {
			return fmt.Errorf("attribute: %w", err)
		}
		var truth *attribution.GroundTruthReport
		if gt != "" {
			r, err := attribution.CompareGroundTruth(rep.Current.Results, gt)
			if err != nil {
				return fmt.Errorf("attribute: %w", err)
			}
			truth = &r
		}
		return writeAttribution(env.Stdout, jf.format, rep.Current, truth)
	}
	Register(c)
}

// attributePathFile is `omniroi attribute --paths FILE`: the file is streamed into a set
// (one entry per distinct path), the models run on it, the results are printed.
func attributePathFile(ctx context.Context, env *Env, file string, names []string, cfg attribution.Config, format string) error {
	models, err := attribution.SelectModels(names, cfg)
	if err != nil {
		return fmt.Errorf("attribute: %w", err)
	}
	var r io.Reader
	if file == "-" {
		r = env.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("attribute: %w", err)
		}
		defer f.Close()
		r = f
	}
	set, err := attribution.ReadPathSet(r)
	if err != nil {
		return fmt.Errorf("attribute: %s: %w", file, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("attribute: %w", err)
	}
	results, skipped, err := attribution.RunModels(set, models)
	if err != nil {
		return fmt.Errorf("attribute: %w", err)
	}
	switch format {
	case "csv":
		return writeModelCSV(env.Stdout, results)
	case "json":
		return PrintJSON(env.Stdout, struct {
			Results []api.ModelResult `json:"results"`
		}{api.ModelResults(results)})
	}
	if err := writeModelTable(env.Stdout, results, ""); err != nil {
		return err
	}
	if len(skipped) > 0 {
		fmt.Fprintln(env.Stdout)
		for _, sk := range skipped {
			fmt.Fprintln(env.Stdout, sk.String())
		}
	}
	return nil
}
