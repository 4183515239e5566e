package api

import (
	"net/http"
	"strconv"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// AuditHandler serves the audit log, newest first (mount it through NewRouter with
// auth.PermReadAudit, which only owners have):
//
//	GET /api/v1/audit?action=PREFIX&limit=100&before=ID
//
// The reply is {"entries": [...], "next_before": ID}; pass next_before as before for the
// next page (it is absent on the last page).
func AuditHandler(db *store.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := audit.Filter{Action: q.Get("action"), Limit: 100}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				writeError(w, http.StatusBadRequest, "limit must be 1..1000")
				return
			}
			f.Limit = n
		}
		if v := q.Get("before"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, "before must be an entry id")
				return
			}
			f.Before = n
		}
		es, err := audit.List(r.Context(), db, f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out := map[string]any{"entries": es}
		if len(es) == f.Limit {
			out["next_before"] = es[len(es)-1].ID
		}
		writeJSON(w, http.StatusOK, out)
	})
}
