package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/money"
)

func init() {
	c := &Command{
		Name:    "budget",
		Summary: "marketing-mix model: what each channel's spend really returns, and where the next euro should go",
		Usage: `omniroi budget fit  [--input FILE.csv --date COL --target COL --spend COL,COL,... [--controls COL,...]]
                    [--from DAY --to DAY] [--format table|csv|json]
       omniroi budget plan [same input flags] [--total AMOUNT] [--min CH=AMOUNT] [--max CH=AMOUNT]
                    [--lock CH] [--margin 0.4] [--format table|csv|json]

Without --input both read the store: spend per day and channel from the imported spend, and
the target per day from the orders: --target revenue (default), orders, new_customers or
first_year_value. Amounts (--total, --min, --max) are over the model's window, like the
current spend they are compared with. docs/budget.md has the model and the JSON fields.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		var in budgetInput
		in.register(fs)
		total := fs.String("total", "", "plan: the budget over the window (default: the window's actual spend)")
		var mins, maxs, locks listFlag
		fs.Var(&mins, "min", "plan: a channel's minimum spend over the window, CH=AMOUNT (repeat for more channels)")
		fs.Var(&maxs, "max", "plan: a channel's maximum spend over the window, CH=AMOUNT (repeat)")
		fs.Var(&locks, "lock", "plan: keep this channel's spend as it is (repeat)")
		margin := fs.Float64("margin", 0, "plan: maximise profit = margin × target − spend instead of the target (e.g. 0.4 for a 40 % gross margin)")
		sub, _, err := parseSub(fs, args, map[string][]int{"fit": {0}, "plan": {0}})
		if err != nil {
			return err
		}
		format, err := in.formatOf(sf)
		if err != nil {
			return err
		}
		po := mix.PlanOptions{Margin: *margin, Locked: locks}
		if *total != "" {
			if po.Total, err = parseBudgetAmount(*total); err != nil {
				return fmt.Errorf("--total: %w", err)
			}
			if po.Total <= 0 {
				return errors.New("--total: the budget must be more than 0")
			}
		}
		if po.Min, err = parseChannelAmounts("min", mins); err != nil {
			return err
		}
		if po.Max, err = parseChannelAmounts("max", maxs); err != nil {
			return err
		}
		series, err := in.load(ctx, sf)
		if err != nil {
			return err
		}
		opt, err := in.options()
		if err != nil {
			return err
		}
		units := mix.Units{Currency: series.Currency, Money: series.Money}
		units.Format = func(v float64) string { return formatBudgetMoney(v, series.Currency) }
		opt.Money = units.Format
		if len(opt.Calibrations) == 0 {
			opt.Calibrations = in.stored
		}
		model, err := mix.Fit(ctx, series.Data, opt)
		if err != nil {
			return err
		}
		if sub == "fit" {
			rep := model.Report(series.Target, units)
			rep.Warnings = append(rep.Warnings, series.Notes...)
			return printBudgetFit(env.Stdout, rep, units, format)
		}
		plan, err := model.Plan(po)
		if err != nil {
			return err
		}
		rep := plan.Report(model, series.Target, units)
		return printBudgetPlan(env.Stdout, rep, units, format)
	}
	Register(c)
}

// budgetInput is the input flags fit and plan share.
type budgetInput struct {
	input, date, target, spend, controls *string
	from, to, format, granularity        *string
	uncertainty, calibration             *string
	// stored are the store's finished ad-channel tests as calibrations (without --input);
	// they calibrate the fit unless --calibration names a file.
	stored []mix.Calibration
}

func (b *budgetInput) register(fs *flag.FlagSet) {
	b.input = fs.String("input", "", "read the series from this CSV file (one row per day or week) instead of the store")
	b.date = fs.String("date", "date", "--input: the date column (YYYY-MM-DD)")
	b.target = fs.String("target", "", "--input: the target column; without --input: revenue, orders, new_customers or first_year_value")
	b.spend = fs.String("spend", "", "--input: the spend columns, comma-separated (each is a channel)")
	b.controls = fs.String("controls", "", "--input: control columns (a price, a 0/1 promotion flag), comma-separated")
	b.from = fs.String("from", "", "first day of the window (YYYY-MM-DD)")
	b.to = fs.String("to", "", "last day of the window, inclusive (YYYY-MM-DD)")
	b.format = fs.String("format", "table", "table, csv or json")
	b.granularity = fs.String("granularity", "", "day or week (default: chosen by the data's size)")
	b.uncertainty = fs.String("uncertainty", mix.Laplace, "laplace or bootstrap (docs/budget.md)")
	b.calibration = fs.String("calibration", "", `JSON file of experiment results: [{"channel":"Paid Social","roas":0.8,"low":0.5,"high":1.1}]`)
}

func (b *budgetInput) formatOf(sf *StoreFlags) (string, error) {
	f := *b.format
	if sf.JSON {
		f = "json"
	}
	switch f {
	case "table", "csv", "json":
		return f, nil
	}
	return "", fmt.Errorf("--format %q: want table, csv or json", f)
}

func (b *budgetInput) options() (mix.Options, error) {
	var o mix.Options
	switch *b.granularity {
	case "":
	case "day":
		o.Granularity = mix.Day
	case "week":
		o.Granularity = mix.Week
	default:
		return o, fmt.Errorf("--granularity %q: want day or week", *b.granularity)
	}
	o.Uncertainty = *b.uncertainty
	if *b.calibration != "" {
		raw, err := os.ReadFile(*b.calibration)
		if err != nil {
			return o, fmt.Errorf("--calibration: %w", err)
		}
		if err := json.Unmarshal(raw, &o.Calibrations); err != nil {
			return o, fmt.Errorf("--calibration %s: %w", *b.calibration, err)
		}
	}
	return o, nil
}

// load reads the series from --input or the store, windowed by --from/--to.
func (b *budgetInput) load(ctx context.Context, sf *StoreFlags) (mix.Series, error) {
	from, err := attribution.ParseDate(*b.from)
	if err != nil {
		return mix.Series{}, fmt.Errorf("--from: %w", err)
	}
	to, err := attribution.ParseDate(*b.to)
	if err != nil {
		return mix.Series{}, fmt.Errorf("--to: %w", err)
	}
	if *b.input == "" {
		if *b.spend != "" || *b.controls != "" {
			return mix.Series{}, errors.New("--spend and --controls name columns of an --input file")
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return mix.Series{}, err
		}
		defer db.Close()
		series, err := mix.LoadStore(ctx, db, mix.StoreOptions{Target: *b.target, From: from, To: to})
		if err != nil {
			return series, err
		}
		// The same calibrations the dashboard's and the API's model use (mix.Service).
		cals, notes, err := mix.StoredCalibrations(ctx, db, time.Now(), series.Data.Channels)
		if err != nil {
			return series, err
		}
		b.stored = cals
		series.Notes = append(series.Notes, notes...)
		return series, nil
	}
	if *b.target == "" || *b.spend == "" {
		return mix.Series{}, errors.New("--input needs --target COL and --spend COL,COL,...")
	}
	f, err := os.Open(*b.input)
	if err != nil {
		return mix.Series{}, err
	}
	defer f.Close()
	d, err := mix.ReadCSV(f, mix.CSVColumns{Date: *b.date, Target: *b.target,
		Spend: attribution.SplitList(*b.spend), Controls: attribution.SplitList(*b.controls)})
	if err != nil {
		return mix.Series{}, fmt.Errorf("%s: %w", *b.input, err)
	}
	if !from.IsZero() || !to.IsZero() {
		if !to.IsZero() {
			to = to.AddDate(0, 0, 1)
		}
		d = d.Window(from, to)
	}
	// A file's target may be money or a count; its amounts have no currency. They are
	// printed as plain numbers with two decimals.
	return mix.Series{Data: d, Target: *b.target, Money: true}, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func parseChannelAmounts(name string, vals []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, v := range vals {
		ch, amt, ok := strings.Cut(v, "=")
		ch = strings.TrimSpace(ch)
		if !ok || ch == "" {
			return nil, fmt.Errorf("--%s %q: want CHANNEL=AMOUNT", name, v)
		}
		a, err := parseBudgetAmount(amt)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", name, v, err)
		}
		out[ch] = a
	}
	return out, nil
}

func parseBudgetAmount(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not an amount ≥ 0", s)
	}
	return v, nil
}

// formatBudgetMoney writes an amount with the currency's real minor unit and thousands
// separators: €1,234.50, ¥1,235, 1,234.500 KWD; without a currency, a plain 1,234.50.
func formatBudgetMoney(v float64, currency string) string {
	exp := 2
	if currency != "" {
		exp = money.Exponent(currency)
	}
	s := money.Display(int64(math.Round(v*math.Pow10(exp))), currency)
	return strings.Replace(s, money.Minus, "-", 1)
}

func budgetTarget(v float64, u mix.Units) string {
	if u.Money {
		return u.Format(v)
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
}

func signed(s string) string {
	if strings.HasPrefix(s, "-") {
		return s
	}
	return "+" + s
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 0, 64) + " %" }

func printBudgetFit(w io.Writer, r mix.FitReport, u mix.Units, format string) error {
	switch format {
	case "json":
		return PrintJSON(w, r)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"channel", "spend", "contribution", "contribution_low", "contribution_high", "roas", "roas_low", "roas_high",
			"marginal_roas", "share_of_media", "identifiable"})
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		for _, c := range r.Channels {
			_ = cw.Write([]string{Clean(c.Channel), f(c.Spend), f(c.Contribution), f(c.ContributionLow), f(c.ContributionHigh),
				f(c.ROAS), f(c.ROASLow), f(c.ROASHigh), f(c.MarginalROAS), f(c.ShareOfMedia), strconv.FormatBool(c.Identifiable)})
		}
		cw.Flush()
		return cw.Error()
	}
	cur := r.Currency
	if cur == "" {
		cur = "(no currency)"
	}
	fmt.Fprintf(w, "Budget model of %s, %s to %s (%d days, one row per %s, %s), %s\n\n", Clean(r.Target), r.From, r.To, r.Days, r.Granularity, r.Form, cur)
	lv := fmt.Sprintf("%.0f %%", 100*r.Level)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CHANNEL\tSPEND\tCONTRIBUTION (%s INTERVAL)\tROAS (%s INTERVAL)\tMARGINAL ROAS\tSHARE OF MEDIA\t\n", lv, lv)
	for _, c := range r.Channels {
		note := ""
		if !c.Identifiable {
			note = "not identifiable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (%s – %s)\t%.2f (%.2f – %.2f)\t%.2f\t%s\t%s\n", Clean(c.Channel), u.Format(c.Spend),
			budgetTarget(c.Contribution, u), budgetTarget(c.ContributionLow, u), budgetTarget(c.ContributionHigh, u),
			c.ROAS, c.ROASLow, c.ROASHigh, c.MarginalROAS, pct(c.ShareOfMedia), note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nBaseline (what the target would be without the channels): %s (%s interval %s – %s) of %s in all.\n",
		budgetTarget(r.Baseline, u), lv, budgetTarget(r.BaselineLow, u), budgetTarget(r.BaselineHi, u), budgetTarget(r.Total, u))
	fit := fmt.Sprintf("Fit: R² %.2f", r.Fit.R2)
	if r.Fit.MAPEHoldout != nil {
		unit := r.Granularity
		fit += fmt.Sprintf("; fitted without the last %d %ss, it missed them by %.1f %% on average (MAPE)", r.Fit.HoldoutPeriods, unit, 100**r.Fit.MAPEHoldout)
	}
	fmt.Fprintln(w, fit+".")
	printWarnings(w, r.Warnings)
	return nil
}

func printBudgetPlan(w io.Writer, r mix.PlanReport, u mix.Units, format string) error {
	switch format {
	case "json":
		return PrintJSON(w, r)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"channel", "current", "recommended", "current_contribution", "recommended_contribution", "min", "max", "locked"})
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		for _, c := range r.Channels {
			_ = cw.Write([]string{Clean(c.Channel), f(c.Current), f(c.Recommended), f(c.CurrentContribution), f(c.RecommendedContribution),
				f(c.Min), f(c.Max), strconv.FormatBool(c.Locked)})
		}
		cw.Flush()
		return cw.Error()
	}
	gu := u
	what := r.Target
	if r.Margin > 0 {
		gu.Money = true
		what = fmt.Sprintf("profit (%.0f %% margin × %s − spend)", 100*r.Margin, r.Target)
	}
	fmt.Fprintf(w, "Budget plan for %s over %d days (%s to %s): budget %s\n\n", Clean(what), r.Days, r.From, r.To, u.Format(r.Total))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tCURRENT\tRECOMMENDED\tCHANGE\tCONTRIBUTION NOW\tCONTRIBUTION PLANNED\t")
	for _, c := range r.Channels {
		note := ""
		if c.Locked {
			note = "locked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", Clean(c.Channel), u.Format(c.Current), u.Format(c.Recommended),
			signed(u.Format(c.Recommended-c.Current)), budgetTarget(c.CurrentContribution, u), budgetTarget(c.RecommendedContribution, u), note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lv := fmt.Sprintf("%.0f %%", 100*r.Level)
	fmt.Fprintf(w, "\nExpected gain: %s over the %d days (%s interval %s to %s); the plan does better than the current spend in %s of the model's draws.\n",
		signed(budgetTarget(r.ExpectedGain, gu)), r.Days, lv, signed(budgetTarget(r.ExpectedGainLow, gu)), signed(budgetTarget(r.ExpectedGainHigh, gu)), pct(r.ProbabilityOfGain))
	if len(r.Moves) > 0 {
		fmt.Fprintln(w, "\nMoves:")
		for _, mv := range r.Moves {
			fmt.Fprintf(w, "  %s\n", Clean(mv.Text))
		}
	} else {
		fmt.Fprintln(w, "\nThe current split is already the best the model can find within the limits.")
	}
	printWarnings(w, r.Warnings)
	return nil
}

func printWarnings(w io.Writer, ws []string) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintln(w, "\nWarnings:")
	for _, s := range ws {
		fmt.Fprintf(w, "  - %s\n", Clean(s))
	}
}
