package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
)

func TestUserCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(stdin)}
		code := Run(context.Background(), env, append(args, "--data", dir))
		return code, out.String(), errb.String()
	}
	if code, _, errs := run("", "user", "add", "owner@example.com"); code != 1 || !strings.Contains(errs, "no password") {
		t.Fatalf("empty stdin: %d %s", code, errs)
	}
	if code, out, errs := run("a long password\n", "user", "add", "owner@example.com", "--password-stdin"); code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	if code, _, errs := run("another password\n", "user", "add", "owner@example.com"); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("duplicate: %d %s", code, errs)
	}
	if code, out, _ := run("", "user", "list", "--json"); code != 0 || !strings.Contains(out, `"email": "owner@example.com"`) {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, _, errs := run("changed password\n", "user", "passwd", "owner@example.com"); code != 0 {
		t.Fatalf("passwd: %d %s", code, errs)
	}
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := auth.Authenticate(context.Background(), db, "owner@example.com", "changed password"); err != nil {
		t.Fatalf("the changed password does not log in: %v", err)
	}
	if code, _, _ := run("", "user", "frobnicate"); code != 2 {
		t.Fatalf("unknown subcommand: %d, want usage (2)", code)
	}
}

// TestUserRolesCommand drives invite, role, remove and list with roles, and reads what
// they did back from the audit log.
func TestUserRolesCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(stdin)}
		code := Run(context.Background(), env, append(args, "--data", dir))
		return code, out.String(), errb.String()
	}
	if code, out, errs := run("a long password\n", "user", "add", "owner@example.com"); code != 0 || !strings.Contains(out, "(owner)") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	if code, out, errs := run("a long password\n", "user", "add", "ana@example.com", "--role", "analyst"); code != 0 || !strings.Contains(out, "(analyst)") {
		t.Fatalf("add --role analyst: %d %s %s", code, out, errs)
	}
	if code, _, errs := run("a long password\n", "user", "add", "x@example.com", "--role", "root"); code != 1 || !strings.Contains(errs, "unknown role") {
		t.Fatalf("add --role root: %d %s", code, errs)
	}
	// invite needs a role and an address for the link.
	if code, _, errs := run("", "user", "invite", "vi@example.com"); code != 1 || !strings.Contains(errs, "needs --role") {
		t.Fatalf("invite without --role: %d %s", code, errs)
	}
	if code, _, errs := run("", "user", "invite", "vi@example.com", "--role", "viewer"); code != 1 || !strings.Contains(errs, "dashboard_url") {
		t.Fatalf("invite without an address: %d %s", code, errs)
	}
	code, out, errs := run("", "user", "invite", "vi@example.com", "--role", "viewer", "--public-url", "https://omniroi.example.com/", "--json")
	var inv struct {
		Email string `json:"email"`
		Role  string `json:"role"`
		Link  string `json:"link"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &inv) != nil || inv.Role != "viewer" || !strings.HasPrefix(inv.Link, "https://omniroi.example.com/invite/") {
		t.Fatalf("invite: %d %s %s", code, out, errs)
	}
	// The setting gives the address when the flag does not.
	if code, _, errs := run("", "settings", "set", "dashboard_url", "https://dash.example.com"); code != 0 {
		t.Fatalf("settings set dashboard_url: %d %s", code, errs)
	}
	if code, out, errs := run("", "user", "invite", "mo@example.com", "--role", "marketer"); code != 0 || !strings.Contains(out, "https://dash.example.com/invite/") {
		t.Fatalf("invite with the setting: %d %s %s", code, out, errs)
	}
	if code, out, errs := run("", "user", "role", "ana@example.com", "admin"); code != 0 || !strings.Contains(out, "is now admin") {
		t.Fatalf("role: %d %s %s", code, out, errs)
	}
	if code, _, errs := run("", "user", "role", "owner@example.com", "viewer"); code != 1 || !strings.Contains(errs, "last owner") {
		t.Fatalf("demoting the last owner: %d %s", code, errs)
	}
	if code, _, errs := run("", "user", "remove", "owner@example.com"); code != 1 || !strings.Contains(errs, "last owner") {
		t.Fatalf("removing the last owner: %d %s", code, errs)
	}
	if code, _, errs := run("", "user", "remove", "nobody@example.com"); code != 1 || !strings.Contains(errs, "no user") {
		t.Fatalf("removing nobody: %d %s", code, errs)
	}
	if code, out, _ := run("", "user", "list"); code != 0 || !regexp.MustCompile(`ana@example.com\s+admin\s`).MatchString(out) || !strings.Contains(out, "ROLE") {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, out, errs := run("", "user", "remove", "ana@example.com"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("remove: %d %s %s", code, out, errs)
	}
	if code, _, _ := run("", "user", "role", "ana@example.com"); code != 2 {
		t.Fatalf("role without a role: %d, want usage", code)
	}

	// The audit log has it all, newest first, with the CLI as the actor.
	code, out, errs = run("", "audit", "--action", "user", "--json")
	var es []struct {
		Actor  string `json:"actor"`
		Action string `json:"action"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &es) != nil {
		t.Fatalf("audit: %d %s %s", code, out, errs)
	}
	var got []string
	for _, e := range es {
		if e.Actor != "cli" {
			t.Errorf("%s by %q, want cli", e.Action, e.Actor)
		}
		got = append(got, e.Action)
	}
	if want := "user.remove user.role user.invite user.invite user.add user.add"; strings.Join(got, " ") != want {
		t.Errorf("audit actions %q, want %q", strings.Join(got, " "), want)
	}
	if code, out, _ := run("", "audit", "--action", "user.role", "--limit", "1"); code != 0 || !strings.Contains(out, "user.role") || strings.Count(out, "\n") != 2 {
		t.Errorf("audit table: %d %q", code, out)
	}
	if code, _, _ := run("", "audit", "--limit", "0"); code != 1 {
		t.Errorf("audit --limit 0: exit %d", code)
	}
	if code, out, _ := run("", "audit", "--action", "settings"); code != 0 || !strings.Contains(out, "dashboard_url") {
		t.Errorf("settings changes in the audit log: %d %s", code, out)
	}
}
