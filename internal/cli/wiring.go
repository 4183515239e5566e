package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/privacy"
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
	serveHooks = append(serveHooks, startProcessor, mountAPI, mountDashboard, startRecommendations, startJourneys, startSegmentFeed)
	serveHooks = append(serveHooks, startRetention)
	demoHooks = append(demoHooks, createDemoUser)
}

// startProcessor runs the event processor beside the API, woken after every commit.
func startProcessor(s *server.Server) {
	proc := identity.NewProcessor(s.DB, identity.Options{})
	s.Collect.SetOnCommit(proc.Notify)
	mountConnectors(s, proc.Notify)
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

// mountAPI mounts the JSON API: the routes of apiroutes.go, each behind its role check.
func mountAPI(s *server.Server) {
	h, err := api.NewRouter(s.DB, apiRoutes(s.DB, budgetService(s), valueService(s)))
	if err != nil {
		panic(fmt.Sprintf("API routes: %v", err)) // a declaration defect, found by every test that serves
	}
	s.Mux.Handle("/api/", h)
	mountExperiments(s) // the website's /v1/experiments and its script (experiment.go)
}

// mountConnectors mounts the shop connectors' webhooks (POST /hooks/shopify/{id},
// /hooks/woocommerce/{id}) beside the collection API: like it, they answer the shop, not a
// logged-in user or a token, and check the delivery's signature themselves.
func mountConnectors(s *server.Server, notify func()) {
	h := connect.NewHandler(s.DB, connect.Options{Logger: serveLog})
	h.SetOnCommit(notify)
	h.Register(s.Mux)
}

func mountDashboard(s *server.Server) {
	h, err := web.NewHandler(s.DB, web.Options{Logger: slog.Default(), Budget: budgetService(s), Value: valueService(s)})
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
	journeyServeHook(servePublicURL, serveLog)(s)
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

// startRetention applies the privacy.retention.* settings at start and then daily: old
// raw events minimised, old rejected payloads and message copies deleted.
func startRetention(s *server.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		privacy.RetentionLoop(ctx, s.DB, 24*time.Hour, slog.Default())
	}()
	s.OnShutdown(func(context.Context) {
		cancel()
		<-done
	})
}
