// Package web is omniroi's dashboard: server-rendered pages (html/template), a little
// vanilla JS that draws charts with the embedded Apache ECharts, and a login in front of
// all of it. Every table can be downloaded as CSV from the same URL with ?format=csv, and
// every chart has the same numbers in a plain table beside it.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options tune the dashboard; the zero value is ready to use.
type Options struct {
	Logger     *slog.Logger
	SessionTTL time.Duration    // how long a login lasts; default 14 days
	Now        func() time.Time // clock, for tests; default time.Now
	// TrustForwardedFor makes the login rate limiter key on the first X-Forwarded-For
	// address: set it only behind a reverse proxy that overwrites that header.
	TrustForwardedFor bool
	// LoginLimit is the number of failed logins allowed per IP (and a fifth of it per
	// email, at least 3) per LoginWindow; defaults 20 and 15 minutes.
	LoginLimit  int
	LoginWindow time.Duration
	// TrustedOrigins are other origins allowed to POST (e.g. "https://shop.example"
	// when a proxy does not pass the Host header through); see http.CrossOriginProtection.
	TrustedOrigins []string
	// Attribution is the attribution service the pages share with the API (one cache);
	// default: a service of its own.
	Attribution *attribution.Service
	// Budget fits the budget model; nil makes one (share it with the API's to fit once).
	Budget *mix.Service
	// Recommend is the recommendation service (clienteling, next best actions); nil makes
	// one (share serve's, which keeps its model current).
	Recommend *recommend.Service
	// Value is the customer-value snapshot service; nil makes one (share it with the
	// API's to fit once).
	Value *value.Service

	noCache bool // benchmarks measure the queries, not the cache
	// computeWait is how long a request waits for a background analysis before the page
	// says "computing" (default 150 ms: the page budget is 300 ms); tests wait longer.
	computeWait time.Duration
	noWarm      bool // tests that count builds
	// noStoredResults keeps the analyses in memory only (snapshots.go).
	noStoredResults bool
}

// Cookie names. The session cookie is host-only and HttpOnly.
const (
	sessionCookie    = "omniroi_session"
	loginCSRFCookie  = "omniroi_login"
	maxFormBytes     = 64 << 10
	cacheTTL         = 15 * time.Second
	defaultCurrency  = "EUR" // workspace.CurrencyKey.Default, when the setting cannot be read at all
	defaultRangeName = "30d"
)

type server struct {
	db      *store.DB
	opt     Options
	log     *slog.Logger
	tmpl    map[string]*template.Template
	ipLimit *auth.Limiter
	emLimit *auth.Limiter
	cache   *cache
	tables  tableCache
	compute *computeCache
	attr    *attribution.Service
	staticH http.Handler
	perms   map[string]auth.Permission // route pattern → permission, from routes()
	budget  *mix.Service
	rec     *recommend.Service
	value   *value.Service
}

// NewHandler returns the dashboard, to be mounted at "/" next to the APIs under /v1 and
// /api/v1 (more specific patterns win in http.ServeMux, so those stay theirs).
func NewHandler(db *store.DB, opt Options) (http.Handler, error) {
	_, h, err := newServer(db, opt)
	return h, err
}

func newServer(db *store.DB, opt Options) (*server, http.Handler, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 14 * 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.LoginLimit <= 0 {
		opt.LoginLimit = 20
	}
	if opt.LoginWindow <= 0 {
		opt.LoginWindow = 15 * time.Minute
	}
	s := &server{
		db:      db,
		opt:     opt,
		log:     opt.Logger,
		ipLimit: auth.NewLimiter(opt.LoginLimit, opt.LoginWindow),
		emLimit: auth.NewLimiter(max(3, opt.LoginLimit/5), opt.LoginWindow),
		cache:   newCache(),
		budget:  opt.Budget,
	}
	if s.budget == nil {
		s.budget = mix.NewService(db)
	}
	if s.rec = opt.Recommend; s.rec == nil {
		s.rec = recommend.NewService(db, opt.Logger)
	}
	if s.value = opt.Value; s.value == nil {
		s.value = value.NewService(db)
	}
	s.cache.off = opt.noCache
	if opt.computeWait <= 0 {
		opt.computeWait = 150 * time.Millisecond
	}
	s.compute = newComputeCache(opt.computeWait)
	s.attr = opt.Attribution
	if s.attr == nil {
		s.attr = attribution.NewService(db)
	}
	s.compute.minAge = 30 * time.Second
	if !opt.noStoredResults {
		s.compute.snaps = dbSnapshots{db}
		s.compute.storeEvery = 10 * time.Minute
		s.compute.report = func(key string, err error) {
			s.log.Warn("dashboard: stored analysis", "key", key, "err", err)
		}
		if !opt.noWarm {
			s.preloadStored()
		}
	}
	if err := s.parseTemplates(); err != nil {
		return nil, nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, nil, err
	}

	s.staticH = http.StripPrefix("/static/", staticHandler(http.FileServerFS(static)))
	// Every page, form and file is a line of the route table (routes.go), with the
	// permission it needs; nothing else is mounted.
	mux, err := s.mount()
	if err != nil {
		return nil, nil, err
	}

	// Go's cross-origin protection rejects unsafe methods whose Sec-Fetch-Site or Origin
	// says another site sent them; the per-session token below is the second lock.
	cop := http.NewCrossOriginProtection()
	for _, o := range opt.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, nil, fmt.Errorf("trusted origin: %w", err)
		}
	}
	return s, securityHeaders(cop.Handler(mux)), nil
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		// No inline scripts anywhere: chart data travels in JSON islands read by app.js.
		// ECharts sets element styles from JS, hence style-src 'unsafe-inline'.
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Embedded files change only with the binary; an hour of caching is plenty.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// ctxKey carries the request's session.
type ctxKey struct{}

func sessionFrom(r *http.Request) auth.Session {
	s, _ := r.Context().Value(ctxKey{}).(auth.Session)
	return s
}

// wantsJSON reports whether the caller is a script rather than a browser page load.
func wantsJSON(r *http.Request) bool {
	if r.URL.Query().Get("format") == "json" {
		return true
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) static(w http.ResponseWriter, r *http.Request) error {
	s.staticH.ServeHTTP(w, r)
	return nil
}

// requireLogin lets logged-in requests through when the user's role has perm (checking
// the CSRF token on POST), answers 403 when it has not, sends browsers without a session
// to /login and answers scripts 401.
func (s *server) requireLogin(perm auth.Permission, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var token string
		if c, err := r.Cookie(sessionCookie); err == nil {
			token = c.Value
		}
		sess, err := auth.LookupSession(r.Context(), s.db, token, s.opt.Now())
		if err != nil {
			if !errors.Is(err, auth.ErrNoSession) {
				s.serverError(w, r, err)
				return
			}
			if token != "" {
				http.SetCookie(w, s.sessionCookie(r, "", -1))
			}
			if wantsJSON(r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"login required"}` + "\n"))
				return
			}
			next := "/login"
			if r.Method == http.MethodGet {
				next += "?next=" + urlQueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			limit := int64(maxFormBytes)
			if n, ok := bodyLimits[r.Pattern]; ok {
				limit = n // file uploads
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := r.ParseMultipartForm(maxFormBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess))
					s.renderStatus(w, r, http.StatusRequestEntityTooLarge, "File too large",
						fmt.Sprintf("The upload is over %d MB. Import bigger files with the command line: omniroi import KIND FILE.", limit>>20))
					return
				}
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			submitted := r.PostFormValue("csrf")
			if submitted == "" {
				submitted = r.Header.Get("X-CSRF-Token")
			}
			if !sess.CheckCSRF(submitted) {
				http.Error(w, "This form has expired or was not sent from this dashboard. Go back, reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, sess)
		r = r.WithContext(audit.WithActor(ctx, audit.UserActor(sess.User.Email)))
		if perm != permSession && !sess.User.Role.Can(perm) {
			s.forbidden(w, r, sess.User.Role, perm)
			return
		}
		if err := h(w, r); err != nil {
			s.serverError(w, r, err)
		}
	})
}

// bodyLimits are the routes whose POST body may exceed maxFormBytes (file uploads).
var bodyLimits = map[string]int64{"POST /sources/upload": MaxUploadBytes + 1<<20}

// errNotFound makes a handler answer 404.
var errNotFound = errors.New("not found")

func (s *server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNotFound) {
		s.renderStatus(w, r, http.StatusNotFound, "Not found", "There is nothing at this address.")
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error("dashboard", "path", r.URL.Path, "err", err)
	s.renderStatus(w, r, http.StatusInternalServerError, "Something went wrong", "The server could not build this page; the error is in omniroi's log.")
}

func (s *server) renderStatus(w http.ResponseWriter, r *http.Request, code int, title, msg string) {
	if wantsJSON(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	p := s.newPage(r, "", title)
	p.Message = msg
	w.WriteHeader(code)
	_ = s.execute(w, "message", p)
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) error { return errNotFound }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// isSecure reports whether the browser talks HTTPS to us (directly or via a proxy).
func isSecure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *server) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: isSecure(r), SameSite: http.SameSiteLaxMode,
	}
}

// cache keeps expensive page fragments for a few seconds: the dashboard is read by one
// or two people, and the numbers move with batches of events, not by the millisecond.
type cache struct {
	mu  sync.Mutex
	m   map[string]cacheEntry
	off bool
}

type cacheEntry struct {
	v   any
	exp time.Time
}

func newCache() *cache { return &cache{m: map[string]cacheEntry{}} }

func cached[T any](c *cache, key string, now time.Time, fill func() (T, error)) (T, error) {
	if c.off {
		return fill()
	}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.v.(T), nil
	}
	v, err := fill()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) > 500 {
		clear(c.m)
	}
	c.m[key] = cacheEntry{v: v, exp: now.Add(cacheTTL)}
	c.mu.Unlock()
	return v, nil
}

// tableCache remembers which derived tables exist; they appear with migrations at
// startup and are never dropped, so a yes is final.
type tableCache struct {
	mu  sync.Mutex
	yes map[string]bool
}

func (s *server) hasTable(ctx context.Context, name string) (bool, error) {
	s.tables.mu.Lock()
	ok := s.tables.yes[name]
	s.tables.mu.Unlock()
	if ok {
		return true, nil
	}
	var q string
	if s.db.Dialect == store.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	} else {
		q = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	}
	var n int
	if err := s.db.QueryRow(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("check table %s: %w", name, err)
	}
	if n > 0 {
		s.tables.mu.Lock()
		if s.tables.yes == nil {
			s.tables.yes = map[string]bool{}
		}
		s.tables.yes[name] = true
		s.tables.mu.Unlock()
	}
	return n > 0, nil
}

func (c *cache) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// dropPrefix forgets every cached value whose key starts with prefix.
func (c *cache) dropPrefix(prefix string) {
	c.mu.Lock()
	for k := range c.m {
		if strings.HasPrefix(k, prefix) {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}
