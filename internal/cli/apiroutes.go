package cli

import (
	"fmt"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/goals"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/web"
)

// apiRoutes is the JSON API, every route in one table with the permission its token's
// role needs (auth.Role.Can). api.NewRouter mounts these and nothing else under /api/.
// A handler may be a domain package's own mux serving several of these patterns: the
// router has matched the pattern and checked the role before it runs. To add a route,
// add a line here (docs/HACKING.md, "Routes and roles"); TestAPIRoles then calls it with
// a token of every role.
//
// rec is the recommendation service the dashboard shares (the clienteling routes read its
// model); nil builds one.
func apiRoutes(db *store.DB, budget *mix.Service, attrSvc *attribution.Service, values *value.Service, rec ...*recommend.Service) []api.Route {
	read := api.ReadHandler(db)
	attr := api.AttributionHandler(attrSvc)
	val := values.Handler()
	jr := journey.NewAPIHandler(db)
	pr := privacy.NewHTTPHandler(db)
	ex := experiment.NewAPIHandler(db, journey.ExperimentReport)
	bu := mix.NewHTTPHandler(budget)
	gl := goals.NewHTTPHandler(db)
	set := api.SettingsHandler(db)
	var shared *recommend.Service
	if len(rec) > 0 {
		shared = rec[0]
	}
	cl, err := web.NewClientelingAPI(db, web.Options{Budget: budget, Attribution: attrSvc, Value: values, Recommend: shared})
	if err != nil {
		panic(fmt.Sprintf("clienteling API: %v", err)) // embedded templates: a build defect
	}
	return []api.Route{
		{Pattern: "GET /api/v1/stats", Perm: auth.PermReadReports, Handler: read},
		{Pattern: "GET /api/v1/customers", Perm: auth.PermReadPersonal, Handler: read},
		{Pattern: "GET /api/v1/customers/{id}", Perm: auth.PermReadPersonal, Handler: read},
		{Pattern: "GET /api/v1/customers/{id}/value", Perm: auth.PermReadPersonal, Handler: val},

		// Clienteling: one customer at a time, for staff at the till (and every role that
		// reads personal data); every search and card is audit-logged.
		{Pattern: "GET /api/v1/clienteling/search", Perm: auth.PermClienteling, Handler: cl.Search()},
		{Pattern: "GET /api/v1/clienteling/customers/{id}", Perm: auth.PermClienteling, Handler: cl.Customer()},

		{Pattern: "GET /api/v1/attribution", Perm: auth.PermReadReports, Handler: attr},
		{Pattern: "GET /api/v1/attribution/models", Perm: auth.PermReadReports, Handler: attr},
		{Pattern: "GET /api/v1/roi", Perm: auth.PermReadReports, Handler: attr},

		{Pattern: "GET /api/v1/clv", Perm: auth.PermReadPersonal, Handler: val}, // lists top customers
		{Pattern: "GET /api/v1/segments", Perm: auth.PermReadReports, Handler: val},
		{Pattern: "GET /api/v1/cohorts", Perm: auth.PermReadReports, Handler: val},
		{Pattern: "GET /api/v1/economics", Perm: auth.PermReadReports, Handler: val},

		{Pattern: "GET /api/v1/journeys", Perm: auth.PermReadReports, Handler: jr},
		{Pattern: "POST /api/v1/journeys", Perm: auth.PermEditJourneys, Handler: jr},
		{Pattern: "POST /api/v1/journeys/validate", Perm: auth.PermEditJourneys, Handler: jr},
		{Pattern: "GET /api/v1/journeys/templates", Perm: auth.PermReadReports, Handler: jr},
		{Pattern: "GET /api/v1/journeys/policy", Perm: auth.PermReadReports, Handler: jr},
		{Pattern: "PUT /api/v1/journeys/policy", Perm: auth.PermEditJourneys, Handler: jr},
		{Pattern: "GET /api/v1/journeys/{name}", Perm: auth.PermReadReports, Handler: jr}, // decisions only with read_personal
		{Pattern: "POST /api/v1/journeys/{name}/enable", Perm: auth.PermEditJourneys, Handler: jr},
		{Pattern: "POST /api/v1/journeys/{name}/disable", Perm: auth.PermEditJourneys, Handler: jr},
		{Pattern: "GET /api/v1/journeys/{name}/report", Perm: auth.PermReadReports, Handler: jr},
		{Pattern: "GET /api/v1/journeys/{name}/decisions", Perm: auth.PermReadPersonal, Handler: jr}, // names customer ids

		{Pattern: "GET /api/v1/audit", Perm: auth.PermReadAudit, Handler: api.AuditHandler(db)},

		// Settings are read by every report reader (they say which currency and time zone
		// the numbers are in; secrets are never settings); changing them is owners' and admins'.
		{Pattern: "GET /api/v1/settings", Perm: auth.PermReadReports, Handler: set},
		{Pattern: "GET /api/v1/settings/{key}", Perm: auth.PermReadReports, Handler: set},
		{Pattern: "PUT /api/v1/settings/{key}", Perm: auth.PermSettings, Handler: set},

		{Pattern: "GET /api/v1/budget/fit", Perm: auth.PermReadReports, Handler: bu},
		{Pattern: "GET /api/v1/budget/plan", Perm: auth.PermReadReports, Handler: bu},

		{Pattern: "GET /api/v1/goals", Perm: auth.PermReadReports, Handler: gl},
		{Pattern: "POST /api/v1/goals", Perm: auth.PermEditJourneys, Handler: gl},
		{Pattern: "DELETE /api/v1/goals/{name}", Perm: auth.PermEditJourneys, Handler: gl},
		{Pattern: "GET /api/v1/goals/resilience", Perm: auth.PermReadReports, Handler: gl},

		{Pattern: "GET /api/v1/experiments", Perm: auth.PermReadReports, Handler: ex},
		{Pattern: "POST /api/v1/experiments", Perm: auth.PermEditJourneys, Handler: ex},
		{Pattern: "GET /api/v1/experiments/{name}", Perm: auth.PermReadReports, Handler: ex},
		{Pattern: "GET /api/v1/experiments/{name}/report", Perm: auth.PermReadReports, Handler: ex},
		{Pattern: "POST /api/v1/experiments/{name}/start", Perm: auth.PermEditJourneys, Handler: ex},
		{Pattern: "POST /api/v1/experiments/{name}/stop", Perm: auth.PermEditJourneys, Handler: ex},

		{Pattern: "GET /api/v1/privacy/export", Perm: auth.PermPrivacy, Handler: pr},
		{Pattern: "POST /api/v1/privacy/erase", Perm: auth.PermPrivacy, Handler: pr},
	}
}
