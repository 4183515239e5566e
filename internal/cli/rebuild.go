package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

func init() {
	c := &Command{
		Name:    "rebuild",
		Summary: "rebuild customers, identities, touchpoints and orders from the event log",
		Usage:   "omniroi rebuild [--rules FILE] [--data DIR | --db DSN] [--json]",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		rules := StringFlag(fs, "rules", "", "channel rules file (default: the built-in rules)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		start := time.Now()
		p := identity.NewProcessor(db, identity.Options{RulesFile: *rules, Logger: env.Log})
		if err := p.Rebuild(ctx); err != nil {
			if errors.Is(err, identity.ErrLeaseHeld) {
				return fmt.Errorf("cannot rebuild while a server runs on this data: %w", err)
			}
			return err
		}
		// The dashboard's stored analyses describe the derived rows that were replaced (a
		// rebuild can number customers anew under the same data version).
		if err := db.Write(ctx, func(tx *store.Tx) error { _, err := store.ClearSnapshots(ctx, tx); return err }); err != nil {
			return err
		}
		// Products and product interactions seen in events (trust follows the source kinds).
		if err := catalog.Rebuild(ctx, db); err != nil {
			return err
		}
		took := time.Since(start)
		s, err := identity.Stats(ctx, db)
		if err != nil {
			return err
		}
		if sf.JSON {
			return PrintJSON(env.Stdout, map[string]any{"seconds": took.Seconds(), "stats": s})
		}
		rate := float64(s.ProcessedSeq) / max(took.Seconds(), 1e-9)
		fmt.Fprintf(env.Stdout, "rebuilt from %d events in %s (%.0f events/s): %d customers, %d identities, %d touchpoints, %d orders, %d conflicts\n",
			s.Events, took.Round(time.Millisecond), rate, s.Customers, s.Identities, s.Activity, s.Orders, s.Conflicts)
		return nil
	}
	Register(c)
}
