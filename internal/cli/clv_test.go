package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// seedValueStore writes n customers with heterogeneous purchase histories over a
// year into the derived tables (orders, activity) plus daily Paid Search spend.
func seedValueStore(t *testing.T, db *store.DB, n int) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	seq := int64(0)
	err := db.Write(ctx, func(tx *store.Tx) error {
		for c := range n {
			cust := int64(c + 1)
			start := r.IntN(330)
			rate := []float64{1.0 / 5, 1.0 / 20, 1.0 / 60}[r.IntN(3)]
			drop := []float64{0.03, 0.15, 0.5}[r.IntN(3)]
			spend := []int64{800, 2000, 5000}[r.IntN(3)]
			ch := []string{"In-store", "Paid Search", "Email"}[c%3]
			if ch != "In-store" {
				seq++
				if _, err := tx.Exec(ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, 'page', '', ?, 1)`,
					seq, cust, base.AddDate(0, 0, start-1).UnixMilli(), ch); err != nil {
					return err
				}
			}
			day := float64(start)
			for k := 0; day < 365; k++ {
				seq++
				ts := base.Add(time.Duration(day * 24 * float64(time.Hour))).Truncate(time.Hour)
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', ?, 1, ?)`,
					strconv.Itoa(c)+"-"+strconv.Itoa(k), cust, ts.UnixMilli(), spend/2+r.Int64N(spend), orderChannel(ch), seq); err != nil {
					return err
				}
				if r.Float64() < drop {
					break
				}
				day += r.ExpFloat64() / rate
			}
		}
		for d := range 365 {
			if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, 'Paid Search', '', 'google_ads', 1000, 'EUR')`,
				base.AddDate(0, 0, d).Format(time.DateOnly)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// orderChannel is a web order's Direct, or In-store for a walk-in.
func orderChannel(acquired string) string {
	if acquired == "In-store" {
		return acquired
	}
	return "Direct"
}

func TestValueCommands(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var db *store.DB
			var storeArgs []string
			if kind == "sqlite" {
				dir := t.TempDir()
				var err error
				if db, err = store.Open(context.Background(), store.Config{DataDir: dir}); err != nil {
					t.Fatal(err)
				}
				storeArgs = []string{"--data", dir}
			} else {
				dsn := storetest.PostgresDSN(t)
				var err error
				if db, err = store.Open(context.Background(), store.Config{DSN: dsn}); err != nil {
					t.Fatal(err)
				}
				storeArgs = []string{"--db", dsn}
			}
			run := func(want int, args ...string) string {
				t.Helper()
				code, out, errs := runCLI(t, append(args, storeArgs...)...)
				if code != want {
					t.Fatalf("omniroi %s: exit %d, want %d: %s%s", strings.Join(args, " "), code, want, out, errs)
				}
				return out + errs
			}
			if out := run(1, "clv"); !strings.Contains(out, "no orders") {
				t.Fatalf("empty store: %s", out)
			}
			seedValueStore(t, db, 240)
			db.Close()

			var clv struct {
				Customers []struct {
					ID  string  `json:"id"`
					CLV float64 `json:"clv"`
				} `json:"customers"`
				Bands []struct{ Customers int } `json:"churn_bands"`
			}
			if err := json.Unmarshal([]byte(run(0, "clv", "--format", "json")), &clv); err != nil || len(clv.Customers) != 240 || len(clv.Bands) != 4 {
				t.Fatalf("clv json: %v, %d customers", err, len(clv.Customers))
			}
			rows, err := csv.NewReader(strings.NewReader(run(0, "clv", "--format", "csv", "--limit", "10"))).ReadAll()
			if err != nil || len(rows) != 11 || rows[0][0] != "id" || rows[1][0] != clv.Customers[0].ID {
				t.Fatalf("clv csv: %v %v", err, rows)
			}
			if out := run(0, "clv", "--limit", "3", "--time-unit", "day"); !strings.Contains(out, "BG/NBD") || !strings.Contains(out, "at risk") {
				t.Fatalf("clv table:\n%s", out)
			}
			var ho struct {
				Buckets     []struct{ Customers int } `json:"buckets"`
				TotalActual float64                   `json:"total_actual"`
				Customers   int                       `json:"customers"`
				Calibration string                    `json:"calibration_end"`
			}
			if err := json.Unmarshal([]byte(run(0, "clv", "--holdout", "--json")), &ho); err != nil || len(ho.Buckets) != 8 || ho.TotalActual <= 0 || ho.Customers == 0 || ho.Calibration == "" {
				t.Fatalf("holdout json: %v %+v", err, ho)
			}
			if out := run(0, "clv", "--holdout", "--calibration-end", "2025-08-31"); !strings.Contains(out, "fitted on purchases up to 2025-08-31") || !strings.Contains(out, "correlation") {
				t.Fatalf("holdout table:\n%s", out)
			}
			var seg struct {
				Segments []any `json:"segments"`
				Bands    []any `json:"churn_bands"`
			}
			if err := json.Unmarshal([]byte(run(0, "segments", "--json")), &seg); err != nil || len(seg.Segments) == 0 || len(seg.Bands) != 4 {
				t.Fatalf("segments json: %v %+v", err, seg)
			}
			if out := run(0, "segments"); !strings.Contains(out, "Champions") || !strings.Contains(out, "Churn bands") {
				t.Fatalf("segments table:\n%s", out)
			}
			if out := run(0, "segments", "--churn=false"); strings.Contains(out, "Churn bands") {
				t.Fatalf("segments --churn=false:\n%s", out)
			}
			rows, err = csv.NewReader(strings.NewReader(run(0, "cohorts", "--format", "csv"))).ReadAll()
			channels := map[string]bool{}
			for _, r := range rows[1:] {
				channels[r[0]] = true
			}
			if err != nil || !channels[""] || !channels["Paid Search"] || !channels["Email"] || !channels["In-store"] {
				t.Fatalf("cohorts csv: %v %v", err, channels)
			}
			var eco struct {
				Channels []struct {
					Channel string  `json:"channel"`
					CAC     float64 `json:"cac"`
					New     int     `json:"new_customers"`
				} `json:"channels"`
			}
			out := run(0, "economics", "--json")
			if err := json.Unmarshal([]byte(out), &eco); err != nil || len(eco.Channels) != 3 {
				t.Fatalf("economics json: %v %s", err, out)
			}
			for _, c := range eco.Channels {
				if (c.Channel == "Paid Search") != (c.CAC > 0) || c.New != 80 {
					t.Fatalf("economics %+v", c)
				}
			}
			if by := run(0, "clv", "--by-channel", "--json"); by != out {
				t.Fatalf("clv --by-channel differs from economics:\n%s\n%s", by, out)
			}
			if out := run(0, "economics", "--from", "2025-07-01", "--to", "2025-07-31"); !strings.Contains(out, "CAC over 2025-07-01..2025-07-31") {
				t.Fatalf("economics table:\n%s", out)
			}
			run(2, "economics", "--margin", "0")
			run(2, "clv", "--calibration-end", "31/08/2025")
		})
	}
}

func TestValueCommandsFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tx.csv")
	var b strings.Builder
	b.WriteString("customer_id,date,amount\n")
	r := rand.New(rand.NewPCG(1, 2))
	for c := range 200 {
		d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(200))
		for k := 0; k < 1+r.IntN(6); k++ {
			b.WriteString(strconv.Itoa(c) + "," + d.Format(time.DateOnly) + "," + strconv.Itoa(5+r.IntN(50)) + ".50\n")
			d = d.AddDate(0, 0, 1+r.IntN(40))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "clv", "--transactions", path, "--format", "csv", "--skip-pareto")
	if code != 0 || !strings.HasPrefix(out, "id,frequency") || strings.Count(out, "\n") != 201 {
		t.Fatalf("clv --transactions: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "cohorts", "--transactions", path, "--json"); code != 0 {
		t.Fatalf("cohorts --transactions: %s", errs)
	}
	if code, _, _ := runCLI(t, "clv", "--cdnow", "master"); code != 2 {
		t.Fatalf("--cdnow without --transactions: exit %d", code)
	}
	if code, _, _ := runCLI(t, "economics", "--transactions", path); code == 0 {
		t.Fatalf("economics takes no --transactions: exit %d", code)
	}
	if code, out, errs := runCLI(t, "bench", "clv", "--customers", "3000"); code != 0 || !strings.Contains(out, "BG/NBD r=") {
		t.Fatalf("bench clv: %d %s %s", code, out, errs)
	}
}
