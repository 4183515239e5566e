package journey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// NewAPIHandler serves journeys over the JSON API, the same operations as `omniroi
// journey`. It checks nothing itself: each route is declared, with the permission a
// token's role needs, in the API route table (internal/cli/apiroutes.go). Changes are
// recorded in the audit log as done by the request's token (audit.ActorFrom).
//
//	GET  /api/v1/journeys                      every journey: versions, enabled, runs
//	POST /api/v1/journeys                      apply a document (YAML or JSON body), or ?template=NAME
//	POST /api/v1/journeys/validate             compile a document: the plan, or the errors
//	GET  /api/v1/journeys/templates            the built-in journeys
//	GET  /api/v1/journeys/policy               the workspace policy (caps, quiet hours, time zone)
//	PUT  /api/v1/journeys/policy               replace it (YAML or JSON body, as `omniroi journey policy FILE`)
//	GET  /api/v1/journeys/{name}               the plan with counts per step
//	POST /api/v1/journeys/{name}/enable        (and /disable)
//	GET  /api/v1/journeys/{name}/report        treated vs holdout: ?from=&to=&window=7d&cost=email=0,sms=5&all_runs=true
//	GET  /api/v1/journeys/{name}/decisions     why channels and send times were chosen: ?run=&limit=
func NewAPIHandler(db *store.DB) http.Handler {
	a := &apiServer{db: db}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/journeys", a.list)
	mux.HandleFunc("POST /api/v1/journeys", a.apply)
	mux.HandleFunc("POST /api/v1/journeys/validate", a.validate)
	mux.HandleFunc("GET /api/v1/journeys/templates", a.templates)
	mux.HandleFunc("GET /api/v1/journeys/policy", a.getPolicy)
	mux.HandleFunc("PUT /api/v1/journeys/policy", a.putPolicy)
	mux.HandleFunc("GET /api/v1/journeys/{name}", a.show)
	mux.HandleFunc("POST /api/v1/journeys/{name}/enable", func(w http.ResponseWriter, r *http.Request) { a.enable(w, r, true) })
	mux.HandleFunc("POST /api/v1/journeys/{name}/disable", func(w http.ResponseWriter, r *http.Request) { a.enable(w, r, false) })
	mux.HandleFunc("GET /api/v1/journeys/{name}/report", a.report)
	mux.HandleFunc("GET /api/v1/journeys/{name}/decisions", a.decisions)
	return mux
}

type apiServer struct{ db *store.DB }

func apiJSON(w http.ResponseWriter, code int, v any) { api.WriteJSON(w, code, v) }

func apiError(w http.ResponseWriter, code int, msg string) { api.WriteError(w, code, msg) }

// fail answers err: 404 for a missing journey, 400 for a bad document or parameter
// (the caller says which), 500 otherwise.
func fail(w http.ResponseWriter, err error, bad bool) {
	switch {
	case errors.Is(err, ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
	case bad:
		apiError(w, http.StatusBadRequest, err.Error())
	default:
		apiError(w, http.StatusInternalServerError, err.Error())
	}
}

func (a *apiServer) list(w http.ResponseWriter, r *http.Request) {
	l, err := List(r.Context(), a.db)
	if err != nil {
		fail(w, err, false)
		return
	}
	if l == nil {
		l = []Summary{}
	}
	apiJSON(w, http.StatusOK, l)
}

// document reads a request body of at most 1 MiB: a journey document.
func document(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "journey document: "+err.Error())
		return nil, false
	}
	return b, true
}

func (a *apiServer) apply(w http.ResponseWriter, r *http.Request) {
	src, ok := document(w, r)
	if !ok {
		return
	}
	if name := r.URL.Query().Get("template"); name != "" {
		if len(strings.TrimSpace(string(src))) > 0 {
			apiError(w, http.StatusBadRequest, "send either a document or ?template=NAME, not both")
			return
		}
		var err error
		if src, err = TemplateSource(name); err != nil {
			fail(w, err, false)
			return
		}
	}
	if len(strings.TrimSpace(string(src))) == 0 {
		apiError(w, http.StatusBadRequest, "empty body: send a journey document (YAML or JSON), or ?template=NAME")
		return
	}
	if _, err := Compile(src); err != nil {
		fail(w, err, true) // what is wrong, field by field
		return
	}
	res, err := Apply(r.Context(), a.db, src)
	if err != nil {
		fail(w, err, false)
		return
	}
	code := http.StatusOK
	if res.Changed {
		code = http.StatusCreated
	}
	apiJSON(w, code, res)
}

func (a *apiServer) validate(w http.ResponseWriter, r *http.Request) {
	src, ok := document(w, r)
	if !ok {
		return
	}
	p, err := Compile(src)
	if err != nil {
		fail(w, err, true)
		return
	}
	apiJSON(w, http.StatusOK, map[string]any{"name": p.Name, "plan": p.String(), "compiled": p})
}

func (a *apiServer) templates(w http.ResponseWriter, r *http.Request) {
	type tpl struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Source      string `json:"source"`
	}
	var out []tpl
	for _, t := range Templates() {
		out = append(out, tpl{t.Name, t.Description, string(t.Source)})
	}
	apiJSON(w, http.StatusOK, out)
}

func (a *apiServer) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := LoadPolicy(r.Context(), a.db)
	if err != nil {
		fail(w, err, false)
		return
	}
	apiJSON(w, http.StatusOK, p)
}

func (a *apiServer) putPolicy(w http.ResponseWriter, r *http.Request) {
	src, ok := document(w, r)
	if !ok {
		return
	}
	p, err := ParsePolicy(src)
	if err != nil {
		fail(w, err, true)
		return
	}
	if err := SavePolicy(r.Context(), a.db, p); err != nil {
		fail(w, err, false)
		return
	}
	apiJSON(w, http.StatusOK, p) // running engines pick it up within 30 s
}

func (a *apiServer) show(w http.ResponseWriter, r *http.Request) {
	d, err := Show(r.Context(), a.db, r.PathValue("name"))
	if err != nil {
		fail(w, err, false)
		return
	}
	if t, ok := api.TokenFrom(r.Context()); !ok || !t.Role.Can(auth.PermReadPersonal) {
		d.Decisions = nil // they name customers; the plan and counts are aggregate
	}
	apiJSON(w, http.StatusOK, d)
}

func (a *apiServer) enable(w http.ResponseWriter, r *http.Request, on bool) {
	name := r.PathValue("name")
	if err := SetEnabled(r.Context(), a.db, name, on); err != nil {
		fail(w, err, false)
		return
	}
	apiJSON(w, http.StatusOK, map[string]any{"name": name, "enabled": on})
}

func (a *apiServer) report(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt := ReportOptions{Window: 7 * 24 * time.Hour}
	var err error
	if v := q.Get("window"); v != "" {
		if opt.Window, err = ParseDays(v); err != nil || opt.Window <= 0 {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("window %q: want a duration such as 7d or 48h", v))
			return
		}
	}
	if opt.CostPerSend, err = ParseCosts(q.Get("cost")); err != nil {
		apiError(w, http.StatusBadRequest, "cost: "+err.Error())
		return
	}
	if v := q.Get("all_runs"); v != "" {
		if opt.AllRuns, err = strconv.ParseBool(v); err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("all_runs %q: want true or false", v))
			return
		}
	}
	if opt.From, opt.To, err = ReportPeriod(r.Context(), a.db, q.Get("from"), q.Get("to"), "from", "to"); err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := r.PathValue("name")
	if _, err := Show(r.Context(), a.db, name); err != nil {
		fail(w, err, false)
		return
	}
	rep, err := Measure(r.Context(), a.db, name, opt)
	if err != nil {
		fail(w, err, false)
		return
	}
	apiJSON(w, http.StatusOK, rep)
}

func (a *apiServer) decisions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, run := 50, int64(0)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to 1000", v))
			return
		}
		limit = n
	}
	if v := q.Get("run"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("run %q: want a run id", v))
			return
		}
		run = n
	}
	ds, err := Decisions(r.Context(), a.db, r.PathValue("name"), run, limit)
	if err != nil {
		fail(w, err, false)
		return
	}
	if ds == nil {
		ds = []Decision{}
	}
	apiJSON(w, http.StatusOK, ds)
}

// ParseDays reads a duration that may be given in days: 7d, 1.5d, or Go's 48h, 90m.
func ParseDays(s string) (time.Duration, error) {
	if v, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(v, 64)
		return time.Duration(n * float64(24*time.Hour)), err
	}
	return time.ParseDuration(s)
}

// ParseCosts reads send costs per channel in minor units: "email=0,sms=5".
func ParseCosts(s string) (map[string]int64, error) {
	if s == "" {
		return nil, nil // no costs given: the report reads the journeys.cost.* settings
	}
	out := map[string]int64{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%q is not channel=minor_units", kv)
		}
		out[strings.TrimSpace(k)] = n
	}
	return out, nil
}

// ReportPeriod turns inclusive first and last days (YYYY-MM-DD in the business time
// zone, the "timezone" setting; either may be empty) into ReportOptions.From and To.
// fromName and toName name the parameters in errors (--from, or from).
func ReportPeriod(ctx context.Context, db *store.DB, from, to, fromName, toName string) (time.Time, time.Time, error) {
	var f, t time.Time
	if from == "" && to == "" {
		return f, t, nil
	}
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return f, t, fmt.Errorf("time zone setting: %w", err)
	}
	if from != "" {
		if f, err = time.ParseInLocation(time.DateOnly, from, loc); err != nil {
			return f, t, fmt.Errorf("%s %q is not a date like 2026-03-01: %w", fromName, from, err)
		}
	}
	if to != "" {
		if t, err = time.ParseInLocation(time.DateOnly, to, loc); err != nil {
			return f, t, fmt.Errorf("%s %q is not a date like 2026-03-31: %w", toName, to, err)
		}
		t = t.AddDate(0, 0, 1) // the last day counts whole
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return f, t, fmt.Errorf("%s %s is after %s %s", fromName, from, toName, to)
	}
	return f, t, nil
}
