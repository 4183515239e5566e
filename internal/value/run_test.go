package value

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCDNOWCSV writes the CDNOW sample as a transactions CSV in a temp dir.
func writeCDNOWCSV(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("customer_id,date,amount\n")
	for _, tx := range cdnowTransactions(t) {
		fmt.Fprintf(&b, "%s,%s,%d.%02d\n", tx.CustomerID, tx.Time.Format("2006-01-02"), tx.Amount/100, tx.Amount%100)
	}
	p := filepath.Join(t.TempDir(), "tx.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCLVJSON(t *testing.T) {
	t.Parallel()
	path := writeCDNOWCSV(t)
	var out bytes.Buffer
	err := RunCLV(context.Background(), CLVOptions{TransactionsFile: path, Format: "json", CalibrationEnd: cdnowCalEnd, TimeUnit: "week", Limit: 5}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		BG        map[string]float64 `json:"bg_nbd"`
		PN        map[string]float64 `json:"pareto_nbd"`
		GG        map[string]float64 `json:"gamma_gamma"`
		Bands     []map[string]any   `json:"churn_bands"`
		Customers []map[string]any   `json:"customers"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// Bands report realised revenue in dollars: they add up to the calibration net total.
	var want int64
	for _, c := range cdnowSummary(t) {
		want += c.Revenue
	}
	realised := 0.0
	for _, b := range got.Bands {
		realised += b["realised_revenue"].(float64)
	}
	if math.Abs(realised-float64(want)/100) > 0.01 {
		t.Errorf("bands realise %.2f, want %.2f", realised, float64(want)/100)
	}
	within(t, "bg_nbd.r", got.BG["r"], 0.243, 0.01)
	within(t, "bg_nbd.log_likelihood", got.BG["log_likelihood"], -9582.4, 0.0005)
	within(t, "pareto_nbd.beta", got.PN["beta"], 11.669, 0.01)
	within(t, "gamma_gamma.v", got.GG["v"], 15.44, 0.01)
	if len(got.Customers) != 5 {
		t.Fatalf("%d customers, want 5 (limit)", len(got.Customers))
	}
	keys := []string{"id", "frequency", "recency", "T", "monetary", "p_alive_bgnbd", "p_alive_pareto", "expected_purchases", "expected_avg_value", "clv", "churn_band"}
	for _, k := range keys {
		if _, ok := got.Customers[0][k]; !ok {
			t.Errorf("customer lacks %q", k)
		}
	}
	if got.Customers[0]["clv"].(float64) < got.Customers[4]["clv"].(float64) {
		t.Error("customers not sorted by CLV")
	}

	for _, f := range []string{"table", "csv"} {
		out.Reset()
		if err := RunCLV(context.Background(), CLVOptions{TransactionsFile: path, Format: f, CalibrationEnd: cdnowCalEnd, Limit: 3}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "p_alive") && !strings.Contains(out.String(), "chance still active") {
			t.Errorf("%s output:\n%s", f, out.String())
		}
	}
	if err := RunCLV(context.Background(), CLVOptions{TransactionsFile: path, Format: "xml"}, &out); err == nil {
		t.Error("format xml accepted")
	}
	if err := RunCLV(context.Background(), CLVOptions{TransactionsFile: filepath.Join(t.TempDir(), "none.csv")}, &out); err == nil {
		t.Error("missing file accepted")
	}
}

func TestRunSegmentsAndCohorts(t *testing.T) {
	t.Parallel()
	path := writeCDNOWCSV(t)
	ch := filepath.Join(t.TempDir(), "channels.csv")
	if err := os.WriteFile(ch, []byte("customer_id,channel\n1,search\n2,email\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"table", "csv", "json"} {
		var out bytes.Buffer
		if err := RunSegments(context.Background(), SegmentsOptions{TransactionsFile: path, Format: f, Limit: 10}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "Champions") && f != "csv" {
			t.Errorf("segments %s output lacks Champions:\n%s", f, out.String())
		}
		out.Reset()
		if err := RunCohorts(context.Background(), CohortsOptions{TransactionsFile: path, ChannelsFile: ch, Format: f}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "1997-01") || !strings.Contains(out.String(), "search") {
			t.Errorf("cohorts %s output:\n%.500s", f, out.String())
		}
	}
	rules, err := ReadSegmentRules(strings.NewReader(`[{"name":"all","r_min":1,"r_max":5,"f_min":1,"f_max":5}]`))
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules %+v %v", rules, err)
	}
	if _, err := ReadSegmentRules(strings.NewReader(`[{"name":"few","r_min":1,"r_max":4,"f_min":1,"f_max":5}]`)); err == nil {
		t.Error("incomplete rules accepted")
	}
}

func TestRunCLVCancelled(t *testing.T) {
	t.Parallel()
	path := writeCDNOWCSV(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := RunCLV(ctx, CLVOptions{TransactionsFile: path, CalibrationEnd: cdnowCalEnd}, &out)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

// CLI JSON prints money in major units: the segment revenues add up to the
// data's net total in dollars.
func TestRunSegmentsJSONMajorUnits(t *testing.T) {
	t.Parallel()
	path := writeCDNOWCSV(t)
	var out bytes.Buffer
	if err := RunSegments(context.Background(), SegmentsOptions{TransactionsFile: path, Format: "json"}, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Segments []struct {
			Revenue float64 `json:"revenue"`
		} `json:"segments"`
		Customers []map[string]any `json:"customers"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, tx := range cdnowTransactions(t) {
		want += tx.Amount
	}
	sum := 0.0
	for _, s := range got.Segments {
		sum += s.Revenue
	}
	if math.Abs(sum-float64(want)/100) > 0.01 || len(got.Customers) != 2357 {
		t.Errorf("segment revenue %.2f, want %.2f; %d customers", sum, float64(want)/100, len(got.Customers))
	}
}
