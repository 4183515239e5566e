package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/goals"
)

func init() {
	c := &Command{
		Name:    "goal",
		Summary: "goals (a metric, a target, a date) tracked against a forecast; channel dependency and industry benchmarks",
		Usage: `omniroi goal add NAME --metric revenue|orders|new_customers --target AMOUNT --by DAY [--from DAY]
       omniroi goal list [--format table|csv|json]
       omniroi goal remove NAME
       omniroi goal resilience [--from DAY --to DAY] [--format table|json]

A goal counts its metric from --from (default: today) through --by, both days included, in
the business time zone. list says for each goal what is counted so far, what the forecast
(weekly Holt-Winters) expects by the date with an 80 % interval, and how likely the target
is: "on track" at 50 % or more, "at risk" below. resilience shows how revenue is spread
over channels (1 − HHI) and the shop's email, SMS and conversion rates beside broad
industry averages. docs/budget.md ("Goals") has the details.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		metric := fs.String("metric", goals.MetricRevenue, "add: revenue, orders or new_customers")
		target := fs.String("target", "", "add: the target: an amount in the business currency for revenue, a count otherwise")
		by := fs.String("by", "", "add: the day the target should be reached by (YYYY-MM-DD, included)")
		from := fs.String("from", "", "add: the first day counted (default today); resilience: the first day")
		to := fs.String("to", "", "resilience: the last day, included (default: the day of the latest order)")
		format := fs.String("format", "table", "table, csv or json")
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "list": {0}, "remove": {1}, "resilience": {0}})
		if err != nil {
			return err
		}
		f := *format
		if sf.JSON {
			f = "json"
		}
		if f != "table" && f != "csv" && f != "json" || sub == "resilience" && f == "csv" {
			return fmt.Errorf("--format %q: want table, csv or json (resilience: table or json)", *format)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "add":
			today, err := goals.Today(ctx, db)
			if err != nil {
				return err
			}
			g, err := goals.Parse(ctx, db, goals.Input{Name: pos[0], Metric: *metric, Target: *target, From: *from, By: *by}, today)
			if err != nil {
				return err
			}
			if err := goals.Add(ctx, db, g, audit.ActorCLI); err != nil {
				return err
			}
			sts, err := goals.Track(ctx, db, []goals.Goal{g}, time.Time{})
			if err != nil {
				return err
			}
			return printGoals(env.Stdout, sts, f)
		case "list":
			gs, err := goals.List(ctx, db)
			if err != nil {
				return err
			}
			sts, err := goals.Track(ctx, db, gs, time.Time{})
			if err != nil {
				return err
			}
			return printGoals(env.Stdout, sts, f)
		case "remove":
			if err := goals.Remove(ctx, db, pos[0], audit.ActorCLI); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "removed goal %s\n", Clean(pos[0]))
			return nil
		}
		// resilience
		fromT, err := attribution.ParseDate(*from)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		toT, err := attribution.ParseDate(*to)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		fromT, toT = goals.Window(fromT, toT)
		r, err := goals.ResilienceOf(ctx, db, fromT, toT)
		if err != nil {
			return err
		}
		if f == "json" {
			return PrintJSON(env.Stdout, r)
		}
		return printResilience(env.Stdout, r)
	}
	Register(c)
}

func printGoals(w io.Writer, sts []goals.Status, format string) error {
	switch format {
	case "json":
		if sts == nil {
			sts = []goals.Status{}
		}
		return PrintJSON(w, sts)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"name", "metric", "target", "currency", "from", "by", "as_of", "actual", "expected", "expected_low", "expected_high", "probability", "status", "text"})
		num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
		for _, s := range sts {
			p := ""
			if s.Probability != nil {
				p = strconv.FormatFloat(*s.Probability, 'f', 3, 64)
			}
			_ = cw.Write([]string{s.Name, s.Metric, num(s.Target), s.Currency, s.FromDay, s.ByDay, s.AsOf, num(s.Actual),
				num(s.Expected), num(s.Low), num(s.High), p, s.Status, s.Text})
		}
		cw.Flush()
		return cw.Error()
	}
	if len(sts) == 0 {
		_, err := fmt.Fprintln(w, "No goals. Add one: omniroi goal add NAME --metric revenue --target AMOUNT --by YYYY-MM-DD")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMETRIC\tFROM\tBY\tSTATUS\tPROBABILITY")
	for _, s := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", Clean(s.Name), s.Metric, s.FromDay, s.ByDay, s.Status, s.Chance())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range sts {
		fmt.Fprintf(w, "\n%s: %s\n", Clean(s.Name), s.Text)
		for _, x := range s.Warnings {
			fmt.Fprintf(w, "  note: %s\n", x)
		}
	}
	return nil
}

func printResilience(w io.Writer, r goals.Resilience) error {
	d := r.Diversification
	fmt.Fprintf(w, "%s to %s, revenue by channel (%s credit)\n", r.From, r.To, d.Model)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CHANNEL\tREVENUE\tSHARE\t")
	for _, c := range d.Channels {
		fmt.Fprintf(tw, "%s\t%s\t%.1f %%\t\n", Clean(c.Channel), goals.FormatMoney(c.Revenue, d.Currency), c.Share*100)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n", d.Text)
	if d.Warning != "" {
		fmt.Fprintf(w, "WARNING: %s\n", d.Warning)
	}
	fmt.Fprintf(w, "\nIndustry benchmarks\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tTHIS SHOP\tINDUSTRY\tSOURCE")
	for _, c := range r.Benchmarks {
		own := "no data"
		if c.Own != nil {
			own = fmt.Sprintf("%.1f %%", *c.Own*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s, %d\n", c.Label, own, c.BenchmarkValue(), c.Source, c.Year)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n", r.Note)
	return err
}
