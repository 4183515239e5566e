package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// TestTablesInWords checks the table output of the value and ROI commands: every column
// is named in words (no model symbols such as x, t_x, T, m or m0, no abbreviations),
// every money column names its currency, and the amounts are major units (the segments'
// revenue adds up to the orders' total in euros, not cents).
func TestTablesInWords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	seedValueStore(t, db, 300)
	var total int64
	if err := db.QueryRow(context.Background(), `SELECT SUM(revenue_minor) FROM orders`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw := regexp.MustCompile(`^(x|t_x|T|m|m\d+|E\[.*\]|P\(alive\).*|id|band|conv\. rate|new cust\.|prev\..*|realised|days|touches|new|mature|payback|realised 12m|predicted 12m)$`)
	moneyCol := regexp.MustCompile(`(?i)revenue|spend|value|CAC|order \(`)
	for _, args := range [][]string{{"clv", "--limit", "5"}, {"segments"}, {"cohorts"}, {"roi", "--from", "2025-06-01", "--to", "2025-06-30"}, {"attribute", "--from", "2025-01-01", "--to", "2025-12-31"}, {"economics"}} {
		code, out, errs := runCLI(t, append(args, "--data", dir)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		headers := 0
		for _, line := range strings.Split(out, "\n") {
			cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
			if len(cols) < 3 || !(cols[0] == "customer" || cols[0] == "segment" || cols[0] == "churn band" || cols[0] == "acquired through" || cols[0] == "channel") {
				continue
			}
			headers++
			for _, c := range cols {
				if raw.MatchString(c) {
					t.Errorf("%v: column %q is not named in words:\n%s", args, c, line)
				}
				if moneyCol.MatchString(c) && !strings.Contains(c, "(EUR)") && !strings.HasPrefix(c, "share") && !strings.Contains(c, ":") { // LTV:CAC is a ratio
					t.Errorf("%v: money column %q does not name its currency", args, c)
				}
			}
		}
		if headers == 0 {
			t.Errorf("%v printed no table:\n%s", args, out)
		}
		if args[0] == "segments" {
			var sum int64
			for _, line := range strings.Split(out, "\n") {
				cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
				if len(cols) >= 5 && strings.HasSuffix(cols[2], "%") && cols[0] != "segment" {
					m, err := money.ParseDecimal(cols[3], "EUR")
					if err != nil {
						t.Fatalf("segments: revenue %q: %v", cols[3], err)
					}
					sum += m
				}
			}
			if sum != total {
				t.Errorf("segments' revenue adds up to %s EUR, the orders to %s EUR", money.Format(sum, "EUR"), money.Format(total, "EUR"))
			}
		}
	}
}
