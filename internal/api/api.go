// Package api serves omniroi's read API under /api/v1, behind API tokens
// (Authorization: Bearer TOKEN; create one with `omniroi token add NAME`).
package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// NewHandler returns the read API. Mount it at the server root: it routes /api/v1/...
//
//	GET /api/v1/customers/{id}   id, email, phone, userId or anonymousId → profile
//	GET /api/v1/customers?q=&limit=  search by name, email, phone, userId or id prefix
//	GET /api/v1/stats            counts and processor lag
func NewHandler(db *store.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, err := identity.FindCustomer(r.Context(), db, r.PathValue("id"))
		if errors.Is(err, identity.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no customer matches "+strconv.Quote(r.PathValue("id")))
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		p, err := identity.Profile(r.Context(), db, c.ID)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /api/v1/customers", func(w http.ResponseWriter, r *http.Request) {
		limit := 50
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 || n > 1000 {
				writeError(w, http.StatusBadRequest, "limit must be 1..1000")
				return
			}
			limit = n
		}
		cs, err := identity.Search(r.Context(), db, r.URL.Query().Get("q"), limit)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if cs == nil {
			cs = []identity.Customer{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"customers": cs})
	})
	mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, r *http.Request) {
		s, err := identity.Stats(r.Context(), db)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	return requireToken(db, mux)
}

func requireToken(db *store.DB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(h, " ")
		secret = strings.TrimSpace(secret)
		if !ok || subtle.ConstantTimeCompare([]byte(strings.ToLower(scheme)), []byte("bearer")) != 1 || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="omniroi"`)
			writeError(w, http.StatusUnauthorized, "missing API token: send Authorization: Bearer TOKEN (create one with omniroi token add NAME)")
			return
		}
		t, err := CheckToken(r.Context(), db, secret)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="omniroi", error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "invalid API token")
				return
			}
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && t.Scope != ScopeWrite {
			w.Header().Set("WWW-Authenticate", `Bearer realm="omniroi", error="insufficient_scope", scope="write"`)
			writeError(w, http.StatusForbidden, fmt.Sprintf("API token %q is read-only; %s needs a write token (omniroi token add NAME --write)", t.Name, r.Method))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteJSON and WriteError answer in the API's JSON shapes; other packages' API handlers
// use them so every /api/v1 route looks alike.
func WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }

// WriteError answers {"error": msg, "status": code}.
func WriteError(w http.ResponseWriter, code int, msg string) { writeError(w, code, msg) }

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": msg, "status": code})
}
