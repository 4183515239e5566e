package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
)

// API tokens in the dashboard: the same api.CreateRoleToken, api.ListTokens and
// api.RevokeToken as `omniroi token add|list|revoke`, each recorded in the audit log as
// done by the logged-in user. Owners and admins only (auth.PermManageSources); like
// users, an admin neither gives nor revokes the owner role.

type tokenRow struct {
	api.Token
	Created  string
	Editable bool // the acting role may revoke it
}

type tokensData struct {
	Tokens    []tokenRow
	Grant     []auth.Role // roles the acting user may give a token
	NewSecret string      // shown once, right after creating a token
	NewName   string
	NewRole   auth.Role
	Notice    string
	Error     string
	Name      string // the form's values, kept after an error
	Role      string
}

func (s *server) tokensPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderTokens(w, r, &tokensData{Role: string(api.DefaultRole)}, http.StatusOK)
}

func (s *server) renderTokens(w http.ResponseWriter, r *http.Request, d *tokensData, code int) error {
	ctx := r.Context()
	p := s.newPage(r, "/tokens", "API tokens")
	p.NoRange = true
	p.Data = d
	w.Header().Set("Cache-Control", "no-store") // the page may carry a new secret
	me := sessionFrom(r).User
	d.Grant = grantable(me.Role)
	ts, err := api.ListTokens(ctx, s.db)
	if err != nil {
		return err
	}
	loc := s.location(ctx)
	for _, t := range ts {
		d.Tokens = append(d.Tokens, tokenRow{Token: t, Created: t.CreatedAt.In(loc).Format("2006-01-02 15:04"),
			Editable: me.Role == auth.RoleOwner || t.Role != auth.RoleOwner})
	}
	if wantsJSON(r) {
		out := map[string]any{"tokens": ts}
		if d.NewSecret != "" {
			out["created"] = map[string]any{"name": d.NewName, "role": d.NewRole, "token": d.NewSecret}
		}
		if d.Error != "" {
			out["error"] = d.Error
		}
		writeJSON(w, code, out)
		return nil
	}
	w.WriteHeader(code)
	return s.execute(w, "tokens", p)
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	d := &tokensData{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role")}
	me := sessionFrom(r).User
	role, err := auth.ParseRole(d.Role)
	code := http.StatusUnprocessableEntity
	switch {
	case err != nil:
	case role == auth.RoleOwner && me.Role != auth.RoleOwner:
		err, code = errors.New("only an owner may create a token with the owner role"), http.StatusForbidden
	case d.Name == "":
		err = errors.New("Give the token a name, such as the script or service that will use it.")
	default:
		t, secret, cerr := api.CreateRoleToken(r.Context(), s.db, d.Name, role)
		if cerr == nil {
			d.NewSecret, d.NewName, d.NewRole = secret, t.Name, t.Role
			d.Name, d.Role = "", string(api.DefaultRole)
			return s.renderTokens(w, r, d, http.StatusOK)
		}
		err = cerr
		if strings.Contains(cerr.Error(), "exists already") {
			code = http.StatusConflict
		}
	}
	d.Error = err.Error()
	return s.renderTokens(w, r, d, code)
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ts, err := api.ListTokens(r.Context(), s.db)
	if err != nil {
		return err
	}
	d := &tokensData{Role: string(api.DefaultRole)}
	for _, t := range ts {
		if t.ID != id {
			continue
		}
		if t.Role == auth.RoleOwner && sessionFrom(r).User.Role != auth.RoleOwner {
			d.Error = "Only an owner may revoke a token with the owner role."
			return s.renderTokens(w, r, d, http.StatusForbidden)
		}
		if r.PostFormValue("confirm") != "yes" {
			d.Error = "Tick the box beside Revoke to confirm."
			return s.renderTokens(w, r, d, http.StatusUnprocessableEntity)
		}
		if err := api.RevokeToken(r.Context(), s.db, t.Name); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errNotFound
			}
			return err
		}
		d.Notice = "The token “" + t.Name + "” was revoked: requests with it are refused from now on."
		return s.renderTokens(w, r, d, http.StatusOK)
	}
	return errNotFound
}
