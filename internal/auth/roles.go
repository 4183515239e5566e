package auth

import (
	"fmt"
	"strings"
)

// Role is what a dashboard user may do. Roles are ordered by power, but permissions are
// checked by name (Can), never by comparing roles, so a new role cannot slip through a ">=".
type Role string

const (
	RoleOwner    Role = "owner"    // everything, including the audit log and other owners
	RoleAdmin    Role = "admin"    // everything but the audit log and owners
	RoleMarketer Role = "marketer" // journeys and experiments, and reads everything
	RoleAnalyst  Role = "analyst"  // reads everything, personal data included
	RoleViewer   Role = "viewer"   // reads reports; no personal data
	// RoleStaff is shop staff at the till or on the phone: the clienteling page only (one
	// customer at a time, found by name, email, phone or loyalty id), no reports, no lists.
	RoleStaff Role = "staff"
)

// Roles lists the roles from most to least powerful.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMarketer, RoleAnalyst, RoleViewer, RoleStaff}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Roles {
		if r == k {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (one of owner, admin, marketer, analyst, viewer, staff)", s)
}

// Permission names one thing a role may do.
type Permission string

const (
	PermReadReports   Permission = "read_reports"   // aggregate pages: overview, attribution, segments, spend
	PermReadPersonal  Permission = "read_personal"  // customer profiles, timelines, search, exports of people
	PermEditJourneys  Permission = "edit_journeys"  // apply, enable, disable journeys; experiments
	PermManageSources Permission = "manage_sources" // create, rotate, revoke write keys; API tokens
	PermManageUsers   Permission = "manage_users"   // invite, change role, remove (admins cannot touch owners)
	PermPrivacy       Permission = "privacy"        // export and erase a person's data
	PermSettings      Permission = "settings"       // business settings: currency, time zone, limits, retention
	PermReadAudit     Permission = "read_audit"     // the audit log
	// PermClienteling: the clienteling page, one customer's card at a time (each view
	// audit-logged); the only permission of the staff role.
	PermClienteling Permission = "clienteling"
)

var grants = map[Role][]Permission{
	RoleOwner:    {PermReadReports, PermReadPersonal, PermEditJourneys, PermManageSources, PermManageUsers, PermPrivacy, PermSettings, PermReadAudit, PermClienteling},
	RoleAdmin:    {PermReadReports, PermReadPersonal, PermEditJourneys, PermManageSources, PermManageUsers, PermPrivacy, PermSettings, PermClienteling},
	RoleMarketer: {PermReadReports, PermReadPersonal, PermEditJourneys, PermClienteling},
	RoleAnalyst:  {PermReadReports, PermReadPersonal, PermClienteling},
	RoleViewer:   {PermReadReports},
	RoleStaff:    {PermClienteling},
}

// Can reports whether role r has permission p. An unknown role has none.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// Permissions lists every permission, in the order of the constants.
var Permissions = []Permission{PermReadReports, PermReadPersonal, PermEditJourneys, PermManageSources, PermManageUsers, PermPrivacy, PermSettings, PermReadAudit, PermClienteling}

var permSummaries = map[Permission]string{
	PermReadReports:   "read reports",
	PermReadPersonal:  "read customers' personal data",
	PermEditJourneys:  "change journeys and experiments",
	PermManageSources: "manage sources and keys",
	PermManageUsers:   "manage users",
	PermPrivacy:       "export and erase a person's data",
	PermSettings:      "change settings",
	PermReadAudit:     "read the audit log",
	PermClienteling:   "look up one customer at the till (clienteling)",
}

// Summary says in a few words what p allows, for error messages and docs.
func (p Permission) Summary() string {
	if s, ok := permSummaries[p]; ok {
		return s
	}
	return string(p)
}

// LeastRole is the least powerful role that has p ("" when none has it).
func LeastRole(p Permission) Role {
	for i := len(Roles) - 1; i >= 0; i-- {
		if Roles[i].Can(p) {
			return Roles[i]
		}
	}
	return ""
}
