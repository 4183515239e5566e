package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
)

// Route is one JSON API route: the method and pattern (as http.ServeMux reads them), the
// permission the token's role needs, and the handler. Handler may be a whole sub-mux of a
// domain package that serves this pattern among others: the router has matched the
// pattern and checked the permission before it runs.
type Route struct {
	Pattern string          // "GET /api/v1/customers/{id}"
	Perm    auth.Permission // what the token's role must be allowed (auth.Role.Can)
	Handler http.Handler
}

// CheckRoutes reports the first route that is not well declared: no method, a pattern
// outside /api/, an unknown permission, a missing handler, or a pattern twice.
func CheckRoutes(routes []Route) error {
	seen := map[string]bool{}
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok || method == "" || method != strings.ToUpper(method) || !strings.HasPrefix(path, "/api/") {
			return fmt.Errorf("API route %q: want \"METHOD /api/...\"", rt.Pattern)
		}
		if auth.LeastRole(rt.Perm) == "" {
			return fmt.Errorf("API route %q: unknown permission %q", rt.Pattern, rt.Perm)
		}
		if rt.Handler == nil {
			return fmt.Errorf("API route %q: no handler", rt.Pattern)
		}
		if seen[rt.Pattern] {
			return fmt.Errorf("API route %q declared twice", rt.Pattern)
		}
		seen[rt.Pattern] = true
	}
	return nil
}

// NewRouter serves routes behind the token check: a request needs a valid token whose
// role has the route's permission. Anything else under /api/ is 404 (401 without a token).
// Mount it at "/api/" on the server.
func NewRouter(db *store.DB, routes []Route) (http.Handler, error) {
	if err := CheckRoutes(routes); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.Pattern, guard(db, rt.Perm, rt.Handler))
	}
	mux.Handle("/api/", guard(db, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})))
	return mux, nil
}

type tokenKey struct{}

// TokenFrom returns the token of a request that passed the router.
func TokenFrom(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(Token)
	return t, ok
}

// guard checks the bearer token and, unless perm is "" (the router's own 404), that the
// token's role has perm; it puts the token and its audit actor in the request context.
func guard(db *store.DB, perm auth.Permission, next http.Handler) http.Handler {
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
		if perm != "" && !t.Role.Can(perm) {
			need := auth.LeastRole(perm)
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="omniroi", error="insufficient_scope", scope=%q`, string(perm)))
			writeError(w, http.StatusForbidden, fmt.Sprintf("API token %q has the %s role, which may not %s; %s %s needs a token with the %s role or one above it (omniroi token add NAME --role %s)",
				t.Name, t.Role, perm.Summary(), r.Method, r.URL.Path, need, need))
			return
		}
		ctx := context.WithValue(r.Context(), tokenKey{}, t)
		ctx = audit.WithActor(ctx, audit.TokenActor(t.Name))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
