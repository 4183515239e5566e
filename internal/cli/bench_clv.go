package cli

import (
	"context"

	"github.com/omniroi/omniroi/internal/value"
)

func init() {
	bench := &Command{
		Name:    "clv",
		Summary: "fit and score time of BG/NBD + Gamma-Gamma on synthetic customers",
		Usage:   "omniroi bench clv [--customers 1000000] [--seed 1]",
	}
	bench.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(bench, env)
		n := fs.Int("customers", 1_000_000, "synthetic customers drawn from the BG/NBD process")
		seed := fs.Uint64("seed", 1, "random seed")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 || *n < 1 {
			return ErrUsage
		}
		return value.RunBenchCLV(*n, *seed, env.Stdout)
	}
	RegisterBench(bench)
}
