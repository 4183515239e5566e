package cli

import (
	"context"
	"fmt"

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
		fs, sf := storeFlagSet(c, env)
		var jf journeyFlags
		jf.register(fs)
		model := fs.String("model", attribution.DefaultROIModel, "attribution model crediting revenue")
		jo, cfg, err := jf.parse(fs, args, sf)
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := ensurePaths(ctx, env, db); err != nil {
			return err
		}
		rep, err := attribution.NewService(db).ROI(ctx, attribution.ROIQuery{From: jo.From, To: jo.To, Model: *model, Config: cfg, Paths: jo})
		if err != nil {
			return fmt.Errorf("roi: %w", err)
		}
		return writeROI(env.Stdout, jf.format, rep)
	}
	Register(c)
}
