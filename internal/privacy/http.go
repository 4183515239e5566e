package privacy

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// NewHTTPHandler serves the privacy API. Mount it through api.NewRouter, whose routes
// (internal/cli/apiroutes.go) give both auth.PermPrivacy: a token with the owner or admin
// role, as on the dashboard.
//
//	GET  /api/v1/privacy/export?id=|email=|phone=|user_id=   the person's data as one JSON document
//	POST /api/v1/privacy/erase   {"id"|"email"|"phone"|"user_id": ..., "reason": "..."}  (or form fields)
//
// The audit log names the token (audit.ActorFrom: the router puts it in the context).
func NewHTTPHandler(db *store.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/privacy/export", func(w http.ResponseWriter, r *http.Request) {
		q, err := queryFrom(r.URL.Query().Get)
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		d, err := Export(r.Context(), db, q, audit.ActorFrom(r.Context()))
		if err != nil {
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="privacy-export.json"`)
		api.WriteJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("POST /api/v1/privacy/erase", func(w http.ResponseWriter, r *http.Request) {
		in := map[string]string{}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var raw map[string]any
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&raw); err != nil {
				api.WriteError(w, http.StatusBadRequest, "body: want a JSON object like {\"email\": \"...\", \"reason\": \"...\"}")
				return
			}
			for k, v := range raw {
				switch x := v.(type) {
				case string:
					in[k] = x
				case float64:
					in[k] = strconv.FormatFloat(x, 'f', -1, 64)
				}
			}
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				api.WriteError(w, http.StatusBadRequest, "bad form")
				return
			}
			for k := range r.Form {
				in[k] = r.Form.Get(k)
			}
		}
		q, err := queryFrom(func(k string) string { return in[k] })
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		rep, err := Erase(r.Context(), db, q, EraseOptions{Actor: audit.ActorFrom(r.Context()), Reason: in["reason"]})
		if err != nil {
			writeErr(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, rep)
	})
	return mux
}

// queryFrom reads exactly one of id, email, phone, user_id.
func queryFrom(get func(string) string) (Query, error) {
	var q Query
	n := 0
	if v := strings.TrimSpace(get("id")); v != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(v, "#"), 10, 64)
		if err != nil || id <= 0 {
			return q, errors.New("id must be a customer id (a positive number)")
		}
		q.ID = id
		n++
	}
	if v := strings.TrimSpace(get("email")); v != "" {
		q.Email = v
		n++
	}
	if v := strings.TrimSpace(get("phone")); v != "" {
		q.Phone = v
		n++
	}
	if v := strings.TrimSpace(get("user_id")); v != "" {
		q.UserID = v
		n++
	}
	if n != 1 {
		return q, errors.New("name the person with exactly one of id, email, phone, user_id")
	}
	return q, nil
}

func writeErr(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNoSubject) {
		api.WriteError(w, http.StatusNotFound, err.Error())
		return
	}
	if errors.Is(err, ErrBadQuery) {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	api.WriteError(w, http.StatusInternalServerError, err.Error())
}
