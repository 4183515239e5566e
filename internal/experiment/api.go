package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// NewAPIHandler serves experiments on the JSON API, the same operations as `omniroi
// experiment`. Its routes are lines of the API's route table (internal/cli/apiroutes.go):
//
//	GET  /api/v1/experiments               every experiment
//	POST /api/v1/experiments               create a draft (JSON body, as Experiment)
//	GET  /api/v1/experiments/{name}        the experiment and its plan from the shop's history
//	GET  /api/v1/experiments/{name}/report the analysis (?fixed=true: fixed-horizon intervals)
//	POST /api/v1/experiments/{name}/start  (and /stop)
func NewAPIHandler(db *store.DB) http.Handler {
	a := &apiServer{db: db}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/experiments", a.list)
	mux.HandleFunc("POST /api/v1/experiments", a.create)
	mux.HandleFunc("GET /api/v1/experiments/{name}", a.show)
	mux.HandleFunc("GET /api/v1/experiments/{name}/report", a.report)
	mux.HandleFunc("POST /api/v1/experiments/{name}/start", a.start)
	mux.HandleFunc("POST /api/v1/experiments/{name}/stop", a.stop)
	return mux // other paths never get here: the API router answers them 404
}

type apiServer struct{ db *store.DB }

func (a *apiServer) fail(w http.ResponseWriter, err error, bad bool) {
	switch {
	case errors.Is(err, ErrNotFound):
		api.WriteError(w, http.StatusNotFound, err.Error())
	case bad:
		api.WriteError(w, http.StatusBadRequest, err.Error())
	default:
		api.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

// actor names the API token of the request for the audit log: the API router checked
// the token and its role before this handler runs, and put both in the context.
func (a *apiServer) actor(r *http.Request) string {
	if t, ok := api.TokenFrom(r.Context()); ok {
		return audit.TokenActor(t.Name)
	}
	return audit.ActorFrom(r.Context())
}

func (a *apiServer) list(w http.ResponseWriter, r *http.Request) {
	l, err := List(r.Context(), a.db)
	if err != nil {
		a.fail(w, err, false)
		return
	}
	api.WriteJSON(w, http.StatusOK, l)
}

func (a *apiServer) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		api.WriteError(w, http.StatusRequestEntityTooLarge, "experiment: "+err.Error())
		return
	}
	var e Experiment
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		api.WriteError(w, http.StatusBadRequest, "experiment JSON: "+err.Error())
		return
	}
	e.ID, e.Status, e.PlannedUnits = 0, "", 0
	if err := e.Validate(); err != nil {
		a.fail(w, err, true)
		return
	}
	out, err := Create(r.Context(), a.db, a.actor(r), e)
	if err != nil {
		a.fail(w, err, strings.Contains(err.Error(), "exists already"))
		return
	}
	api.WriteJSON(w, http.StatusCreated, out)
}

// Details is an experiment with its plan from the shop's history (when there is enough
// history to make one).
type Details struct {
	Experiment
	Plan      *Plan    `json:"plan,omitempty"`
	PlanText  string   `json:"plan_text,omitempty"`
	History   *History `json:"history,omitempty"`
	PlanError string   `json:"plan_error,omitempty"`
	// Ad-channel tests: the plan from the half year of daily sales before the test, and a
	// switchback's on/off schedule.
	GeoPlan  *GeoPlan         `json:"geo_plan,omitempty"`
	Schedule []SchedulePeriod `json:"schedule,omitempty"`
}

// Describe returns e's details with a plan from the four weeks before now (the half year
// of daily sales for an ad-channel test).
func Describe(ctx context.Context, db *store.DB, e Experiment, now time.Time) Details {
	d := Details{Experiment: e}
	if e.IsAdTest() {
		if loc, err := workspace.Location(ctx, db); err == nil {
			d.Schedule = e.Schedule(loc)
		}
		g, err := AdTestPlan(ctx, db, e, now, 0)
		if err != nil {
			d.PlanError = err.Error()
			return d
		}
		d.GeoPlan, d.PlanText = &g, g.Text
		if len(g.Designs) == 1 && g.Designs[0].Available {
			d.PlanText = g.Designs[0].Text
		}
		return d
	}
	p, h, err := PlanFromHistory(ctx, db, e, now)
	if err != nil {
		d.PlanError = err.Error()
		return d
	}
	d.Plan, d.History, d.PlanText = &p, &h, p.Text(e.Unit.Noun())
	return d
}

func (a *apiServer) show(w http.ResponseWriter, r *http.Request) {
	e, err := Get(r.Context(), a.db, r.PathValue("name"))
	if err != nil {
		a.fail(w, err, false)
		return
	}
	api.WriteJSON(w, http.StatusOK, Describe(r.Context(), a.db, e, time.Now()))
}

func (a *apiServer) report(w http.ResponseWriter, r *http.Request) {
	rep, err := BuildReport(r.Context(), a.db, r.PathValue("name"), ReportOptions{Fixed: r.URL.Query().Get("fixed") == "true"})
	if err != nil {
		a.fail(w, err, strings.Contains(err.Error(), "has not started") || strings.Contains(err.Error(), "randomises regions"))
		return
	}
	api.WriteJSON(w, http.StatusOK, rep)
}

func (a *apiServer) start(w http.ResponseWriter, r *http.Request) {
	e, err := StartPlanned(r.Context(), a.db, a.actor(r), r.PathValue("name"), time.Now())
	if err != nil {
		a.fail(w, err, !errors.Is(err, ErrNotFound))
		return
	}
	api.WriteJSON(w, http.StatusOK, e)
}

func (a *apiServer) stop(w http.ResponseWriter, r *http.Request) {
	e, err := Stop(r.Context(), a.db, a.actor(r), r.PathValue("name"), time.Now())
	if err != nil {
		a.fail(w, err, !errors.Is(err, ErrNotFound))
		return
	}
	api.WriteJSON(w, http.StatusOK, e)
}

// StartPlanned starts a draft, tuning its sequential analysis to the total units the
// shop's history says it needs (the default tuning when there is too little history).
func StartPlanned(ctx context.Context, db *store.DB, actor, name string, now time.Time) (Experiment, error) {
	e, err := Get(ctx, db, name)
	if err != nil {
		return e, err
	}
	var planned int64
	if e.IsAdTest() {
		// Read at the planned end with fixed-horizon intervals: nothing to tune.
	} else if p, _, err := PlanFromHistory(ctx, db, e, now); err == nil && p.Seq && !p.TooWeak {
		planned = int64(p.Tuning)
	}
	return Start(ctx, db, actor, name, now, planned)
}

// UnmarshalJSON reads a metric as an object {"kind":..., "event":...} or as the string
// ParseMetric reads ("revenue", "conversion:Signed Up").
func (m *Metric) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := ParseMetric(s)
		if err != nil {
			return err
		}
		*m = v
		return nil
	}
	var o struct {
		Kind  string `json:"kind"`
		Event string `json:"event"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("metric: want \"revenue\" or {\"kind\": ..., \"event\": ...}: %w", err)
	}
	*m = Metric{Kind: strings.ToLower(strings.TrimSpace(o.Kind)), Event: strings.TrimSpace(o.Event)}
	return nil
}
