package privacy

import (
	"crypto/subtle"
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

// NewHTTPHandler serves the privacy API (mount it behind api.RequireToken):
//
//	GET  /api/v1/privacy/export?id=|email=|phone=|user_id=   the person's data as one JSON document
//	POST /api/v1/privacy/erase   {"id"|"email"|"phone"|"user_id": ..., "reason": "..."}  (or the same as form/query fields)
//
// Both need a write-scoped token: a full export and an erasure are owner/admin powers
// (auth.PermPrivacy), which read tokens do not carry.
func NewHTTPHandler(db *store.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/privacy/export", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := privacyToken(w, r, db)
		if !ok {
			return
		}
		q, err := queryFrom(r.URL.Query().Get)
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		d, err := Export(r.Context(), db, q, audit.TokenActor(tok))
		if err != nil {
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="privacy-export.json"`)
		api.WriteJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("POST /api/v1/privacy/erase", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := privacyToken(w, r, db)
		if !ok {
			return
		}
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
		rep, err := Erase(r.Context(), db, q, EraseOptions{Actor: audit.TokenActor(tok), Reason: in["reason"]})
		if err != nil {
			writeErr(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("/api/v1/privacy/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/privacy/export":
			w.Header().Set("Allow", "GET, HEAD")
			api.WriteError(w, http.StatusMethodNotAllowed, "export is GET")
			return
		case "/api/v1/privacy/erase":
			w.Header().Set("Allow", "POST")
			api.WriteError(w, http.StatusMethodNotAllowed, "erase is POST")
			return
		}
		api.WriteError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path+" (GET /api/v1/privacy/export, POST /api/v1/privacy/erase)")
	})
	return mux
}

// privacyToken checks that the request's token is write-scoped (RequireToken has checked
// that it exists) and returns its name for the audit log.
func privacyToken(w http.ResponseWriter, r *http.Request, db *store.DB) (string, bool) {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(scheme)), []byte("bearer")) != 1 || secret == "" {
		api.WriteError(w, http.StatusUnauthorized, "missing API token")
		return "", false
	}
	t, err := api.CheckToken(r.Context(), db, secret)
	if err != nil {
		api.WriteError(w, http.StatusUnauthorized, "invalid API token")
		return "", false
	}
	if t.Scope != api.ScopeWrite {
		w.Header().Set("WWW-Authenticate", `Bearer realm="omniroi", error="insufficient_scope", scope="write"`)
		api.WriteError(w, http.StatusForbidden, "privacy exports and erasures need a write token (omniroi token add NAME --write): they are owner and admin powers")
		return "", false
	}
	return t.Name, true
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
