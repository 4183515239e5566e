package web

import (
	"context"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/value"
)

// The dashboard's customer-value figures are value.Service's snapshot, the one the
// /api/v1 value routes and the CLI read (fitted once per data version, shared with the
// API through Options.Value); this file only fits the service's answers to the page's
// computing-or-stale protocol (computed).

// valueKey is the compute cache's key of the customer-value snapshot.
const valueKey = "value"

// valueFor is the snapshot of the store's customer value at its last order day; the
// period filter does not apply to it (a customer's worth is their whole history), only
// to the acquisition economics.
func (s *server) valueFor(ctx context.Context) (*value.Snapshot, stamp, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	v, at, stale, err := computedIn(ctx, s.compute, s.compute.sem, valueKey, ver, s.value.Snapshot)
	return v, stamp{at, stale}, err
}

// econFor is unit economics per acquisition channel for customers acquired in the period
// (cut at the snapshot's as-of day).
func (s *server) econFor(ctx context.Context, rg Range, v *value.Snapshot) ([]value.ChannelEconomics, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("econ|%d|%d", rg.FromMS(), rg.ToMS())
	e, _, _, err := computedIn(ctx, s.compute, s.compute.sem, key, ver, func(ctx context.Context) ([]value.ChannelEconomics, error) {
		// Acquisition period: the page's days (its end is exclusive), at most to the
		// as-of day.
		day := func(t time.Time) string { return t.In(rg.Loc).Format(time.DateOnly) }
		var from, to time.Time
		if !rg.From.IsZero() {
			from, _ = time.Parse(time.DateOnly, day(rg.From))
		}
		to, _ = time.Parse(time.DateOnly, day(rg.To.Add(-time.Millisecond)))
		if to.After(v.AsOf) {
			to = v.AsOf
		}
		if !from.IsZero() && from.After(to) {
			return []value.ChannelEconomics{}, nil
		}
		out, err := s.value.Economics(ctx, v, value.StoreEconomicsOptions{From: from, To: to})
		if err != nil {
			return nil, fmt.Errorf("unit economics: %w", err)
		}
		return out.Channels, nil
	})
	return e, err
}
