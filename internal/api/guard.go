package api

import (
	"net/http"

	"github.com/omniroi/omniroi/internal/store"
)

// RequireToken guards another package's JSON handler (attribution, value, journeys)
// with the same API tokens as the read API.
func RequireToken(db *store.DB, next http.Handler) http.Handler { return requireToken(db, next) }
