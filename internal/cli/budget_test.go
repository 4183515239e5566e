package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBudgetContract checks the JSON field names scripts rely on (docs/budget.md).
func TestBudgetContract(t *testing.T) {
	t.Parallel()
	csvPath := filepath.Join(testenv.SharedDataset(t, "pymc-marketing-mmm-example"), "mmm_example.csv")
	in := []string{"--input", csvPath, "--date", "date_week", "--target", "y", "--spend", "x1,x2", "--controls", "event_1,event_2"}
	code, out, errs := runCLI(t, append([]string{"budget", "fit", "--format", "json"}, in...)...)
	if code != 0 {
		t.Fatalf("budget fit: %d %s", code, errs)
	}
	var fit map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &fit); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"channels", "baseline", "fit", "warnings"} {
		if _, ok := fit[k]; !ok {
			t.Errorf("fit JSON lacks %q", k)
		}
	}
	var chans []map[string]any
	_ = json.Unmarshal(fit["channels"], &chans)
	var stats map[string]any
	_ = json.Unmarshal(fit["fit"], &stats)
	if len(chans) != 2 || stats["r2"] == nil || stats["mape_holdout"] == nil {
		t.Fatalf("channels %v, fit %v", chans, stats)
	}
	for _, k := range []string{"channel", "spend", "contribution", "roas", "roas_low", "roas_high", "marginal_roas", "share_of_media"} {
		if _, ok := chans[0][k]; !ok {
			t.Errorf("channel lacks %q: %v", k, chans[0])
		}
	}
	c0 := chans[0]
	if r := c0["contribution"].(float64) / c0["spend"].(float64); math.Abs(r-c0["roas"].(float64)) > 0.01*r {
		t.Errorf("roas %v is not contribution / spend (%v)", c0["roas"], r)
	}

	code, out, errs = runCLI(t, append([]string{"budget", "plan", "--format", "json", "--total", "90", "--min", "x2=10", "--max", "x1=70"}, in...)...)
	if code != 0 {
		t.Fatalf("budget plan: %d %s", code, errs)
	}
	var plan struct {
		Channels []map[string]any `json:"channels"`
		Gain     *float64         `json:"expected_gain"`
		Low      *float64         `json:"expected_gain_low"`
		High     *float64         `json:"expected_gain_high"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Gain == nil || plan.Low == nil || plan.High == nil || *plan.Low > *plan.Gain || *plan.High < *plan.Gain {
		t.Fatalf("gain fields: %s", out)
	}
	total := 0.0
	for _, c := range plan.Channels {
		for _, k := range []string{"channel", "current", "recommended", "current_contribution", "recommended_contribution"} {
			if _, ok := c[k]; !ok {
				t.Errorf("plan channel lacks %q", k)
			}
		}
		total += c["recommended"].(float64)
		switch c["channel"] {
		case "x1":
			if c["recommended"].(float64) > 70.001 {
				t.Errorf("--max x1=70 ignored: %v", c["recommended"])
			}
		case "x2":
			if c["recommended"].(float64) < 9.999 {
				t.Errorf("--min x2=10 ignored: %v", c["recommended"])
			}
		}
	}
	if math.Abs(total-90) > 0.05 {
		t.Errorf("recommended spend adds up to %v, --total 90", total)
	}

	// Tables and CSV print; errors are plain.
	code, out, _ = runCLI(t, append([]string{"budget", "plan"}, in...)...)
	if code != 0 || !strings.Contains(out, "Expected gain") || !strings.Contains(out, "Moves:") {
		t.Errorf("plan table: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, append([]string{"budget", "fit", "--format", "csv"}, in...)...)
	if code != 0 || !strings.HasPrefix(out, "channel,spend,contribution,contribution_low,contribution_high,roas,roas_low,roas_high,marginal_roas,share_of_media") {
		t.Errorf("fit csv: %d\n%s", code, out)
	}
	for args, want := range map[string]string{
		"budget":                                  "usage: omniroi budget",
		"budget fit --input x.csv --date d":       "--input needs --target",
		"budget plan --format xml":                "--format \"xml\"",
		"budget plan --min x1 --input " + csvPath: "want CHANNEL=AMOUNT",
	} {
		_, out, errs := runCLI(t, strings.Fields(args)...)
		if !strings.Contains(out+errs, want) {
			t.Errorf("omniroi %s: %q lacks %q", args, out+errs, want)
		}
	}
}

// TestBudgetStore runs budget fit and plan on a store, on SQLite and PostgreSQL: money in
// the business currency with its real minor unit (yen have none), the spend and orders
// read the way the value models read them.
func TestBudgetStore(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var db *store.DB
			var storeArgs []string
			var err error
			if kind == "sqlite" {
				dir := t.TempDir()
				db, err = store.Open(context.Background(), store.Config{DataDir: dir})
				storeArgs = []string{"--data", dir}
			} else {
				dsn := storetest.PostgresDSN(t)
				db, err = store.Open(context.Background(), store.Config{DSN: dsn})
				storeArgs = []string{"--db", dsn}
			}
			if err != nil {
				t.Fatal(err)
			}
			seedBudgetStore(t, db, 200)
			db.Close()
			code, out, errs := runCLI(t, append([]string{"budget", "fit"}, storeArgs...)...)
			if code != 0 {
				t.Fatalf("budget fit: %d %s", code, errs)
			}
			if !strings.Contains(out, "JPY") || !regexp.MustCompile(`¥[0-9,]+ `).MatchString(out) || regexp.MustCompile(`¥[0-9,]+\.[0-9]`).MatchString(out) {
				t.Errorf("yen amounts should have no decimals:\n%s", out)
			}
			code, out, errs = runCLI(t, append([]string{"budget", "plan", "--format", "json", "--lock", "Search"}, storeArgs...)...)
			if code != 0 {
				t.Fatalf("budget plan: %d %s", code, errs)
			}
			var plan mix.PlanReport
			if err := json.Unmarshal([]byte(out), &plan); err != nil {
				t.Fatal(err)
			}
			if plan.Currency != "JPY" || plan.Days != 200 || len(plan.Channels) != 2 {
				t.Fatalf("%+v", plan)
			}
			for _, c := range plan.Channels {
				if c.Channel == "Search" && (c.Recommended != c.Current || !c.Locked) {
					t.Errorf("locked Search moved: %+v", c)
				}
				if c.Current != math.Round(c.Current) {
					t.Errorf("yen with decimals: %v", c.Current)
				}
			}
			code, out, errs = runCLI(t, append([]string{"budget", "fit", "--target", "orders", "--format", "json"}, storeArgs...)...)
			if code != 0 || !strings.Contains(out, `"target": "orders"`) {
				t.Fatalf("orders target: %d %s %s", code, out, errs)
			}
		})
	}
}

// seedBudgetStore writes days of spend (two channels, yen) and orders ending yesterday.
func seedBudgetStore(t *testing.T, db *store.DB, days int) {
	t.Helper()
	ctx := context.Background()
	d, _ := mix.Synthetic(9, days, 2)
	end := time.Now().UTC().Truncate(24 * time.Hour)
	first := end.AddDate(0, 0, -days)
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, "currency", "JPY"); err != nil {
			return err
		}
		seq := int64(0)
		for i := range days {
			day := first.AddDate(0, 0, i)
			for c, name := range []string{"Search", "Social"} {
				if v := d.Spend[c][i]; v > 0 {
					if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, ?, '', 'manual', ?, 'JPY')`,
						day.Format(time.DateOnly), name, int64(math.Round(v*30))); err != nil {
						return err
					}
				}
			}
			n := 2 + int(d.Target[i]/mean(d.Target)*4) // more orders on better days
			for k := range n {
				seq++
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'JPY', 'web', 'Direct', 1, ?)`,
					fmt.Sprintf("o-%d-%d", i, k), int64(i*20+k+1), day.Add(time.Duration(8+k/2)*time.Hour).UnixMilli(), int64(math.Round(d.Target[i]*30/float64(n))), seq); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
