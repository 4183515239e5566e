package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// InvitePath is where invitation links lead: InvitePath + token.
const InvitePath = "/invite/"

// InviteLink is the link an invitee opens, on the dashboard at base (http(s)://host[/path]).
func InviteLink(base, token string) string {
	return strings.TrimRight(base, "/") + InvitePath + token
}

type userRow struct {
	auth.User
	Created  string
	Editable bool // the acting role may change or remove this user
	Self     bool
}

type inviteRow struct {
	auth.Invite
	Created, Expires string
	Editable         bool
}

type usersData struct {
	Users    []userRow
	Invites  []inviteRow
	Grant    []auth.Role // roles the acting user may give
	NewLink  string      // shown once, right after an invitation
	NewEmail string
	Notice   string
	Error    string
	Email    string // the invitation form's values, kept after an error
	Role     string
}

func (s *server) acting(r *http.Request) auth.Acting {
	u := sessionFrom(r).User
	return auth.Acting{Actor: audit.UserActor(u.Email), Role: u.Role}
}

// grantable lists the roles by may give: owners any, others all but owner.
func grantable(by auth.Role) []auth.Role {
	var out []auth.Role
	for _, r := range auth.Roles {
		if r != auth.RoleOwner || by == auth.RoleOwner {
			out = append(out, r)
		}
	}
	return out
}

func (s *server) users(w http.ResponseWriter, r *http.Request) error {
	return s.usersPage(w, r, &usersData{Role: string(auth.RoleAnalyst)}, http.StatusOK)
}

func (s *server) usersPage(w http.ResponseWriter, r *http.Request, d *usersData, code int) error {
	ctx := r.Context()
	p := s.newPage(r, "/users", "Users")
	p.NoRange = true
	p.Data = d
	me := sessionFrom(r).User
	d.Grant = grantable(me.Role)
	loc := s.location(ctx)
	users, err := auth.Users(ctx, s.db)
	if err != nil {
		return err
	}
	for _, u := range users {
		d.Users = append(d.Users, userRow{User: u, Created: u.CreatedAt.In(loc).Format("2006-01-02"),
			Editable: me.Role == auth.RoleOwner || u.Role != auth.RoleOwner, Self: u.ID == me.ID})
	}
	invs, err := auth.Invites(ctx, s.db, s.opt.Now())
	if err != nil {
		return err
	}
	for _, inv := range invs {
		d.Invites = append(d.Invites, inviteRow{Invite: inv, Created: inv.CreatedAt.In(loc).Format("2006-01-02 15:04"),
			Expires: inv.ExpiresAt.In(loc).Format("2006-01-02 15:04"), Editable: me.Role == auth.RoleOwner || inv.Role != auth.RoleOwner})
	}
	if wantsJSON(r) {
		writeJSON(w, code, map[string]any{"users": users, "invites": invs})
		return nil
	}
	w.WriteHeader(code)
	return s.execute(w, "users", p)
}

// userError turns a refused user change into a status and a sentence for the page.
func userError(err error) int {
	switch {
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, auth.ErrLastOwner), errors.Is(err, auth.ErrUserExists):
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// inviteBase is the dashboard address invitation links start with: the dashboard_url
// setting, else the address this browser used.
func (s *server) inviteBase(r *http.Request) (string, error) {
	base, err := workspace.DashboardURL(r.Context(), s.db)
	if err != nil || base != "" {
		return base, err
	}
	scheme := "http"
	if isSecure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host, nil
}

func (s *server) inviteUser(w http.ResponseWriter, r *http.Request) error {
	d := &usersData{Email: strings.TrimSpace(r.PostFormValue("email")), Role: r.PostFormValue("role")}
	role, err := auth.ParseRole(d.Role)
	if err == nil {
		var base, token string
		if base, err = s.inviteBase(r); err == nil {
			var inv auth.Invite
			if inv, token, err = auth.CreateInvite(r.Context(), s.db, s.acting(r), d.Email, role, s.opt.Now()); err == nil {
				d.NewLink, d.NewEmail = InviteLink(base, token), inv.Email
				d.Email, d.Role = "", string(auth.RoleAnalyst)
				return s.usersPage(w, r, d, http.StatusOK)
			}
		}
	}
	if errors.Is(err, auth.ErrUserExists) {
		d.Error = d.Email + " has an account already: change their role below."
	} else {
		d.Error = err.Error()
	}
	return s.usersPage(w, r, d, userError(err))
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, errNotFound
	}
	return id, nil
}

func (s *server) changeRole(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d := &usersData{Role: string(auth.RoleAnalyst)}
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err == nil {
		var u auth.User
		if u, err = auth.SetRole(r.Context(), s.db, s.acting(r), id, role); err == nil {
			d.Notice = u.Email + " is now " + string(u.Role) + "."
			return s.usersPage(w, r, d, http.StatusOK)
		}
	}
	d.Error = err.Error()
	return s.usersPage(w, r, d, userError(err))
}

func (s *server) removeUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d := &usersData{Role: string(auth.RoleAnalyst)}
	if r.PostFormValue("confirm") != "yes" {
		d.Error = "Tick the box beside Remove to confirm."
		return s.usersPage(w, r, d, http.StatusUnprocessableEntity)
	}
	u, err := auth.RemoveUser(r.Context(), s.db, s.acting(r), id)
	if err != nil {
		d.Error = err.Error()
		return s.usersPage(w, r, d, userError(err))
	}
	if u.ID == sessionFrom(r).User.ID {
		http.SetCookie(w, s.sessionCookie(r, "", -1))
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	d.Notice = u.Email + " was removed and logged out."
	return s.usersPage(w, r, d, http.StatusOK)
}

func (s *server) revokeInvite(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d := &usersData{Role: string(auth.RoleAnalyst)}
	if err := auth.RevokeInvite(r.Context(), s.db, s.acting(r), id); err != nil {
		d.Error = err.Error()
		return s.usersPage(w, r, d, userError(err))
	}
	d.Notice = "The invitation was withdrawn; its link no longer works."
	return s.usersPage(w, r, d, http.StatusOK)
}

type inviteData struct {
	Invite auth.Invite
	Error  string
	Done   bool
}

// invitePage is where an invitation link leads: the invitee sets a password.
func (s *server) invitePage(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	inv, err := auth.LookupInvite(r.Context(), s.db, r.PathValue("token"), s.opt.Now())
	if errors.Is(err, auth.ErrInviteInvalid) {
		s.renderStatus(w, r, http.StatusNotFound, "Invitation not valid", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	return s.renderInvite(w, r, http.StatusOK, &inviteData{Invite: inv})
}

func (s *server) renderInvite(w http.ResponseWriter, r *http.Request, code int, d *inviteData) error {
	p := s.newPage(r, "", "Join omniroi")
	p.NoRange = true
	p.Data = d
	w.WriteHeader(code)
	return s.execute(w, "invite", p)
}

func (s *server) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return nil
	}
	token := r.PathValue("token")
	inv, err := auth.LookupInvite(r.Context(), s.db, token, s.opt.Now())
	if errors.Is(err, auth.ErrInviteInvalid) {
		s.renderStatus(w, r, http.StatusNotFound, "Invitation not valid", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	d := &inviteData{Invite: inv}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		d.Error = "The two passwords differ. Type the same password twice."
		return s.renderInvite(w, r, http.StatusUnprocessableEntity, d)
	}
	if _, err := auth.AcceptInvite(r.Context(), s.db, token, pw, s.opt.Now()); err != nil {
		if errors.Is(err, auth.ErrInviteInvalid) {
			s.renderStatus(w, r, http.StatusNotFound, "Invitation not valid", auth.ErrInviteInvalid.Error())
			return nil
		}
		d.Error = err.Error()
		return s.renderInvite(w, r, http.StatusUnprocessableEntity, d)
	}
	d.Done = true
	return s.renderInvite(w, r, http.StatusOK, d)
}
