package auth

import "testing"

func TestRoles(t *testing.T) {
	t.Parallel()
	if !RoleOwner.Can(PermReadAudit) || RoleAdmin.Can(PermReadAudit) {
		t.Error("only owners read the audit log")
	}
	if RoleViewer.Can(PermReadPersonal) || !RoleViewer.Can(PermReadReports) {
		t.Error("viewers read reports, not people")
	}
	if RoleAnalyst.Can(PermEditJourneys) || !RoleMarketer.Can(PermEditJourneys) {
		t.Error("marketers, not analysts, edit journeys")
	}
	for _, p := range Permissions {
		if got, want := RoleStaff.Can(p), p == PermClienteling; got != want {
			t.Errorf("staff can %s = %v, want %v (staff has the clienteling page only)", p, got, want)
		}
	}
	if RoleViewer.Can(PermClienteling) || !RoleAnalyst.Can(PermClienteling) {
		t.Error("clienteling: roles that read personal data, not viewers")
	}
	if r, err := ParseRole("staff"); err != nil || r != RoleStaff {
		t.Errorf("ParseRole(staff) = %q, %v", r, err)
	}
	if Role("root").Can(PermReadReports) {
		t.Error("an unknown role has permissions")
	}
	if r, err := ParseRole(" Admin "); err != nil || r != RoleAdmin {
		t.Errorf("ParseRole = %q, %v", r, err)
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Error("ParseRole accepted superuser")
	}
}
