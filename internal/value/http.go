package value

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

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

// snapshotOr500 answers an error when there is no snapshot, or (models) when it has no
// fitted models, and returns nil then.
func (s *Service) snapshotOr500(w http.ResponseWriter, r *http.Request, models bool) *Snapshot {
	sn, err := s.Snapshot(r.Context())
	switch {
	case errors.Is(err, ErrNoOrders):
		apiError(w, http.StatusNotFound, err.Error())
		return nil
	case err != nil:
		apiError(w, http.StatusInternalServerError, err.Error())
		return nil
	case models && sn.NoRepeats:
		apiError(w, http.StatusUnprocessableEntity, "cannot fit the models yet: "+sn.FitErr)
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

func cacheOut(sn *Snapshot) apiCache {
	return apiCache{sn.State.Orders, sn.State.MaxOrderSeq, sn.State.Refunds, sn.BuiltAt.UTC().Format(time.RFC3339), float64(sn.BuildTime.Microseconds()) / 1000, sn.Build}
}

func bandsOut(sn *Snapshot) []bandOut {
	out := make([]bandOut, 0, len(sn.Bands))
	for _, b := range sn.Bands {
		out = append(out, bandOut{b.Band, b.Customers, major(b.Realised, sn.Currency), major(b.Predicted, sn.Currency)})
	}
	return out
}

func customerOut(sn *Snapshot, p Prediction) clvCustomerOut {
	return clvCustomerOut{
		ID: p.ID, Frequency: p.Frequency, Recency: round(p.Recency, 4), T: round(p.T, 4), Monetary: major(p.Monetary, sn.Currency),
		PAliveBGNBD: round(p.PAliveBGNBD, 6), PAlivePareto: optional(round(p.PAlivePareto, 6), sn.Models.Pareto != nil),
		ExpectedPurchases: round(p.ExpectedPurchases, 6), ExpectedAvgValue: major(p.ExpectedAvgValue, sn.Currency),
		CLV: major(p.CLV, sn.Currency), ChurnBand: p.ChurnBand, Realised: major(p.Revenue, sn.Currency),
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
	sn := s.snapshotOr500(w, r, true)
	if sn == nil {
		return
	}
	var m apiModels
	bg := sn.Models.BGNBD
	m.BGNBD.R, m.BGNBD.Alpha, m.BGNBD.A, m.BGNBD.B = bg.R, bg.Alpha, bg.A, bg.B
	if pn := sn.Models.Pareto; pn != nil {
		m.Pareto = &paretoOut{pn.R, pn.Alpha, pn.S, pn.Beta, pn.LogLikelihood}
	}
	if sn.Models.HasSpend {
		m.Gamma = newGammaOut(sn.Models.Gamma, sn.Currency)
	}
	top := make([]clvCustomerOut, 0, min(limit, len(sn.Predictions)))
	for _, p := range sn.Predictions {
		if len(top) == limit {
			break
		}
		if band == "" || p.ChurnBand == band {
			top = append(top, customerOut(sn, p))
		}
	}
	apiJSON(w, http.StatusOK, map[string]any{
		"as_of": sn.AsOf.Format(time.DateOnly), "currency": sn.Currency, "time_unit": sn.Models.Unit.String(),
		"horizon_months": HorizonMonths, "discount": Discount, "customers": len(sn.Predictions), "models": m,
		"churn_bands": bandsOut(sn), "top_customers": top, "cache": cacheOut(sn),
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
	sn := s.snapshotOr500(w, r, true)
	if sn == nil {
		return
	}
	p, i, ok := sn.Prediction(id)
	if !ok {
		apiError(w, http.StatusNotFound, "customer "+id+" has no purchase in "+sn.Currency+" yet")
		return
	}
	pAlive := p.PAliveBGNBD
	if sn.Models.Pareto != nil {
		pAlive = p.PAlivePareto
	}
	out := map[string]any{
		"customer_id": id, "as_of": sn.AsOf.Format(time.DateOnly), "currency": sn.Currency,
		"p_alive": round(pAlive, 6), "expected_purchases": round(p.ExpectedPurchases, 6), "horizon_months": HorizonMonths,
		"expected_order_value": major(p.ExpectedAvgValue, sn.Currency), "clv": major(p.CLV, sn.Currency), "churn_band": p.ChurnBand,
		"realised_revenue": major(p.Revenue, sn.Currency), "acquisition_channel": cmp.Or(sn.Channels[id], UnknownChannel),
		"details": customerOut(sn, p), "rank": i + 1, "customers": len(sn.Predictions),
	}
	if x, ok := sn.RFM(id); ok {
		out["segment"] = x.Segment
		out["rfm"] = map[string]int{"r": x.R, "f": x.F, "m": x.M, "recency_days": x.RecencyDays, "frequency": x.Frequency}
	}
	apiJSON(w, http.StatusOK, out)
}

func (s *Service) handleSegments(w http.ResponseWriter, r *http.Request) {
	sn := s.snapshotOr500(w, r, false)
	if sn == nil {
		return
	}
	segs := appendSegmentsJSON(make([]segmentJSON, 0, len(sn.Segments.Segments)), sn.Segments.Segments, sn.Currency)
	apiJSON(w, http.StatusOK, map[string]any{
		"as_of": sn.AsOf.Format(time.DateOnly), "previous": sn.Segments.Previous.Format(time.DateOnly), "currency": sn.Currency,
		"segments": segs, "transitions": sn.Segments.Transitions, "churn_bands": bandsOut(sn), "cache": cacheOut(sn),
	})
}

func (s *Service) handleCohorts(w http.ResponseWriter, r *http.Request) {
	sn := s.snapshotOr500(w, r, false)
	if sn == nil {
		return
	}
	// The API answers [] rather than null for no cohorts.
	apiJSON(w, http.StatusOK, map[string]any{
		"as_of": sn.AsOf.Format(time.DateOnly), "currency": sn.Currency, "cohorts": appendCohortsJSON([]cohortJSON{}, sn.Cohorts.Cohorts, sn.Currency),
		"by_channel": appendCohortsJSON([]cohortJSON{}, sn.Cohorts.ByChannel, sn.Currency), "cache": cacheOut(sn),
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
	sn := s.snapshotOr500(w, r, false)
	if sn == nil {
		return
	}
	e, err := s.Economics(r.Context(), sn, o)
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	var buf jsonBuffer
	if err := WriteEconomics(&buf, e, FormatJSON); err != nil {
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
