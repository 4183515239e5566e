// Package server is omniroi's HTTP server: the collection API, /healthz, and whatever
// other packages (read API, dashboard) mount on its Mux.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store"
)

// Options configure a Server.
type Options struct {
	// OnCommit is called after each commit of collected events; it must not block.
	OnCommit func()
	// Collect tunes the collection API; its OnCommit is replaced by the one above
	// when that is set.
	Collect collect.Options
	// ShutdownTimeout bounds the graceful shutdown (default 15 s).
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// Server holds the mux and the collection handler.
type Server struct {
	DB      *store.DB
	Mux     *http.ServeMux
	Collect *collect.Handler
	log     *slog.Logger
	opt     Options

	mu         sync.Mutex
	onShutdown []func(context.Context)
	health     healthCheck
}

// New builds the mux with the collection routes and GET /healthz.
func New(db *store.DB, opt Options) (*Server, error) {
	if db == nil {
		return nil, errors.New("server: no database")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ShutdownTimeout <= 0 {
		opt.ShutdownTimeout = 15 * time.Second
	}
	copt := opt.Collect
	if opt.OnCommit != nil {
		copt.OnCommit = opt.OnCommit
	}
	if copt.Logger == nil {
		copt.Logger = opt.Logger
	}
	s := &Server{DB: db, Mux: http.NewServeMux(), log: opt.Logger, opt: opt}
	s.Collect = collect.NewHandler(db, copt)
	s.Collect.Register(s.Mux)
	s.Mux.HandleFunc("GET /healthz", s.healthz)
	return s, nil
}

// OnShutdown registers f to run after the listener stopped and pending events were
// committed (e.g. to stop the event processor).
func (s *Server) OnShutdown(f func(context.Context)) {
	s.mu.Lock()
	s.onShutdown = append(s.onShutdown, f)
	s.mu.Unlock()
}

// healthz answers 200 only when the store can be read and written: a load balancer or
// supervisor must not route events to a server whose database refuses writes (read-only
// or full disk, a stuck writer, a closed pool).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.health.check(r.Context(), s.DB, s.Collect); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "{\"ok\":false,\"error\":%q}\n", err.Error())
		return
	}
	fmt.Fprintln(w, `{"ok":true}`)
}

// ListenAndServe listens on addr and serves until ctx ends, then shuts down.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Shutdown stops accepting, lets running requests
// finish (their events are committed before they are answered), flushes what is still
// pending, and runs the OnShutdown functions.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           withServerTiming(s.Mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.opt.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		err = fmt.Errorf("shutdown: %w", err)
	}
	err = errors.Join(serveErr, err, s.Close(sctx))
	return err
}

// Close flushes pending events and runs the OnShutdown functions; Serve calls it.
func (s *Server) Close(ctx context.Context) error {
	err := s.Collect.Close(ctx)
	s.mu.Lock()
	fs := s.onShutdown
	s.onShutdown = nil
	s.mu.Unlock()
	for _, f := range fs {
		f(ctx)
	}
	return err
}
