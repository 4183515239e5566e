package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// importFX is `omniroi import fx FILE`: daily exchange rates into fx_rates.
func importFX(ctx context.Context, env *Env, db *store.DB, path string, opt importer.Options, asJSON bool) error {
	var rep importer.Report
	var err error
	if path == "-" {
		rep, err = importer.ImportFX(ctx, db, env.Stdin, "stdin", opt)
	} else {
		rep, err = importer.ImportFXFile(ctx, db, path, opt)
	}
	if asJSON {
		out := struct {
			importer.Report
			OK    bool   `json:"ok"`
			Error string `json:"error,omitempty"`
		}{Report: rep, OK: err == nil}
		if err != nil {
			out.Error = err.Error()
		}
		if perr := PrintJSON(env.Stdout, out); perr != nil {
			return perr
		}
		return err
	}
	if err != nil {
		if errors.Is(err, importer.ErrBadRows) {
			printRowErrors(env, rep)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "fx: %d rows, %d rates new or changed, %d already there", rep.Rows, rep.Imported, rep.Duplicates)
	if rep.Rejected > 0 {
		fmt.Fprintf(env.Stdout, ", %d rows rejected", rep.Rejected)
	}
	fmt.Fprintln(env.Stdout)
	if rep.Rejected > 0 {
		printRowErrors(env, rep)
	}
	return nil
}

func init() {
	c := &Command{
		Name:    "fx",
		Summary: "show the stored exchange rates and convert an amount with them",
		Usage: "omniroi fx show [--json]\n" +
			"       omniroi fx convert AMOUNT CURRENCY [--day YYYY-MM-DD] [--to CURRENCY] [--json]\n\n" +
			"Rates come from `omniroi import fx FILE` (the ECB's daily reference rates, or\n" +
			"date,base,quote,rate). A conversion uses the latest rate on or up to fx.max_gap_days\n" +
			"(setting, default 7) before the day, directly, inverted or across the file's base\n" +
			"currency; --to defaults to the business currency (setting currency).",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		day := fs.String("day", "", "the day of the amount, YYYY-MM-DD (default today)")
		to := fs.String("to", "", "target currency (default the business currency)")
		sub, pos, err := parseSub(fs, args, map[string][]int{"show": {0}, "convert": {2}})
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if sub == "show" {
			pairs, err := commerce.RateSummary(ctx, db)
			if err != nil {
				return err
			}
			if !sf.JSON && len(pairs) == 0 {
				fmt.Fprintln(env.Stdout, "No exchange rates stored. Import a daily rates file: omniroi import fx eurofxref-hist.csv")
				return nil
			}
			return printRows(env, sf.JSON, pairs, "BASE\tQUOTE\tDAYS\tFIRST DAY\tLAST DAY\tLATEST RATE", func(w io.Writer, p commerce.PairSummary) {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", p.Base, p.Quote, p.Days, p.First, p.Last, p.Latest)
			})
		}
		cur, err := money.NormalizeCurrency(pos[1])
		if err != nil {
			return err
		}
		minor, err := money.ParseDecimal(pos[0], cur)
		if err != nil {
			return fmt.Errorf("amount %q: %w", pos[0], err)
		}
		when := time.Now()
		if *day != "" {
			if when, err = time.Parse(time.DateOnly, *day); err != nil {
				return fmt.Errorf("--day %q: want YYYY-MM-DD", *day)
			}
		}
		target := *to
		if target == "" {
			if target, err = workspace.Currency(ctx, db); err != nil {
				return err
			}
		}
		if target, err = money.NormalizeCurrency(target); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		fx, err := commerce.LoadFX(ctx, db)
		if err != nil {
			return err
		}
		conv, err := fx.Convert(money.Amount{Minor: minor, Currency: cur}, when, target)
		if err != nil {
			return err
		}
		if sf.JSON {
			return PrintJSON(env.Stdout, map[string]any{"amount": money.Format(minor, cur), "currency": cur,
				"converted": money.Format(conv.Amount.Minor, target), "to": target, "converted_minor": conv.Amount.Minor,
				"rate": conv.Rate, "rate_day": conv.RateDay, "via": conv.Via})
		}
		if !conv.Converted {
			fmt.Fprintf(env.Stdout, "%s %s (already in %s)\n", money.Format(minor, cur), cur, target)
			return nil
		}
		via := ""
		if conv.Via != "" {
			via = " via " + conv.Via
		}
		fmt.Fprintf(env.Stdout, "%s %s = %s %s (rate %s of %s%s)\n", money.Format(minor, cur), cur,
			money.Format(conv.Amount.Minor, target), target, conv.Rate, conv.RateDay, via)
		return nil
	}
	Register(c)
}
