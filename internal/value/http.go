package value

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// The HTTP API uses the CLI's defaults; fitting per request parameters would defeat the cache.
const (
	apiHorizon  = 12
	apiDiscount = 0.01
	apiPeriod   = 90 * 24 * time.Hour // segments: movement since 90 days before the as-of date
)

// Service holds the fitted models and scores of the store, rebuilt when the orders
// or refunds change (see StoreState). It is safe for concurrent use.
type Service struct {
	db       *store.DB
	Unit     Unit
	Lookback time.Duration

	mu     sync.Mutex // guards snap and cursor
	snap   *snapshot
	cursor string     // the processor cursor snap is known to be current at
	build  sync.Mutex // one build at a time; waiting requests reuse its result
	builds atomic.Int64

	ecoMu  sync.Mutex
	ecoKey string
	eco    StoreEconomics
}

// snapshot is everything derived from one StoreState.
type snapshot struct {
	state     StoreState
	data      StoreData
	asOf      time.Time
	acqList   []Acquisition
	acq       map[string]string
	sum       []CustomerSummary
	models    Models
	pred      []Prediction // best CLV first
	predIndex map[string]int
	bands     []BandSummary
	segments  SegmentReport
	rfmIndex  map[string]int
	cohorts   CohortReport
	builtAt   time.Time
	buildTime time.Duration
	build     int64 // how many snapshots the service built, this one included
}

// NewService makes a Service for db with weekly models and the default lookback.
func NewService(db *store.DB) *Service {
	return &Service{db: db, Unit: Week, Lookback: DefaultLookback}
}

// get returns the snapshot of the current store state, building it when the
// orders or refunds changed since the last one.
func (s *Service) get(ctx context.Context) (*snapshot, error) {
	// The processor writes the derived tables and its cursor in one transaction, so
	// an unchanged cursor means unchanged orders: one key lookup instead of the
	// two table scans of ReadStoreState (60 ms at 10^5 orders on SQLite).
	cursor, _, err := s.db.Setting(ctx, identity.CursorSetting)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	cur := s.snap
	hit := cur != nil && cursor != "" && s.cursor == cursor
	s.mu.Unlock()
	if hit {
		return cur, nil
	}
	st, err := ReadStoreState(ctx, s.db)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.state == st {
		s.mu.Lock()
		if s.snap == cur {
			s.cursor = cursor // other events only (page views ...)
		}
		s.mu.Unlock()
		return cur, nil
	}
	s.build.Lock()
	defer s.build.Unlock()
	s.mu.Lock()
	cur = s.snap
	s.mu.Unlock()
	if cur != nil && cur.state == st {
		return cur, nil
	}
	// A client that goes away must not waste a build other requests are waiting for.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	snap, err := s.buildSnapshot(bctx, st)
	if err != nil {
		return nil, err
	}
	snap.build = s.builds.Add(1)
	s.mu.Lock()
	s.snap, s.cursor = snap, cursor
	s.mu.Unlock()
	return snap, nil
}

// ErrNoOrders is returned when the store has no orders to model.
var ErrNoOrders = errors.New("no orders in the store yet")

func (s *Service) buildSnapshot(ctx context.Context, st StoreState) (*snapshot, error) {
	t0 := time.Now()
	d, err := LoadStoreData(ctx, s.db, time.Time{})
	if err != nil {
		return nil, err
	}
	if len(d.Transactions) == 0 {
		return nil, ErrNoOrders
	}
	acq, err := Acquisitions(ctx, s.db, s.Lookback)
	if err != nil {
		return nil, err
	}
	sn := &snapshot{state: st, data: d, asOf: lastDay(d.Transactions), acqList: acq, acq: channelMap(acq)}
	if sn.sum, err = Summarize(d.Transactions, sn.asOf, s.Unit); err != nil {
		return nil, err
	}
	if sn.models, err = FitModelsContext(ctx, sn.sum, s.Unit, true); err != nil {
		return nil, fmt.Errorf("fit models: %w", err)
	}
	sn.pred = sn.models.Score(sn.sum, ScoreOptions{HorizonMonths: apiHorizon, Discount: apiDiscount, Bands: DefaultChurnBands})
	sn.bands = SummarizeBands(sn.pred)
	slices.SortStableFunc(sn.pred, func(a, b Prediction) int { return cmp.Compare(b.CLV, a.CLV) })
	sn.predIndex = make(map[string]int, len(sn.pred))
	for i, p := range sn.pred {
		sn.predIndex[p.ID] = i
	}
	if sn.segments, err = Segments(d.Transactions, sn.asOf, sn.asOf.Add(-apiPeriod), nil, DefaultSmallSegment); err != nil {
		return nil, err
	}
	sn.rfmIndex = make(map[string]int, len(sn.segments.Scores))
	for i, r := range sn.segments.Scores {
		sn.rfmIndex[r.ID] = i
	}
	sn.cohorts = Cohorts(d.Transactions, sn.asOf, sn.acq)
	sn.builtAt = time.Now()
	sn.buildTime = time.Since(t0)
	return sn, nil
}

// NewHTTPHandler serves the customer-value API (JSON, money in major units of the
// workspace currency). Mount it at the server root, behind the read API's token check:
//
//	GET /api/v1/clv?limit=50&band=active   model parameters, churn bands, top customers by CLV
//	GET /api/v1/customers/{id}/value       one customer: P(alive), expected purchases, CLV, segment, churn band
//	GET /api/v1/segments                   RFM segments, movement over 90 days, churn bands
//	GET /api/v1/cohorts                    monthly cohorts, split by acquisition channel
//	GET /api/v1/economics?from=&to=&margin= unit economics per acquisition channel
func NewHTTPHandler(db *store.DB) http.Handler { return NewService(db).Handler() }

// Handler returns the HTTP API of s.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/clv", s.handleCLV)
	mux.HandleFunc("GET /api/v1/customers/{id}/value", s.handleCustomer)
	mux.HandleFunc("GET /api/v1/segments", s.handleSegments)
	mux.HandleFunc("GET /api/v1/cohorts", s.handleCohorts)
	mux.HandleFunc("GET /api/v1/economics", s.handleEconomics)
	return mux
}

func (s *Service) snapshotOr500(w http.ResponseWriter, r *http.Request) *snapshot {
	sn, err := s.get(r.Context())
	switch {
	case errors.Is(err, ErrNoOrders):
		apiError(w, http.StatusNotFound, err.Error())
		return nil
	case errors.Is(err, ErrNoRepeat):
		apiError(w, http.StatusUnprocessableEntity, "cannot fit the models yet: "+err.Error())
		return nil
	case err != nil:
		apiError(w, http.StatusInternalServerError, err.Error())
		return nil
	}
	return sn
}

type apiCache struct {
	Orders      int64   `json:"orders"`
	MaxOrderSeq int64   `json:"max_order_seq"`
	Refunds     int64   `json:"refunds"`
	BuiltAt     string  `json:"built_at"`
	BuildMS     float64 `json:"build_ms"`
	Build       int64   `json:"build"` // increases with every rebuild
}

type apiModels struct {
	BGNBD struct {
		R, Alpha, A, B float64
	} `json:"bg_nbd"`
	Pareto *paretoOut `json:"pareto_nbd"`
	Gamma  gammaOut   `json:"gamma_gamma"`
}

func (sn *snapshot) cache() apiCache {
	return apiCache{sn.state.Orders, sn.state.MaxOrderSeq, sn.state.Refunds, sn.builtAt.UTC().Format(time.RFC3339), float64(sn.buildTime.Microseconds()) / 1000, sn.build}
}

func (sn *snapshot) bandsOut() []bandOut {
	out := make([]bandOut, 0, len(sn.bands))
	for _, b := range sn.bands {
		out = append(out, bandOut{b.Band, b.Customers, float64(b.Realised) / 100, major(b.Predicted)})
	}
	return out
}

func (sn *snapshot) customerOut(p Prediction) clvCustomerOut {
	return clvCustomerOut{
		ID: p.ID, Frequency: p.Frequency, Recency: round(p.Recency, 4), T: round(p.T, 4), Monetary: major(p.Monetary),
		PAliveBGNBD: round(p.PAliveBGNBD, 6), PAlivePareto: optional(round(p.PAlivePareto, 6), sn.models.Pareto != nil),
		ExpectedPurchases: round(p.ExpectedPurchases, 6), ExpectedAvgValue: major(p.ExpectedAvgValue),
		CLV: major(p.CLV), ChurnBand: p.ChurnBand, Realised: float64(p.Revenue) / 100,
	}
}

func (s *Service) handleCLV(w http.ResponseWriter, r *http.Request) {
	limit, ok := intParam(w, r, "limit", 50, 1, 10000)
	if !ok {
		return
	}
	band := r.URL.Query().Get("band")
	if band != "" && !slices.Contains(BandNames, band) {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("band must be one of %q", BandNames))
		return
	}
	sn := s.snapshotOr500(w, r)
	if sn == nil {
		return
	}
	var m apiModels
	bg := sn.models.BGNBD
	m.BGNBD.R, m.BGNBD.Alpha, m.BGNBD.A, m.BGNBD.B = bg.R, bg.Alpha, bg.A, bg.B
	if pn := sn.models.Pareto; pn != nil {
		m.Pareto = &paretoOut{pn.R, pn.Alpha, pn.S, pn.Beta, pn.LogLikelihood}
	}
	if sn.models.HasSpend {
		m.Gamma = newGammaOut(sn.models.Gamma)
	}
	top := make([]clvCustomerOut, 0, min(limit, len(sn.pred)))
	for _, p := range sn.pred {
		if len(top) == limit {
			break
		}
		if band == "" || p.ChurnBand == band {
			top = append(top, sn.customerOut(p))
		}
	}
	apiJSON(w, http.StatusOK, map[string]any{
		"as_of": sn.asOf.Format(time.DateOnly), "currency": sn.data.Currency, "time_unit": sn.models.Unit.String(),
		"horizon_months": apiHorizon, "discount": apiDiscount, "customers": len(sn.pred), "models": m,
		"churn_bands": sn.bandsOut(), "top_customers": top, "cache": sn.cache(),
	})
}

func (s *Service) handleCustomer(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("id")
	id := q
	if _, err := strconv.ParseInt(q, 10, 64); err != nil {
		c, err := identity.FindCustomer(r.Context(), s.db, q)
		if errors.Is(err, identity.ErrNotFound) {
			apiError(w, http.StatusNotFound, "no customer matches "+strconv.Quote(q))
			return
		}
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		id = strconv.FormatInt(c.ID, 10)
	}
	sn := s.snapshotOr500(w, r)
	if sn == nil {
		return
	}
	i, ok := sn.predIndex[id]
	if !ok {
		apiError(w, http.StatusNotFound, "customer "+id+" has no purchase in "+sn.data.Currency+" yet")
		return
	}
	p := sn.pred[i]
	pAlive := p.PAliveBGNBD
	if sn.models.Pareto != nil {
		pAlive = p.PAlivePareto
	}
	out := map[string]any{
		"customer_id": id, "as_of": sn.asOf.Format(time.DateOnly), "currency": sn.data.Currency,
		"p_alive": round(pAlive, 6), "expected_purchases": round(p.ExpectedPurchases, 6), "horizon_months": apiHorizon,
		"expected_order_value": major(p.ExpectedAvgValue), "clv": major(p.CLV), "churn_band": p.ChurnBand,
		"realised_revenue": float64(p.Revenue) / 100, "acquisition_channel": cmp.Or(sn.acq[id], UnknownChannel),
		"details": sn.customerOut(p), "rank": i + 1, "customers": len(sn.pred),
	}
	if j, ok := sn.rfmIndex[id]; ok {
		x := sn.segments.Scores[j]
		out["segment"] = x.Segment
		out["rfm"] = map[string]int{"r": x.R, "f": x.F, "m": x.M, "recency_days": x.RecencyDays, "frequency": x.Frequency}
	}
	apiJSON(w, http.StatusOK, out)
}

func (s *Service) handleSegments(w http.ResponseWriter, r *http.Request) {
	sn := s.snapshotOr500(w, r)
	if sn == nil {
		return
	}
	segs := appendSegmentsJSON(make([]segmentJSON, 0, len(sn.segments.Segments)), sn.segments.Segments)
	apiJSON(w, http.StatusOK, map[string]any{
		"as_of": sn.asOf.Format(time.DateOnly), "previous": sn.segments.Previous.Format(time.DateOnly), "currency": sn.data.Currency,
		"segments": segs, "transitions": sn.segments.Transitions, "churn_bands": sn.bandsOut(), "cache": sn.cache(),
	})
}

func (s *Service) handleCohorts(w http.ResponseWriter, r *http.Request) {
	sn := s.snapshotOr500(w, r)
	if sn == nil {
		return
	}
	// The API answers [] rather than null for no cohorts.
	apiJSON(w, http.StatusOK, map[string]any{
		"as_of": sn.asOf.Format(time.DateOnly), "currency": sn.data.Currency, "cohorts": appendCohortsJSON([]cohortJSON{}, sn.cohorts.Cohorts),
		"by_channel": appendCohortsJSON([]cohortJSON{}, sn.cohorts.ByChannel), "cache": sn.cache(),
	})
}

func (s *Service) handleEconomics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var o StoreEconomicsOptions
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &o.From}, {"to", &o.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				apiError(w, http.StatusBadRequest, p.name+" must be YYYY-MM-DD")
				return
			}
			*p.t = t
		}
	}
	if v := q.Get("margin"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil || m <= 0 || m > 1 {
			apiError(w, http.StatusBadRequest, "margin must be in (0, 1]")
			return
		}
		o.Margin = m
	}
	sn := s.snapshotOr500(w, r)
	if sn == nil {
		return
	}
	// Spend is not in StoreState (it changes without orders): key on its size too.
	var spendRows, spendSum int64
	if err := s.db.QueryRow(r.Context(), `SELECT COUNT(*), `+s.db.SumMinor("amount_minor")+` FROM spend`).Scan(&spendRows, &spendSum); err != nil {
		apiError(w, http.StatusInternalServerError, "read spend: "+err.Error())
		return
	}
	key := fmt.Sprintf("%p|%d|%d|%s|%s|%g", sn, spendRows, spendSum, q.Get("from"), q.Get("to"), o.Margin)
	s.ecoMu.Lock()
	defer s.ecoMu.Unlock()
	if s.ecoKey != key {
		o.AsOf, o.Unit, o.Models, o.Lookback = sn.asOf, s.Unit, &sn.models, s.Lookback
		e, err := economics(r.Context(), s.db, sn.data, sn.acqList, o)
		if err != nil {
			apiError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		s.eco, s.ecoKey = e, key
	}
	var buf jsonBuffer
	if err := WriteEconomics(&buf, s.eco, FormatJSON); err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf)
}

type jsonBuffer []byte

func (b *jsonBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("%s must be %d..%d", name, lo, hi))
		return 0, false
	}
	return n, true
}

func apiJSON(w http.ResponseWriter, code int, v any) { api.WriteJSON(w, code, v) }

func apiError(w http.ResponseWriter, code int, msg string) { api.WriteError(w, code, msg) }
