package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJourneyCommand drives `omniroi journey` on an empty store: usage errors, templates,
// apply (by name and from a file, and unchanged on a second apply), list, show, report with
// a period, disable, policy, and clear errors for bad documents and dates.
func TestJourneyCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(args, "--data", data)...)
	}
	for _, args := range [][]string{{"journey"}, {"journey", "bogus"}, {"journey", "show"}, {"journey", "list", "extra"}, {"journey", "decisions"}} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want usage (2)", args, code)
		}
	}
	if code, out, _ := run("journey", "list", "--json"); code != 0 || out != "[]\n" {
		t.Errorf("empty list: exit %d %q", code, out)
	}
	if code, out, _ := run("journey", "templates"); code != 0 || !strings.Contains(out, "abandoned-cart") || !strings.Contains(out, "win-back") {
		t.Errorf("templates: exit %d\n%s", code, out)
	}
	if code, out, errs := run("journey", "apply", "abandoned-cart"); code != 0 || !strings.Contains(out, "version 1 applied") {
		t.Fatalf("apply template: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := run("journey", "apply", "abandoned-cart"); code != 0 || !strings.Contains(out, "unchanged") {
		t.Errorf("apply again: exit %d\n%s", code, out)
	}
	doc := filepath.Join(t.TempDir(), "thanks.yaml")
	if err := os.WriteFile(doc, []byte("name: thanks\nentry: {event: Order Completed, key: order_id}\nsteps:\n  - wait: 2d\n  - email: {subject: Thanks, text: Thanks}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run("journey", "apply", doc); code != 0 || !strings.Contains(out, "thanks") {
		t.Fatalf("apply file: exit %d\n%s%s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("name: bad\nentry: {event: X}\nsteps:\n  - wait: soon\n"), 0o644)
	if code, _, errs := run("journey", "apply", bad); code != 1 || !strings.Contains(errs, "steps[0].wait") {
		t.Errorf("bad document: exit %d, stderr %q", code, errs)
	}
	var list []struct {
		Name    string
		Enabled bool
	}
	code, out, _ := run("journey", "list", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Fatalf("list: exit %d %s", code, out)
	}
	if code, out, _ := run("journey", "show", "abandoned-cart"); code != 0 || !strings.Contains(out, "wait-for-order") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	code, out, _ = run("journey", "report", "abandoned-cart", "--from", "2026-03-01", "--to", "2026-03-31", "--json")
	if code != 0 || !strings.Contains(out, `"runs": "reached a message"`) || !strings.Contains(out, `"runs_started"`) {
		t.Errorf("report: exit %d\n%s", code, out)
	}
	if code, _, errs := run("journey", "report", "abandoned-cart", "--from", "2026-13-01"); code != 1 || !strings.Contains(errs, `--from "2026-13-01" is not a date`) {
		t.Errorf("bad --from: exit %d %q", code, errs)
	}
	if code, _, _ := run("journey", "disable", "thanks"); code != 0 {
		t.Errorf("disable: exit %d", code)
	}
	if code, _, errs := run("journey", "disable", "nope"); code != 1 || !strings.Contains(errs, "nope") {
		t.Errorf("disable unknown: exit %d %q", code, errs)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	_ = os.WriteFile(pol, []byte("quiet_hours: {from: \"21:00\", to: \"08:00\"}\ntimezone: Europe/Berlin\n"), 0o644)
	if code, out, _ := run("journey", "policy", pol); code != 0 || !strings.Contains(out, "within 30 seconds") {
		t.Errorf("policy: exit %d %q", code, out)
	}
	if code, out, _ := run("journey", "policy"); code != 0 || !strings.Contains(out, "Europe/Berlin") {
		t.Errorf("show policy: exit %d %q", code, out)
	}
	if code, _, _ := run("journey", "enable", "thanks"); code != 0 {
		t.Errorf("enable: exit %d", code)
	}
	// Every change is in the audit log, by the CLI; the unchanged apply and the failed
	// disable are not.
	code, out, _ = run("audit", "--action", "journey", "--json")
	var es []struct{ Actor, Action, Target string }
	if code != 0 || json.Unmarshal([]byte(out), &es) != nil {
		t.Fatalf("audit: exit %d %s", code, out)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := "cli journey.enable journey:thanks|cli journey.policy setting:journey.policy|cli journey.disable journey:thanks|cli journey.apply journey:thanks|cli journey.apply journey:abandoned-cart"
	if strings.Join(got, "|") != want {
		t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}

// TestJourneyApplySettings: `omniroi journey apply TEMPLATE --set KEY=VALUE` applies a
// built-in with chosen settings (the dashboard's form calls the same function); refused
// values are named by setting and nothing is applied.
func TestJourneyApplySettings(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(args, "--data", data)...)
	}
	if code, out, errs := run("journey", "apply", "welcome", "--set", "name=welcome-eu", "--set", "holdout=20%"); code != 0 || !strings.Contains(out, "journey welcome-eu: version 1 applied") {
		t.Fatalf("apply with settings: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := run("journey", "show", "welcome-eu", "--json"); code != 0 || !strings.Contains(out, `"holdout": 0.2`) {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	if code, _, errs := run("journey", "apply", "welcome", "--set", "holdout=half", "--set", "steps[1].wait=soon"); code != 1 ||
		!strings.Contains(errs, "--set holdout: \"half\" is not a percentage") || !strings.Contains(errs, "--set steps[1].wait: \"soon\" is not a duration") {
		t.Errorf("bad settings: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run("journey", "apply", "welcome", "--set", "colour=red"); code != 1 || !strings.Contains(errs, "no setting colour") {
		t.Errorf("unknown setting: exit %d, stderr %q", code, errs)
	}
	if code, out, _ := run("journey", "templates", "--json"); code != 0 || !strings.Contains(out, `"key": "steps[1].wait"`) {
		t.Errorf("templates --json lists no settings: %s", out)
	}
	if code, out, _ := run("journey", "list", "--json"); code != 0 || strings.Contains(out, `"welcome"`) {
		t.Errorf("a refused apply applied something: %s", out)
	}
}
