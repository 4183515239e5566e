package cli

import (
	"strings"
	"testing"
)

// TestCountsWithoutDecimals: attributed orders are counts; a whole count prints without
// ".0" or ".00" in the attribute and roi tables, a split one keeps its fraction.
func TestCountsWithoutDecimals(t *testing.T) {
	t.Parallel()
	data := attrData(t)
	field := func(out, prefix string, i int) string {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if strings.HasPrefix(strings.TrimSpace(line), prefix) && len(f) > i {
				return f[i]
			}
		}
		t.Fatalf("no line %q in\n%s", prefix, out)
		return ""
	}
	code, out, errs := runCLI(t, "attribute", "--data", data, "--model", "last_touch")
	if code != 0 {
		t.Fatalf("attribute: %d %s", code, errs)
	}
	if got := field(out, "Email", 1); got != "1" {
		t.Errorf("last-touch orders of Email printed %q, want 1\n%s", got, out)
	}
	if got := field(out, "total", 1); got != "2" {
		t.Errorf("total orders printed %q, want 2\n%s", got, out)
	}
	code, out, errs = runCLI(t, "attribute", "--data", data, "--model", "linear")
	if code != 0 {
		t.Fatalf("attribute linear: %d %s", code, errs)
	}
	if got := field(out, "Email", 1); got != "0.5" {
		t.Errorf("linear orders of Email printed %q, want 0.5\n%s", got, out)
	}
	code, out, errs = runCLI(t, "roi", "--data", data, "--from", "2026-03-01", "--to", "2026-03-03", "--model", "last_touch")
	if code != 0 {
		t.Fatalf("roi: %d %s", code, errs)
	}
	// channel, spend, conversions: "Paid Search" is two fields.
	if got := field(out, "Paid Search", 3); got != "1" {
		t.Errorf("roi conversions of Paid Search printed %q, want 1\n%s", got, out)
	}
}
