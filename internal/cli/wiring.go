package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/web"
)

// Demo login, printed by `omniroi demo`. The demo listens on loopback by default and holds
// made-up data only, so a fixed, documented password is friendlier than a random one.
const (
	demoEmail    = "demo@omniroi.local"
	demoPassword = "omniroi-demo"
)

// This file wires the domains into `omniroi serve`: the event processor, the read API and
// the dashboard.
func init() {
	serveHooks = append(serveHooks, startProcessor, mountAPI, mountDashboard, startJourneys, startSegmentFeed)
	demoHooks = append(demoHooks, createDemoUser)
}

// startProcessor runs the event processor beside the API, woken after every commit.
func startProcessor(s *server.Server) {
	proc := identity.NewProcessor(s.DB, identity.Options{})
	s.Collect.SetOnCommit(proc.Notify)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := proc.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			slog.Error("event processor stopped", "err", err)
		}
	}()
	s.OnShutdown(func(context.Context) {
		cancel()
		wg.Wait()
	})
}

func mountAPI(s *server.Server) {
	s.Mux.Handle("/api/v1/", api.NewHandler(s.DB))
	attr := api.RequireToken(s.DB, attribution.NewHTTPHandler(s.DB))
	for _, p := range []string{"/api/v1/attribution", "/api/v1/attribution/", "/api/v1/roi"} {
		s.Mux.Handle(p, attr)
	}
	jr := api.RequireToken(s.DB, journey.NewAPIHandler(s.DB)) // POST needs a write token
	for _, p := range []string{"/api/v1/journeys", "/api/v1/journeys/"} {
		s.Mux.Handle(p, jr)
	}
	budget := api.RequireToken(s.DB, mix.NewHTTPHandler(budgetService(s)))
	for _, p := range []string{"/api/v1/budget/fit", "/api/v1/budget/plan"} {
		s.Mux.Handle(p, budget)
	}
	val := api.RequireToken(s.DB, value.NewHTTPHandler(s.DB))
	for _, p := range []string{"/api/v1/clv", "/api/v1/customers/{id}/value", "/api/v1/segments", "/api/v1/cohorts", "/api/v1/economics"} {
		s.Mux.Handle(p, val)
	}
}

func mountDashboard(s *server.Server) {
	h, err := web.NewHandler(s.DB, web.Options{Logger: slog.Default(), Budget: budgetService(s)})
	if err != nil {
		panic(fmt.Sprintf("dashboard templates: %v", err)) // embedded files: a build defect
	}
	s.Mux.Handle("/", h)
}

func createDemoUser(ctx context.Context, db *store.DB) ([]string, error) {
	if _, err := auth.CreateUser(ctx, db, demoEmail, demoPassword); err != nil {
		return nil, fmt.Errorf("create demo user: %w", err)
	}
	return []string{fmt.Sprintf("Dashboard login: %s / %s", demoEmail, demoPassword)}, nil
}

// servePublicURL is where customers' links (tracking, unsubscribe) point: serve's
// --public-url, or its listen address.
var servePublicURL string

// startJourneys runs the journey engine and mounts its tracking and unsubscribe routes under /j/.
func startJourneys(s *server.Server) {
	journeyServeHook(servePublicURL, slog.Default())(s)
}

// startSegmentFeed keeps segment_changes current (RFM segment and P(alive) per customer,
// refreshed when the day or the orders change), which segment-entry journeys such as
// win-back read.
func startSegmentFeed(s *server.Server) {
	f := &value.SegmentFeed{DB: s.DB, Thresholds: func(ctx context.Context) ([]float64, error) { return journey.SegmentThresholds(ctx, s.DB) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx, func(err error) { slog.Error("segment feed", "err", err) })
	}()
	s.OnShutdown(func(context.Context) {
		cancel()
		<-done
	})
}
