package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/store"
)

// ClientelingAPI serves the clienteling search and card as JSON for API tokens (the
// routes are declared, with their permission, in internal/cli/apiroutes.go). Both call
// the functions behind the clienteling page, so the API and the page show the same
// figures, and both are audit-logged the same way (`customer.search`,
// `customer.view` from "api").
type ClientelingAPI struct{ s *server }

// NewClientelingAPI builds the API's handlers over opt's shared services (pass the
// dashboard's recommendation and value services so both read one model).
func NewClientelingAPI(db *store.DB, opt Options) (*ClientelingAPI, error) {
	s, _, err := newServer(db, opt)
	if err != nil {
		return nil, err
	}
	return &ClientelingAPI{s: s}, nil
}

// clientelingResult is one search hit in the API's JSON.
type clientelingResult struct {
	ID       int64  `json:"customer_id"`
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	LastSeen string `json:"last_seen"`
	Orders   int64  `json:"orders"`
}

// Search answers ?q=TEXT with up to 10 customers, newest first, and "more" when there
// are others.
func (a *ClientelingAPI) Search() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := strings.TrimSpace(r.URL.Query().Get("q"))
		if q == "" {
			api.WriteError(w, http.StatusBadRequest, "q is required: a name, email, phone, loyalty card or customer number")
			return
		}
		d, err := a.s.searchClienteling(r.Context(), q, a.s.location(r.Context()))
		if err != nil {
			api.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out := make([]clientelingResult, 0, len(d.Hits))
		for _, h := range d.Hits {
			out = append(out, clientelingResult(h))
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"query": d.Query, "results": out, "more": d.More})
	})
}

// Customer answers with one customer's card, as the clienteling page's JSON.
func (a *ClientelingAPI) Customer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
		if err != nil || id <= 0 {
			api.WriteError(w, http.StatusNotFound, "no such customer: use the customer number from a search")
			return
		}
		p := a.s.newPage(r, "/clienteling", "")
		c, err := a.s.buildClientelingCard(r, p, id, "api")
		switch {
		case errors.Is(err, errNotFound):
			api.WriteError(w, http.StatusNotFound, "no such customer")
		case err != nil:
			api.WriteError(w, http.StatusInternalServerError, err.Error())
		default:
			api.WriteJSON(w, http.StatusOK, c)
		}
	})
}
