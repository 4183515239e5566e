package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/term"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/importer"
)

func init() {
	Register(&Command{
		Name:    "import",
		Summary: "import events, orders, customers, ad spend or products from CSV/JSONL/XML (Shopify, Google Ads, Meta Ads, Google Merchant presets)",
		Usage: `omniroi import {events|orders|spend|customers|products} FILE [--format csv|jsonl|xml] [--preset NAME]
       [--source NAME] [--currency EUR] [--skip-bad] [--rejected FILE] [--json]
       omniroi import fx FILE [--currency BASE] [--skip-bad] [--json]

FILE may be gzip-compressed; "-" reads stdin (with --format).
Presets: orders: shopify, online-retail; spend: google-ads, meta-ads;
products: shopify (products or inventory export), google-merchant (TSV/CSV or XML feed, local inventory).
fx: daily exchange rates, the ECB's layout (Date,USD,JPY,... per 1 EUR, or per 1 --currency)
or date,base,quote,rate; omniroi fx show lists what is stored.
A file imports all-or-nothing unless --skip-bad; importing it again changes nothing.
Columns and examples: docs/import.md`,
		Run: runImport,
	})
}

func runImport(ctx context.Context, env *Env, args []string) error {
	c := commands["import"]
	fs, sf := storeFlagSet(c, env)
	format := fs.String("format", "", "csv or jsonl (default: from the file extension; .gz is read through)")
	preset := fs.String("preset", "", "export layout: shopify, online-retail (orders); google-ads, meta-ads (spend); shopify, google-merchant (products)")
	source := StringFlag(fs, "source", "import", "event source the imported events belong to")
	currency := fs.String("currency", "", "currency for files without a currency column, e.g. EUR")
	skipBad := fs.Bool("skip-bad", false, "import the good rows and write the bad ones to --rejected")
	rejected := fs.String("rejected", "", "where --skip-bad writes rejected rows (default FILE.rejected.csv or .jsonl)")
	pos, err := idParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return ErrUsage
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// The import's live heap is small (44 MB at 1M orders); collecting less often
		// saves ~10% CPU and a third of the wall time on 300k orders, for ~70 MB more RSS.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	db, err := sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if pos[0] == importer.KindFX {
		return importFX(ctx, env, db, pos[1], importer.Options{Currency: *currency, SkipBad: *skipBad}, sf.JSON)
	}

	opt := importer.Options{Kind: pos[0], Format: *format, Preset: *preset, Source: *source,
		Currency: *currency, SkipBad: *skipBad, RejectedPath: *rejected}
	if f, ok := env.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !sf.JSON {
		opt.Progress = env.Stderr
	}
	var rep importer.Report
	if pos[1] == "-" {
		if opt.Format == "" && opt.Kind != importer.KindProducts {
			return fmt.Errorf("reading stdin needs --format csv or --format jsonl")
		}
		rep, err = importer.Import(ctx, db, env.Stdin, "stdin", opt)
	} else {
		rep, err = importer.ImportFile(ctx, db, pos[1], opt)
	}
	// Events, orders and customers are events: without a running server nothing would turn
	// them into customers, orders and reports until the next `serve` or `rebuild`, so the
	// import processes them now, or says in one line who will.
	processed, procNote := "", ""
	if err == nil && rep.Imported > 0 && (opt.Kind == importer.KindEvents || opt.Kind == importer.KindOrders || opt.Kind == importer.KindCustomers) {
		perr := identity.NewProcessor(db, identity.Options{}).CatchUp(ctx)
		switch {
		case perr == nil:
			processed = "now"
			procNote = "processed: customers, orders and reports include the new events"
		case errors.Is(perr, identity.ErrLeaseHeld):
			processed = "by the running server"
			procNote = "the running server (omniroi serve) processes the new events in the background"
		default:
			return fmt.Errorf("imported, but processing the new events failed (omniroi rebuild retries): %w", perr)
		}
	}
	if sf.JSON {
		out := struct {
			importer.Report
			OK        bool   `json:"ok"`
			Error     string `json:"error,omitempty"`
			Processed string `json:"processed,omitempty"` // "now", "by the running server", or "" (nothing to process)
		}{Report: rep, OK: err == nil, Processed: processed}
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
	fmt.Fprintf(env.Stdout, "%s: %d rows, %d imported, %d already there", rep.Kind, rep.Rows, rep.Imported, rep.Duplicates)
	if rep.Skipped > 0 {
		fmt.Fprintf(env.Stdout, ", %d skipped", rep.Skipped)
	}
	if rep.Rejected > 0 {
		fmt.Fprintf(env.Stdout, ", %d rejected", rep.Rejected)
		if rep.RejectedPath != "" {
			fmt.Fprintf(env.Stdout, " (written to %s)", rep.RejectedPath)
		}
	}
	fmt.Fprintln(env.Stdout)
	if procNote != "" {
		fmt.Fprintln(env.Stdout, procNote)
	}
	if rep.Rejected > 0 {
		printRowErrors(env, rep)
	}
	return nil
}

func printRowErrors(env *Env, rep importer.Report) {
	const show = 10
	for i, e := range rep.Errors {
		if i == show {
			fmt.Fprintf(env.Stderr, "  ... and %d more\n", rep.Rejected-show)
			break
		}
		fmt.Fprintf(env.Stderr, "  %s\n", Clean(e.Error()))
	}
}
