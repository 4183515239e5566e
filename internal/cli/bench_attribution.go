package cli

import (
	"context"
	"fmt"

	"github.com/omniroi/omniroi/internal/attribution"
)

func init() {
	bench := &Command{
		Name:    "attribution",
		Summary: "attribution model speed on synthetic journeys (mean 4 touches, 12 channels)",
		Usage:   "omniroi bench attribution [--journeys 10000000] [--json]",
	}
	bench.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(bench, env)
		n := fs.Int("journeys", 10_000_000, "synthetic journeys")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 || *n < 1 {
			return ErrUsage
		}
		r, err := attribution.BenchAttribution(*n)
		if err != nil {
			return err
		}
		if *asJSON {
			return PrintJSON(env.Stdout, r)
		}
		fmt.Fprint(env.Stdout, r.String())
		return nil
	}
	RegisterBench(bench)
}
