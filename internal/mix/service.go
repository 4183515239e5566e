package mix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

// Service fits models of the store and keeps them until the orders, the spend or the
// day change, so the dashboard and the API answer from memory. It is safe for
// concurrent use; concurrent requests for the same model wait for one fit.
type Service struct {
	db  *store.DB
	now func() time.Time

	mu    sync.Mutex
	cache map[string]*fitEntry
	order []string
}

type fitEntry struct {
	done   chan struct{}
	series Series
	model  *Model
	err    error
}

// serviceCacheSize bounds the fitted models kept (one per target and window asked for).
const serviceCacheSize = 8

// NewService makes a Service for db.
func NewService(db *store.DB) *Service {
	return &Service{db: db, now: time.Now, cache: map[string]*fitEntry{}}
}

// stamp identifies the data a model was fitted on.
func (s *Service) stamp(ctx context.Context) (string, error) {
	st, err := value.ReadStoreState(ctx, s.db)
	if err != nil {
		return "", err
	}
	var n, sum int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(amount_minor), 0) FROM spend`).Scan(&n, &sum); err != nil {
		return "", fmt.Errorf("spend state: %w", err)
	}
	return fmt.Sprintf("%+v/%d/%d/%s", st, n, sum, s.now().UTC().Format(time.DateOnly)), nil
}

// Model returns the store's series and its fitted model for o (o.Now is ignored: today).
func (s *Service) Model(ctx context.Context, o StoreOptions) (Series, *Model, error) {
	st, err := s.stamp(ctx)
	if err != nil {
		return Series{}, nil, err
	}
	// Finished ad-channel tests calibrate the model: a new result is a new model.
	stored, err := experiment.Calibrations(ctx, s.db, s.now())
	if err != nil {
		return Series{}, nil, err
	}
	key := fmt.Sprintf("%s|%s|%s|%s|%v", o.Target, civil(o.From), civil(o.To), st, stored)
	s.mu.Lock()
	e, hit := s.cache[key]
	if !hit {
		e = &fitEntry{done: make(chan struct{})}
		s.cache[key] = e
		s.order = append(s.order, key)
		for len(s.order) > serviceCacheSize {
			delete(s.cache, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.mu.Unlock()
	if hit {
		select {
		case <-e.done:
			return e.series, e.model, e.err
		case <-ctx.Done():
			return Series{}, nil, ctx.Err()
		}
	}
	// A client that goes away must not waste a fit others may be waiting for.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	o.Now = s.now()
	e.series, e.err = LoadStore(fctx, s.db, o)
	if e.err == nil {
		var cals []Calibration
		var notes []string
		cals, notes, e.err = StoredCalibrations(fctx, s.db, o.Now, e.series.Data.Channels)
		if e.err == nil {
			e.model, e.err = Fit(fctx, e.series.Data, Options{Money: UnitsOf(e.series).FormatMoney, Calibrations: cals})
		}
		if e.err == nil {
			for _, n := range notes {
				e.model.Warnings = append(e.model.Warnings, Warning{Code: "calibration_unused", Message: n})
			}
		}
	}
	if e.err != nil {
		s.mu.Lock()
		delete(s.cache, key) // errors are not kept: the data may be on its way
		s.mu.Unlock()
	}
	close(e.done)
	return e.series, e.model, e.err
}

// UnitsOf returns how a series' amounts are written in answers.
func UnitsOf(s Series) Units { return Units{Currency: s.Currency, Money: s.Money} }

// NewHTTPHandler serves the budget JSON API:
//
//	GET /api/v1/budget/fit?target=revenue&from=YYYY-MM-DD&to=YYYY-MM-DD
//	GET /api/v1/budget/plan?target=&from=&to=&total=AMOUNT&min=CH=AMOUNT&max=CH=AMOUNT&lock=CH&margin=0.4
//
// with the bodies of `omniroi budget fit|plan --format json` (docs/budget.md). min, max
// and lock may repeat. Authentication is the caller's: mount it behind the API token.
func NewHTTPHandler(svc *Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/budget/fit", func(w http.ResponseWriter, r *http.Request) {
		series, m, err := svc.fromQuery(r)
		if err != nil {
			writeError(w, err)
			return
		}
		rep := m.Report(series.Target, UnitsOf(series))
		rep.Warnings = append(rep.Warnings, series.Notes...)
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("GET /api/v1/budget/plan", func(w http.ResponseWriter, r *http.Request) {
		po, err := PlanOptionsFromQuery(r.URL.Query())
		if err != nil {
			writeError(w, badRequest(err))
			return
		}
		series, m, err := svc.fromQuery(r)
		if err != nil {
			writeError(w, err)
			return
		}
		pl, err := m.Plan(po)
		if err != nil {
			writeError(w, badRequest(err))
			return
		}
		writeJSON(w, http.StatusOK, pl.Report(m, series.Target, UnitsOf(series)))
	})
	return mux
}

func (s *Service) fromQuery(r *http.Request) (Series, *Model, error) {
	q := r.URL.Query()
	o := StoreOptions{Target: q.Get("target")}
	if o.Target != "" && !contains(Targets, o.Target) {
		return Series{}, nil, badRequest(fmt.Errorf("target %q: want one of %s", o.Target, strings.Join(Targets, ", ")))
	}
	var err error
	if o.From, err = parseQueryDay(q.Get("from")); err != nil {
		return Series{}, nil, badRequest(fmt.Errorf("from: %w", err))
	}
	if o.To, err = parseQueryDay(q.Get("to")); err != nil {
		return Series{}, nil, badRequest(fmt.Errorf("to: %w", err))
	}
	series, m, err := s.Model(r.Context(), o)
	if err != nil {
		// Too little data, no spend, no orders: the data's state, told plainly.
		return Series{}, nil, &httpError{http.StatusUnprocessableEntity, err}
	}
	return series, m, nil
}

// PlanOptionsFromQuery reads total, min, max, lock and margin (the API's and the
// dashboard's form fields).
func PlanOptionsFromQuery(q url.Values) (PlanOptions, error) {
	var o PlanOptions
	amount := func(s string) (float64, error) {
		v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not an amount ≥ 0", s)
		}
		return v, nil
	}
	if s := q.Get("total"); s != "" {
		v, err := amount(s)
		if err != nil || v == 0 {
			return o, fmt.Errorf("total: want an amount above 0, have %q", s)
		}
		o.Total = v
	}
	if s := q.Get("margin"); s != "" {
		v, err := amount(s)
		if err != nil {
			return o, fmt.Errorf("margin: %w", err)
		}
		o.Margin = v
	}
	for _, k := range []string{"min", "max"} {
		for _, s := range q[k] {
			ch, a, ok := strings.Cut(s, "=")
			if !ok || strings.TrimSpace(ch) == "" {
				return o, fmt.Errorf("%s %q: want CHANNEL=AMOUNT", k, s)
			}
			v, err := amount(a)
			if err != nil {
				return o, fmt.Errorf("%s %q: %w", k, s, err)
			}
			m := &o.Min
			if k == "max" {
				m = &o.Max
			}
			if *m == nil {
				*m = map[string]float64{}
			}
			(*m)[strings.TrimSpace(ch)] = v
		}
	}
	o.Locked = q["lock"]
	return o, nil
}

func parseQueryDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD", s)
	}
	return t, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(err error) error { return &httpError{http.StatusBadRequest, err} }

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
