package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// pathsLeaseTTL is how long the processor lease is held while a command builds the
// paths table (the build does not renew it; a large store takes minutes).
const pathsLeaseTTL = 15 * time.Minute

// ensurePaths builds the derived paths table once when the store's is missing or in an
// older format (an upgraded store, before a server has run), saying so on stderr: without
// it every path would be computed from the event tables, which takes minutes at 100,000
// people. When a running server holds the processor lease, the server builds it and this
// run computes paths from the tables.
func ensurePaths(ctx context.Context, env *Env, db *store.DB) error {
	if ok, err := pathstore.Ready(ctx, db); err != nil || ok {
		return err
	}
	fmt.Fprintln(env.Stderr, "omniroi: the paths table is missing or from an older version; building it once from the event tables (minutes on a large store)...")
	start := time.Now()
	built, err := identity.NewProcessor(db, identity.Options{Logger: env.Log, LeaseTTL: pathsLeaseTTL}).EnsurePaths(ctx)
	switch {
	case errors.Is(err, identity.ErrLeaseHeld):
		fmt.Fprintln(env.Stderr, "omniroi: a running server holds the processor lease and builds the paths table; this run computes paths from the event tables")
		return nil
	case err != nil:
		return fmt.Errorf("build the paths table: %w", err)
	case built:
		fmt.Fprintf(env.Stderr, "omniroi: paths table built in %s\n", time.Since(start).Round(time.Second))
	}
	return nil
}
