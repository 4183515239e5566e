package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/auth"
)

// Access levels of routes that are not permissions of a role.
const (
	// permPublic: no login (the login form, invitation links, static files).
	permPublic auth.Permission = "public"
	// permSession: any logged-in user, whatever the role (log out, the not-found page).
	permSession auth.Permission = "session"
)

// route is one dashboard route: method and pattern (as http.ServeMux reads them), the
// permission the user's role needs, and the handler. The dashboard mounts these and
// nothing else; a route without a known permission stops NewHandler.
type route struct {
	pattern string
	perm    auth.Permission
	h       handlerFunc
}

// routes is the dashboard, every page, form and file, in one table. To add a page, add
// a line here with the permission it needs (docs/HACKING.md, "Routes and roles"); the
// role test (roles_test.go) then requests it with every role.
func (s *server) routes() []route {
	return []route{
		{"GET /static/", permPublic, s.static},
		{"GET /login", permPublic, plain(s.loginPage)},
		{"POST /login", permPublic, plain(s.loginPost)},
		{"GET /invite/{token}", permPublic, s.invitePage},
		{"POST /invite/{token}", permPublic, s.acceptInvite},
		{"POST /logout", permSession, s.logout},

		{"GET /{$}", auth.PermReadReports, s.overview},
		{"GET /attribution", auth.PermReadReports, s.attributionPage},
		{"GET /paths", auth.PermReadReports, s.paths},
		{"GET /journeys", auth.PermReadReports, s.journeysRedirect}, // the Paths page's former address
		{"GET /automations", auth.PermReadReports, s.automations},
		{"GET /automations/{name}", auth.PermReadReports, s.automation},
		{"POST /automations/{name}/enable", auth.PermEditJourneys, s.setJourneyEnabled(true)}, // automations_edit.go
		{"POST /automations/{name}/disable", auth.PermEditJourneys, s.setJourneyEnabled(false)},
		{"POST /automations/{name}/costs", auth.PermEditJourneys, s.saveJourneyCosts},
		{"GET /automations/{name}/preview", auth.PermReadPersonal, s.previewPage},
		{"GET /automations/templates", auth.PermEditJourneys, s.applyForm}, // ?template=NAME ("templates" is no journey's name)
		{"POST /automations/templates", auth.PermEditJourneys, s.applyTemplate},
		{"GET /experiments", auth.PermReadReports, s.experiments}, // experiments.go
		{"POST /experiments", auth.PermEditJourneys, s.createExperiment},
		{"GET /experiments/{name}", auth.PermReadReports, s.experimentPage},
		{"POST /experiments/{name}/start", auth.PermEditJourneys, s.startExperiment},
		{"POST /experiments/{name}/stop", auth.PermEditJourneys, s.stopExperiment},
		{"GET /customers", auth.PermReadPersonal, s.customers},
		{"GET /customers/{id}", auth.PermReadPersonal, s.customer},
		{"GET /customers/{id}/export", auth.PermPrivacy, s.exportCustomer}, // privacy.go
		{"GET /customers/{id}/erase", auth.PermPrivacy, s.eraseConfirm},
		{"POST /customers/{id}/erase", auth.PermPrivacy, s.erasePost},
		{"GET /clienteling", auth.PermClienteling, s.clienteling}, // clienteling.go: staff at the till
		{"GET /clienteling/{id}", auth.PermClienteling, s.clientelingCard},
		{"GET /leads", auth.PermReadPersonal, s.leadsPage}, // leads.go
		{"GET /personalisation", auth.PermReadReports, s.personalisationPage},
		{"GET /segments", auth.PermReadReports, s.segments},
		{"GET /spend", auth.PermReadReports, s.spend},
		{"GET /budget", auth.PermReadReports, s.budgetPage},
		{"GET /goals", auth.PermReadReports, s.goalsPage}, // goals.go
		{"POST /goals", auth.PermEditJourneys, s.addGoal},
		{"POST /goals/{name}/remove", auth.PermEditJourneys, s.removeGoal},
		{"GET /sources", auth.PermReadReports, s.sources},
		{"POST /sources", auth.PermManageSources, s.createSource},
		{"POST /sources/{id}/rotate", auth.PermManageSources, s.rotateSource},
		{"POST /sources/{id}/revoke", auth.PermManageSources, s.revokeSource},
		{"POST /sources/{id}/secret", auth.PermManageSources, s.setConnectorSecret},
		{"POST /sources/upload", auth.PermManageSources, s.uploadImport},

		{"GET /users", auth.PermManageUsers, s.users},
		{"POST /users/invite", auth.PermManageUsers, s.inviteUser},
		{"POST /users/{id}/role", auth.PermManageUsers, s.changeRole},
		{"POST /users/{id}/remove", auth.PermManageUsers, s.removeUser},
		{"POST /users/invites/{id}/revoke", auth.PermManageUsers, s.revokeInvite},
		{"GET /tokens", auth.PermManageSources, s.tokensPage}, // tokens.go
		{"POST /tokens", auth.PermManageSources, s.createToken},
		{"POST /tokens/{id}/revoke", auth.PermManageSources, s.revokeToken},
		{"GET /audit", auth.PermReadAudit, s.auditPage},
		{"GET /settings", auth.PermSettings, s.settingsPage}, // settings.go
		{"POST /settings", auth.PermSettings, s.saveSetting},
		{"POST /settings/margins", auth.PermSettings, s.saveMargins},

		{"/", permSession, s.notFound},
	}
}

// plain adapts a handler that answers errors itself.
func plain(h http.HandlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { h(w, r); return nil }
}

// checkRoute says what is wrong with a route's declaration, if anything.
func checkRoute(rt route) error {
	if rt.h == nil {
		return fmt.Errorf("dashboard route %q has no handler", rt.pattern)
	}
	if rt.pattern != "/" {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok || method == "" || method != strings.ToUpper(method) || !strings.HasPrefix(path, "/") {
			return fmt.Errorf("dashboard route %q: want \"METHOD /path\"", rt.pattern)
		}
	}
	if rt.perm != permPublic && rt.perm != permSession && auth.LeastRole(rt.perm) == "" {
		return fmt.Errorf("dashboard route %q: unknown permission %q", rt.pattern, rt.perm)
	}
	return nil
}

// mount builds the dashboard's mux from the route table, each route behind its check.
func (s *server) mount() (*http.ServeMux, error) {
	mux := http.NewServeMux()
	s.perms = map[string]auth.Permission{}
	for _, rt := range s.routes() {
		if err := checkRoute(rt); err != nil {
			return nil, err
		}
		if _, dup := s.perms[rt.pattern]; dup {
			return nil, fmt.Errorf("dashboard route %q declared twice", rt.pattern)
		}
		s.perms[rt.pattern] = rt.perm
		mux.Handle(rt.pattern, s.guard(rt))
	}
	return mux, nil
}

// guard wraps a route's handler in its access check.
func (s *server) guard(rt route) http.Handler {
	if rt.perm == permPublic {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := rt.h(w, r); err != nil {
				s.serverError(w, r, err)
			}
		})
	}
	return s.requireLogin(rt.perm, rt.h)
}

// canOpen reports whether role may GET path (a page of the navigation bar).
func (s *server) canOpen(role auth.Role, path string) bool {
	p := "GET " + path
	if path == "/" {
		p = "GET /{$}"
	}
	perm, ok := s.perms[p]
	return ok && (perm == permPublic || perm == permSession || role.Can(perm))
}

// forbidden answers a logged-in user whose role lacks perm.
func (s *server) forbidden(w http.ResponseWriter, r *http.Request, role auth.Role, perm auth.Permission) {
	need := auth.LeastRole(perm)
	msg := fmt.Sprintf("Your role (%s) does not allow this: it needs permission to %s, which the %s role and the roles above it have. An owner or admin can change your role on the Users page.",
		role, perm.Summary(), need)
	s.renderStatus(w, r, http.StatusForbidden, "Not allowed", msg)
}
