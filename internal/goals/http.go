package goals

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"context"
	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Today is the shop's calendar day (business time zone), at UTC midnight.
func Today(ctx context.Context, db *store.DB) (time.Time, error) {
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return time.Time{}, err
	}
	n := time.Now().In(loc)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC), nil
}

// NewHTTPHandler serves the goals API (the router in internal/cli/apiroutes.go checks the
// token's role before a request gets here):
//
//	GET    /api/v1/goals              every goal with where it stands (a JSON list of Status)
//	POST   /api/v1/goals              add one: {"name","metric","target","by","from"} → 201 with its Status
//	DELETE /api/v1/goals/{name}       remove one
//	GET    /api/v1/goals/resilience   ?from=&to= (days, both included): diversification and benchmarks
func NewHTTPHandler(db *store.DB) http.Handler {
	h := &handler{db: db}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/goals", h.list)
	mux.HandleFunc("POST /api/v1/goals", h.add)
	mux.HandleFunc("DELETE /api/v1/goals/{name}", h.remove)
	mux.HandleFunc("GET /api/v1/goals/resilience", h.resilience)
	return mux
}

type handler struct{ db *store.DB }

func actor(r *http.Request) string {
	if t, ok := api.TokenFrom(r.Context()); ok {
		return audit.TokenActor(t.Name)
	}
	return audit.ActorFrom(r.Context())
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	gs, err := List(r.Context(), h.db)
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	sts, err := Track(r.Context(), h.db, gs, time.Time{})
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.WriteJSON(w, http.StatusOK, sts)
}

func (h *handler) add(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		api.WriteError(w, http.StatusRequestEntityTooLarge, "goal: "+err.Error())
		return
	}
	// The target may be a JSON number or a string.
	var raw struct {
		Name   string          `json:"name"`
		Metric string          `json:"metric"`
		Target json.RawMessage `json:"target"`
		From   string          `json:"from"`
		By     string          `json:"by"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		api.WriteError(w, http.StatusBadRequest, "goal JSON: "+err.Error())
		return
	}
	in := Input{Name: raw.Name, Metric: raw.Metric, From: raw.From, By: raw.By}
	if len(raw.Target) > 0 {
		var s string
		if json.Unmarshal(raw.Target, &s) == nil {
			in.Target = s
		} else {
			in.Target = string(raw.Target)
		}
	}
	today, err := Today(r.Context(), h.db)
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	g, err := Parse(r.Context(), h.db, in, today)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := Add(r.Context(), h.db, g, actor(r)); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrExists) {
			code = http.StatusConflict
		}
		api.WriteError(w, code, err.Error())
		return
	}
	sts, err := Track(r.Context(), h.db, []Goal{g}, time.Time{})
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.WriteJSON(w, http.StatusCreated, sts[0])
}

func (h *handler) remove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := Remove(r.Context(), h.db, name, actor(r)); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNotFound) {
			code = http.StatusNotFound
		}
		api.WriteError(w, code, err.Error())
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]string{"removed": name})
}

func (h *handler) resilience(w http.ResponseWriter, r *http.Request) {
	from, err := attribution.ParseDate(r.URL.Query().Get("from"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "from: "+err.Error())
		return
	}
	to, err := attribution.ParseDate(r.URL.Query().Get("to"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "to: "+err.Error())
		return
	}
	from, to = Window(from, to)
	res, err := ResilienceOf(r.Context(), h.db, from, to)
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.WriteJSON(w, http.StatusOK, res)
}

// Window turns a from and an inclusive to (either may be zero) into ResilienceOf's
// half-open range: 30 days from from, or up to to; both zero stay zero (the default).
func Window(from, to time.Time) (time.Time, time.Time) {
	if !to.IsZero() {
		to = to.AddDate(0, 0, 1)
		if from.IsZero() {
			from = to.AddDate(0, 0, -30)
		}
	} else if !from.IsZero() {
		to = from.AddDate(0, 0, 30)
	}
	return from, to
}
