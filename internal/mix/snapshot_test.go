package mix

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestModelRoundTrip stores a fitted model and reads it back: the model read is the
// model fitted, field by field (unexported state included), and gives the same report,
// plans, what-if and response curves.
func TestModelRoundTrip(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(5, 300, 4)
	// A channel without spend (Dropped) and a calibration, so that they are stored too.
	d.Channels = append(d.Channels, "idle")
	d.Spend = append(d.Spend, make([]float64, d.Len()))
	m, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: d.Channels[0], ROAS: 2, Low: 1, High: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	// Every field holds something, so that a field the stored form leaves out shows.
	checkFilled(t, "Model", reflect.ValueOf(m).Elem(), "sums", "sumsOnce", "Warnings")
	checkFilled(t, "problem", reflect.ValueOf(m.prob).Elem())

	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		gv, mv := reflect.ValueOf(got).Elem(), reflect.ValueOf(m).Elem()
		for i := range mv.NumField() {
			if fmt.Sprint(gv.Field(i)) != fmt.Sprint(mv.Field(i)) {
				t.Errorf("model read back: %s differs", mv.Type().Field(i).Name)
			}
		}
		t.Fatal("the model read back is not the model stored")
	}

	u := Units{Currency: "EUR", Money: true}
	if r, w := got.Report(TargetRevenue, u), m.Report(TargetRevenue, u); !reflect.DeepEqual(r, w) {
		t.Errorf("report:\n%+v\nwant\n%+v", r, w)
	}
	ch := m.Channels[1].Channel
	for _, o := range []PlanOptions{{}, {Total: m.Channels[0].Spend * 3, Margin: 0.5, Locked: []string{ch}}} {
		gp, gerr := got.Plan(o)
		wp, werr := m.Plan(o)
		if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(gp, wp) {
			t.Errorf("plan %+v:\n%+v %v\nwant\n%+v %v", o, gp, gerr, wp, werr)
		}
		if gerr == nil && !reflect.DeepEqual(gp.Report(got, TargetRevenue, u), wp.Report(m, TargetRevenue, u)) {
			t.Errorf("plan report %+v differs", o)
		}
	}
	spend := map[string]float64{}
	for _, c := range m.Channels {
		spend[c.Channel] = c.Spend * 1.3
	}
	gs, gerr := got.WhatIf(spend)
	ws, werr := m.WhatIf(spend)
	if gerr != nil || werr != nil || !reflect.DeepEqual(gs, ws) {
		t.Errorf("what-if:\n%+v %v\nwant\n%+v %v", gs, gerr, ws, werr)
	}
	if gc, wc := got.ResponseCurves(0, 1, 0), m.ResponseCurves(0, 1, 0); !reflect.DeepEqual(gc, wc) {
		t.Errorf("response curves differ")
	}

	// Another form's bytes are not read as a model.
	if _, err := UnmarshalModel(b[:len(b)/2]); err == nil {
		t.Error("a truncated stored model was read")
	}
}

// checkFilled fails for each field of v that holds its zero value, except skip.
func checkFilled(t *testing.T, name string, v reflect.Value, skip ...string) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Type().Field(i).Name
		if !slices.Contains(skip, f) && v.Field(i).IsZero() {
			t.Errorf("%s.%s is empty in the fitted model: the test would not see it dropped", name, f)
		}
	}
}
