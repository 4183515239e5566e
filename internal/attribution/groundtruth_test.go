package attribution

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCompareGroundTruth(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ground_truth.json")
	// True incremental conversions 30 / 10 (shares 0.75 / 0.25), revenue 600 / 600 (0.5 / 0.5).
	gt := `{"currency":"EUR","channels":{
		"Email":{"incremental_conversions":30,"incremental_revenue_minor":600},
		"Paid Search":{"incremental_conversions":10,"incremental_revenue_minor":600}}}`
	if err := os.WriteFile(path, []byte(gt), 0o644); err != nil {
		t.Fatal(err)
	}
	// The model gives Email 20, Paid Search 20 (shares 0.5 / 0.5) and 100 to Direct, which
	// the truth does not list; revenue 4.00 / 12.00 EUR (shares 0.25 / 0.75).
	res := []Result{{Model: "m", ByChannel: []Credit{
		{Key: "Direct", Conversions: 100, Value: 50},
		{Key: "Email", Conversions: 20, Value: 4},
		{Key: "Paid Search", Conversions: 20, Value: 12},
	}}}
	rep, err := CompareGroundTruth(res, path)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Models[0]
	if len(m.Channels) != 2 || !approx(m.ShareMAE, 0.25) || !approx(m.RevenueMAE, 0.25) || !approx(m.ConversionsMAE, 10) {
		t.Fatalf("%+v", m)
	}
	e := m.Channels[0]
	if e.Channel != "Email" || !approx(e.TrueShare, 0.75) || !approx(e.ModelShare, 0.5) || !approx(e.ShareError, -0.25) ||
		!approx(e.CreditRatio, 20.0/30) || !approx(e.ModelRevenueMinor, 400) {
		t.Errorf("Email %+v", e)
	}
	if _, err := CompareGroundTruth(res, filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
	os.WriteFile(path, []byte(`{"channels":{}}`), 0o644)
	if _, err := CompareGroundTruth(res, path); err == nil {
		t.Error("file without channels accepted")
	}
}
