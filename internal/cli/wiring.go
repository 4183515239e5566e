package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/recommend"
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

// serveConfig is what `omniroi serve` wires from its flags and environment rather than
// from the store.
type serveConfig struct {
	// PublicURL is where customers' links (tracking, unsubscribe) point: serve's
	// --public-url, or its listen address.
	PublicURL string
	// Senders configures the journeys' channels (journey.SenderConfigFromEnv for serve;
	// the demo points them at its outbox).
	Senders journey.SenderConfig
	// ShopURL is the shop's website for template links (OMNIROI_SHOP_URL); empty: the
	// shop_url setting.
	ShopURL string
	// Log reports what the hooks turned on at start.
	Log *slog.Logger
}

// serveConfigFromEnv is serve's configuration from its environment.
func serveConfigFromEnv(publicURL string, log *slog.Logger) serveConfig {
	return serveConfig{PublicURL: publicURL, Senders: journey.SenderConfigFromEnv(), ShopURL: os.Getenv("OMNIROI_SHOP_URL"), Log: log}
}

// log is cfg.Log, or the default logger.
func (cfg serveConfig) log() *slog.Logger {
	if cfg.Log == nil {
		return slog.Default()
	}
	return cfg.Log
}

// wireServe is the one place that wires the domains into a server: the event processor
// (with the shop connectors' webhooks, which feed it), the recommendation model, the read
// API, experiments, the dashboard, the journey engine, the segment feed and retention.
// Services that two surfaces share are built here once per server and handed to both:
// the budget model, the attribution service and the customer-value snapshot (API and
// dashboard), the recommendation model (its website endpoint
// and journey messages). wireServe runs after the server is built and before it
// listens; whatever it starts stops with s.OnShutdown.
func wireServe(s *server.Server, cfg serveConfig) {
	budget := mix.NewService(s.DB)
	attr := attribution.NewService(s.DB)
	values := value.NewService(s.DB)
	proc := startProcessor(s)
	mountConnectors(s, proc.Notify, cfg.log())
	rec := startRecommendations(s)
	mountAPI(s, budget, attr, values, rec)
	mountExperiments(s)
	mountDashboard(s, budget, rec, attr, values)
	startJourneys(s, cfg, recommend.Messages{Svc: rec})
	startSegmentFeed(s)
	startLeadFeed(s)
	startRetention(s)
}

// wireDemo runs after the demo is loaded, before serving: the demo bakery's catalogue,
// then the dashboard login. It returns lines to print.
func wireDemo(ctx context.Context, db *store.DB) ([]string, error) {
	var notes []string
	for _, step := range []func(context.Context, *store.DB) ([]string, error){loadDemoCatalogue, createDemoUser} {
		n, err := step(ctx, db)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n...)
	}
	return notes, nil
}

// startProcessor runs the event processor beside the API, woken after every commit.
func startProcessor(s *server.Server) *identity.Processor {
	proc := identity.NewProcessor(s.DB, identity.Options{})
	s.Collect.SetOnStored(proc.Feed) // the events just committed, so it need not read them back
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
	return proc
}

// mountAPI mounts the JSON API: the routes of apiroutes.go, each behind its role check.
// budget, attr and values are the server's budget model, attribution service and
// customer-value snapshot, shared with the dashboard; rec its recommendation model (clienteling).
func mountAPI(s *server.Server, budget *mix.Service, attr *attribution.Service, values *value.Service, rec ...*recommend.Service) {
	h, err := api.NewRouter(s.DB, apiRoutes(s.DB, budget, attr, values, rec...))
	if err != nil {
		panic(fmt.Sprintf("API routes: %v", err)) // a declaration defect, found by every test that serves
	}
	s.Mux.Handle("/api/", h)
}

// mountConnectors mounts the shop connectors' webhooks (POST /hooks/shopify/{id},
// /hooks/woocommerce/{id}) beside the collection API: like it, they answer the shop, not a
// logged-in user or a token, and check the delivery's signature themselves.
func mountConnectors(s *server.Server, notify func(), log *slog.Logger) {
	h := connect.NewHandler(s.DB, connect.Options{Logger: log})
	h.SetOnCommit(notify)
	h.Register(s.Mux)
}

// mountDashboard mounts the dashboard at /; budget, attr and values are the server's
// budget model, attribution service and customer-value snapshot, shared with the API; rec
// is its recommendation model (clienteling, next best actions).
func mountDashboard(s *server.Server, budget *mix.Service, rec *recommend.Service, attr *attribution.Service, values *value.Service) {
	h, err := web.NewHandler(s.DB, web.Options{Logger: slog.Default(), Budget: budget, Recommend: rec, Attribution: attr, Value: values})
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

// startJourneys runs the journey engine and mounts its tracking and unsubscribe routes
// under /j/; rec renders recommendations in messages.
func startJourneys(s *server.Server, cfg serveConfig, rec journey.Recommender) {
	journeyServeHook(cfg, rec)(s)
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

// startLeadFeed keeps lead_score_changes current for journeys that enter on a lead score
// (entry lead_score_above): hourly, and only while such a journey is enabled and the
// activity or orders changed.
func startLeadFeed(s *server.Server) {
	f := &recommend.LeadFeed{DB: s.DB, Thresholds: func(ctx context.Context) ([]float64, error) { return journey.LeadThresholds(ctx, s.DB) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx, func(err error) { slog.Error("lead feed", "err", err) })
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
