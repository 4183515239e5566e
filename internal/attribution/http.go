package attribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// ParseDuration reads "30d", "7d", "36h" or any Go duration.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("duration %q: want days like 30d", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("duration %q: want e.g. 30d or 12h", s)
	}
	return v, nil
}

// ParseDate reads YYYY-MM-DD (a UTC day) or an RFC 3339 time; "" is the zero time.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t.UTC(), nil
}

// ParseWeights reads "0.4,0.2,0.4".
func ParseWeights(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for part := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil {
			return nil, fmt.Errorf("weights %q: %q is not a number", s, part)
		}
		out = append(out, v)
	}
	if err := ValidateCustomWeights(out); err != nil {
		return nil, err
	}
	return out, nil
}

// SplitList reads a comma-separated list, trimming blanks.
func SplitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// httpCacheSize bounds the cached responses; dashboards ask a handful of distinct queries.
const httpCacheSize = 64

type cacheEntry struct {
	done   chan struct{}
	body   []byte
	status int
	added  time.Time
}

type apiHandler struct {
	db  *store.DB
	mux *http.ServeMux

	mu    sync.Mutex
	cache map[string]*cacheEntry
}

// NewHTTPHandler serves the attribution JSON API:
//
//	GET /api/v1/attribution?model=all&from=&to=&lookback=&session_timeout=&half_life=&order=&weights=&conversion_events=
//	GET /api/v1/attribution/models
//	GET /api/v1/roi?model=last_touch&from=&to=&lookback=
//
// Answers are cached per (query, newest event seq, processor cursor, spend), so repeated
// dashboard hits are served from memory and new events or spend imports invalidate them.
// Authentication is the caller's: mount it behind the API token or dashboard session.
func NewHTTPHandler(db *store.DB) http.Handler {
	h := &apiHandler{db: db, mux: http.NewServeMux(), cache: map[string]*cacheEntry{}}
	h.mux.HandleFunc("GET /api/v1/attribution/models", h.models)
	h.mux.HandleFunc("GET /api/v1/attribution", h.cached(h.attribution))
	h.mux.HandleFunc("GET /api/v1/roi", h.cached(h.roi))
	return h
}

func (h *apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(err error) error { return &httpError{http.StatusBadRequest, err} }

func writeJSONStatus(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func errorBody(err error) []byte {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	return append(b, '\n')
}

func (h *apiHandler) models(w http.ResponseWriter, r *http.Request) {
	type m struct {
		Name       string `json:"name"`
		Convention string `json:"convention"`
	}
	out := struct {
		Models []m `json:"models"`
	}{}
	for _, n := range ModelNames {
		out.Models = append(out.Models, m{n, conventions[n]})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	writeJSONStatus(w, http.StatusOK, append(b, '\n'))
}

// stamp identifies the data a cached answer was computed from.
func (h *apiHandler) stamp(ctx context.Context) (string, error) {
	seq, err := h.db.MaxEventSeq(ctx)
	if err != nil {
		return "", err
	}
	cursor, _, err := h.db.Setting(ctx, identity.CursorSetting)
	if err != nil {
		return "", err
	}
	var n, sum int64
	if err := h.db.QueryRow(ctx, `SELECT COUNT(*), `+h.db.SumMinor("amount_minor")+` FROM spend`).Scan(&n, &sum); err != nil {
		return "", fmt.Errorf("spend stamp: %w", err)
	}
	return fmt.Sprintf("%d/%s/%d/%d", seq, cursor, n, sum), nil
}

// cached runs fn once per (path, sorted query, data stamp); concurrent identical requests
// wait for the first. Errors are not cached.
func (h *apiHandler) cached(fn func(ctx context.Context, q url.Values) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		st, err := h.stamp(ctx)
		if err != nil {
			writeJSONStatus(w, http.StatusInternalServerError, errorBody(err))
			return
		}
		q := r.URL.Query()
		key := r.URL.Path + "?" + q.Encode() + "#" + st
		h.mu.Lock()
		e, hit := h.cache[key]
		if !hit {
			e = &cacheEntry{done: make(chan struct{}), added: time.Now()}
			h.evictLocked()
			h.cache[key] = e
		}
		h.mu.Unlock()
		if hit {
			select {
			case <-e.done:
			case <-ctx.Done():
				return
			}
			w.Header().Set("X-Cache", "hit")
			writeJSONStatus(w, e.status, e.body)
			return
		}
		// Computed detached from this request so a client hanging up does not fail the
		// waiters; bounded by its own timeout.
		v, err := func() (v any, err error) {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			defer func() {
				if p := recover(); p != nil { // waiters must not hang on a panic
					err = fmt.Errorf("internal error: %v", p)
				}
			}()
			return fn(cctx, q)
		}()
		if err == nil {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err = enc.Encode(v); err == nil {
				e.status, e.body = http.StatusOK, buf.Bytes()
			}
		}
		if err != nil {
			var he *httpError
			e.status = http.StatusInternalServerError
			if errors.As(err, &he) {
				e.status = he.status
			}
			e.body = errorBody(err)
			h.mu.Lock()
			delete(h.cache, key)
			h.mu.Unlock()
		}
		close(e.done)
		w.Header().Set("X-Cache", "miss")
		writeJSONStatus(w, e.status, e.body)
	}
}

func (h *apiHandler) evictLocked() {
	for len(h.cache) >= httpCacheSize {
		var oldest string
		var t time.Time
		for k, e := range h.cache {
			if oldest == "" || e.added.Before(t) {
				oldest, t = k, e.added
			}
		}
		delete(h.cache, oldest)
	}
}

// journeyQuery reads the journey and model parameters shared by both endpoints.
func journeyQuery(q url.Values) (JourneyOptions, Config, error) {
	var jo JourneyOptions
	var cfg Config
	var err error
	if jo.From, err = ParseDate(q.Get("from")); err != nil {
		return jo, cfg, badRequest(err)
	}
	if jo.To, err = ParseDate(q.Get("to")); err != nil {
		return jo, cfg, badRequest(err)
	}
	if !jo.From.IsZero() && !jo.To.IsZero() && !jo.From.Before(jo.To) {
		return jo, cfg, badRequest(fmt.Errorf("from %s is not before to %s", q.Get("from"), q.Get("to")))
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"lookback", &jo.Lookback}, {"session_timeout", &jo.SessionTimeout}, {"half_life", &cfg.HalfLife}} {
		if s := q.Get(p.name); s != "" {
			if *p.dst, err = ParseDuration(s); err != nil {
				return jo, cfg, badRequest(fmt.Errorf("%s: %w", p.name, err))
			}
		}
	}
	if s := q.Get("order"); s != "" {
		if cfg.Order, err = strconv.Atoi(s); err != nil {
			return jo, cfg, badRequest(fmt.Errorf("order %q: not a number", s))
		}
	}
	if cfg.CustomWeights, err = ParseWeights(q.Get("weights")); err != nil {
		return jo, cfg, badRequest(err)
	}
	jo.ConversionEvents = SplitList(q.Get("conversion_events"))
	jo.ValueProperty = q.Get("value_property")
	return jo, cfg, nil
}

func (h *apiHandler) attribution(ctx context.Context, q url.Values) (any, error) {
	jo, cfg, err := journeyQuery(q)
	if err != nil {
		return nil, err
	}
	model := q.Get("model")
	if _, err := SelectModels(model, cfg); err != nil {
		return nil, badRequest(err)
	}
	res, err := AttributeStore(ctx, h.db, StoreOptions{Journeys: jo, Model: model, Config: cfg})
	if err != nil {
		return nil, err
	}
	return struct {
		Journeys Summary      `json:"journeys"`
		Results  []jsonResult `json:"results"`
		Skipped  []string     `json:"skipped,omitempty"`
	}{res.Journeys, withConventions(res.Results), res.Skipped}, nil
}

func (h *apiHandler) roi(ctx context.Context, q url.Values) (any, error) {
	jo, cfg, err := journeyQuery(q)
	if err != nil {
		return nil, err
	}
	model := q.Get("model")
	if model == "all" {
		return nil, badRequest(errors.New("roi needs one model, not all"))
	}
	if model != "" {
		if _, err := New(model, cfg); err != nil {
			return nil, badRequest(err)
		}
	}
	rep, err := ROI(ctx, h.db, ROIOptions{From: jo.From, To: jo.To, Model: model, Config: cfg, Journeys: jo})
	if err != nil {
		return nil, err
	}
	return rep, nil
}
