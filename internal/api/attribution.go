package api

import (
	"errors"
	"net/http"

	"github.com/omniroi/omniroi/internal/attribution"
)

// AttributionHandler serves the attribution routes from the attribution service (mount
// it only through NewRouter, as the handler of these routes):
//
//	GET /api/v1/attribution?model=all&from=&to=&lookback=&session_timeout=&half_life=&order=&weights=&conversion_events=&value_property=
//	GET /api/v1/attribution/models
//	GET /api/v1/roi?model=last_touch&from=&to=&lookback=&...
//
// The service keeps reports per query and data version: a repeated query answers from
// memory (X-Cache: hit) until new events are processed, spend is imported or the currency
// changes.
func AttributionHandler(svc *attribution.Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/attribution/models", func(w http.ResponseWriter, r *http.Request) {
		type model struct {
			Name       string `json:"name"`
			Convention string `json:"convention"`
		}
		out := struct {
			Models []model `json:"models"`
		}{}
		conv := attribution.Conventions()
		for _, n := range attribution.ModelNames {
			out.Models = append(out.Models, model{n, conv[n]})
		}
		WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/v1/attribution", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		po, cfg, from, to, err := attribution.ParseQuery(q)
		if err != nil {
			attributionError(w, err)
			return
		}
		var models []string
		if m := q.Get("model"); m != "" {
			models = []string{m}
		}
		rep, hit, err := svc.Lookup(r.Context(), attribution.Query{From: from, To: to, Paths: po, Models: models, Config: cfg})
		if err != nil {
			attributionError(w, err)
			return
		}
		cacheHeader(w, hit)
		WriteJSON(w, http.StatusOK, NewAttributionBody(rep.Current))
	})
	mux.HandleFunc("GET /api/v1/roi", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		po, cfg, from, to, err := attribution.ParseQuery(q)
		if err != nil {
			attributionError(w, err)
			return
		}
		rep, err := svc.ROI(r.Context(), attribution.ROIQuery{From: from, To: to, Model: q.Get("model"), Config: cfg, Paths: po})
		if err != nil {
			attributionError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, rep)
	})
	return mux
}

func cacheHeader(w http.ResponseWriter, hit bool) {
	if hit {
		w.Header().Set("X-Cache", "hit")
	} else {
		w.Header().Set("X-Cache", "miss")
	}
}

func attributionError(w http.ResponseWriter, err error) {
	if errors.Is(err, attribution.ErrBadQuery) {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	WriteError(w, http.StatusInternalServerError, err.Error())
}

// AttributionBody is the JSON of a period's attribution: GET /api/v1/attribution and
// `omniroi attribute --format json` answer with it. ("journeys" is the older word for
// paths; scripts read it.)
type AttributionBody struct {
	Paths   attribution.Summary `json:"journeys"`
	Results []ModelResult       `json:"results"`
	Skipped []string            `json:"skipped,omitempty"`
}

// ModelResult is one model's result with its convention.
type ModelResult struct {
	Convention string `json:"convention"`
	attribution.Result
}

// ModelResults adds each result's convention.
func ModelResults(rs []attribution.Result) []ModelResult {
	conv := attribution.Conventions()
	out := make([]ModelResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, ModelResult{Convention: conv[r.Model], Result: r})
	}
	return out
}

// NewAttributionBody is the body of a period.
func NewAttributionBody(p *attribution.Period) AttributionBody {
	return AttributionBody{Paths: p.Summary, Results: ModelResults(p.Results), Skipped: p.Skipped}
}
