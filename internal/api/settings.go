package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// SettingsHandler serves the workspace settings (mount it through NewRouter):
//
//	GET /api/v1/settings          every declared setting: name, value, default, set, summary, group
//	GET /api/v1/settings/{key}    one of them
//	PUT /api/v1/settings/{key}    body {"value": "USD"} (or the bare value as text/plain);
//	                              {"value": null} or an empty value resets it to its default
//
// A refused value answers 422 with the reason in words; every change is in the audit log
// under the token's name.
func SettingsHandler(db *store.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/settings", func(w http.ResponseWriter, r *http.Request) {
		vals, err := workspace.All(r.Context(), db)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"settings": vals})
	})
	mux.HandleFunc("GET /api/v1/settings/{key}", func(w http.ResponseWriter, r *http.Request) {
		writeSetting(w, r, db, http.StatusOK)
	})
	mux.HandleFunc("PUT /api/v1/settings/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if _, ok := workspace.Lookup(key); !ok {
			writeError(w, http.StatusNotFound, "unknown setting "+key+" (GET /api/v1/settings lists them)")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeError(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		value := strings.TrimSpace(string(body))
		if strings.HasPrefix(value, "{") {
			var in struct {
				Value *string `json:"value"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				writeError(w, http.StatusBadRequest, `the body is not {"value": "..."}: `+err.Error())
				return
			}
			value = ""
			if in.Value != nil {
				value = *in.Value
			}
		}
		actor := audit.ActorFrom(r.Context())
		if strings.TrimSpace(value) == "" {
			err = workspace.Reset(r.Context(), db, actor, key)
		} else {
			_, err = workspace.Set(r.Context(), db, actor, key, value)
		}
		var refused *workspace.RefusedError
		switch {
		case errors.As(err, &refused):
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeSetting(w, r, db, http.StatusOK)
	})
	return mux
}

func writeSetting(w http.ResponseWriter, r *http.Request, db *store.DB, code int) {
	key := r.PathValue("key")
	vals, err := workspace.All(r.Context(), db)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	for _, v := range vals {
		if v.Name == key {
			writeJSON(w, code, v)
			return
		}
	}
	writeError(w, http.StatusNotFound, "unknown setting "+key+" (GET /api/v1/settings lists them)")
}
