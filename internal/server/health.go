package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store"
)

// healthTimeout bounds one check; healthFresh is how long a result is reused, so that a
// probe every few seconds from several monitors costs at most one write per second.
const (
	healthTimeout = 2 * time.Second
	healthFresh   = time.Second
)

// healthCheck runs the store checks behind /healthz, at most one at a time.
type healthCheck struct {
	mu  sync.Mutex // held while checking: concurrent requests wait for one result
	at  time.Time
	err error
}

func (c *healthCheck) check(ctx context.Context, db *store.DB, col *collect.Handler) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < healthFresh {
		return c.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
	defer cancel()
	c.err = probe(ctx, db, col)
	c.at = time.Now()
	return c.err
}

func probe(ctx context.Context, db *store.DB, col *collect.Handler) error {
	if err := db.R.PingContext(ctx); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := db.ProbeWrite(ctx); err != nil {
		return err
	}
	if col != nil {
		return col.CommitHealth(time.Minute)
	}
	return nil
}
