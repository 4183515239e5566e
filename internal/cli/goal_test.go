package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestGoalCommands adds, lists (table, CSV, JSON) and removes goals on a store without
// orders yet: the goal is kept and says it has nothing to count or forecast from.
func TestGoalCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	by := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	code, out, errs := runCLI(t, "goal", "add", "Q4 revenue", "--metric", "revenue", "--target", "15000", "--by", by, "--data", data)
	if code != 0 {
		t.Fatalf("goal add: %d %s", code, errs)
	}
	if !strings.Contains(out, "Q4 revenue") || !strings.Contains(out, "unknown") || !strings.Contains(out, "no orders yet") {
		t.Errorf("goal add printed:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"goal", "add", "Q4 revenue", "--target", "1", "--by", by}, "exists"},
		{[]string{"goal", "add", "x", "--target", "1"}, "needs a date"},
		{[]string{"goal", "add", "x", "--metric", "profit", "--target", "1", "--by", by}, `metric "profit"`},
		{[]string{"goal", "add", "x", "--target", "-5", "--by", by}, "more than 0"},
		{[]string{"goal", "remove", "nope"}, "no such goal"},
		{[]string{"goal", "list", "--format", "xml"}, `--format "xml"`},
	} {
		code, _, errs := runCLI(t, append(c.args, "--data", data)...)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := runCLI(t, "goal", "add", "orders", "--metric", "orders", "--target", "500", "--by", by, "--data", data); code != 0 {
		t.Fatalf("add orders goal: %s", errs)
	}
	code, out, errs = runCLI(t, "goal", "list", "--format", "json", "--data", data)
	if code != 0 {
		t.Fatalf("goal list: %s", errs)
	}
	var sts []struct {
		Name, Metric, Status, By string
		Target                   float64
		Currency                 string
		Probability              *float64
	}
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(sts) != 2 || sts[0].Target+sts[1].Target != 15500 || sts[0].By != by || sts[0].Probability != nil {
		t.Errorf("list: %+v", sts)
	}
	code, out, _ = runCLI(t, "goal", "list", "--format", "csv", "--data", data)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "name,metric,target,currency,from,by") {
		t.Errorf("csv: %s", out)
	}
	if code, out, errs := runCLI(t, "goal", "remove", "Q4 revenue", "--data", data); code != 0 || !strings.Contains(out, "removed goal Q4 revenue") {
		t.Fatalf("remove: %d %s %s", code, out, errs)
	}
	if _, out, _ := runCLI(t, "goal", "list", "--data", data); strings.Contains(out, "Q4 revenue") || !strings.Contains(out, "orders") {
		t.Errorf("after remove:\n%s", out)
	}
}
