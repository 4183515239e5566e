package cli

import (
	"context"

	"github.com/omniroi/omniroi/internal/attribution"
)

func init() {
	c := &Command{
		Name:    "roi",
		Summary: "spend, attributed revenue, ROAS, ROI, CAC and conversion rates per channel and campaign",
		Usage: `omniroi roi [--from DATE --to DATE] [--model last_touch] [--format table|csv|json]
           [--lookback 30d] [--session-timeout 30m] [--conversion-events "Order Completed"] [--data DIR | --db DSN]

Compares the range (default: the 30 days up to the latest order) with the period of the same
length before it. Spend comes from imported spend rows; campaigns match case-insensitively.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(c, env)
		var sf StoreFlags
		sf.Register(fs)
		var jf journeyFlags
		jf.register(fs)
		model := fs.String("model", attribution.DefaultROIModel, "attribution model crediting revenue")
		format := fs.String("format", "table", "table, csv or json")
		pos, err := idParseArgs(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return ErrUsage
		}
		if sf.JSON {
			*format = "json"
		}
		jo, cfg, err := jf.options()
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		return attribution.RunROI(ctx, db, attribution.ROIOptions{
			From: jo.From, To: jo.To, Model: *model, Config: cfg, Journeys: jo, Format: *format,
		}, env.Stdout)
	}
	Register(c)
}
