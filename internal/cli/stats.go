package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/omniroi/omniroi/internal/identity"
)

func init() {
	c := &Command{
		Name:    "stats",
		Summary: "count events, customers, identities, orders and the processor's lag",
		Usage:   "omniroi stats [--data DIR | --db DSN] [--format table|csv|json] [--json]",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		format := fs.String("format", "table", "output: table, csv or json (--json is --format json)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if sf.JSON {
			*format = "json"
		}
		switch *format {
		case "table", "csv", "json":
		default:
			return fmt.Errorf("--format %q: want table, csv or json", *format)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		s, err := identity.Stats(ctx, db)
		if err != nil {
			return err
		}
		if *format == "json" {
			return PrintJSON(env.Stdout, s)
		}
		rows := []struct {
			k string
			v int64
		}{
			{"events", s.Events}, {"rejected events", s.Rejected}, {"sources", s.Sources},
			{"customers", s.Customers}, {"identities", s.Identities}, {"shared identifiers", s.SharedIDs},
			{"identity conflicts", s.Conflicts}, {"merges", s.Merges}, {"touchpoints", s.Activity},
			{"orders", s.Orders}, {"refunds", s.Refunds}, {"spend rows", s.SpendRows},
			{"unidentified events", s.Unidentified}, {"unreadable orders", s.SkippedOrders},
			{"processed up to seq", s.ProcessedSeq}, {"processor lag (events)", s.Lag},
		}
		if *format == "csv" {
			cw := csv.NewWriter(env.Stdout)
			_ = cw.Write([]string{"measure", "count"})
			for _, r := range rows {
				_ = cw.Write([]string{r.k, strconv.FormatInt(r.v, 10)})
			}
			cw.Flush()
			return cw.Error()
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t  %s\n", r.v, r.k)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if s.LeaseHolder != "" {
			fmt.Fprintf(env.Stdout, "processor running in %s\n", Clean(s.LeaseHolder))
		} else if s.Lag > 0 {
			fmt.Fprintln(env.Stdout, "no processor is running: start `omniroi serve` or run `omniroi rebuild` to process the lag")
		}
		return nil
	}
	Register(c)
}
