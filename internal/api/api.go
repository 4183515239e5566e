// Package api serves omniroi's JSON API under /api/v1, behind API tokens
// (Authorization: Bearer TOKEN; create one with `omniroi token add NAME --role ROLE`).
//
// Every route is declared once, in a table of Route values (internal/cli/apiroutes.go),
// with the permission its token's role needs; NewRouter mounts nothing else.
package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// ReadHandler serves the customer and stats routes. It checks nothing: mount it only
// through NewRouter, as the handler of these routes:
//
//	GET /api/v1/customers/{id}   id, email, phone, userId or anonymousId → profile
//	GET /api/v1/customers?q=&limit=  search by name, email, phone, userId or id prefix
//	GET /api/v1/stats            counts and processor lag
func ReadHandler(db *store.DB) http.Handler {
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
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) { WriteJSON(w, code, v) }

func writeError(w http.ResponseWriter, code int, msg string) { WriteError(w, code, msg) }
