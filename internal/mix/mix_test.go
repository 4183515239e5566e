package mix

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestParamRecovery fits PyMC Labs' parameter-recovery data (four channels, three
// controls, 159 weeks) whose README gives each channel's true ROAS. The media's total
// contribution must be within 10 % of the truth and at least three of the four true ROAS
// inside their 80 % intervals (four of four would be luck at 80 %).
func TestParamRecovery(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedDataset(t, "mmm-param-recovery")
	f, err := os.Open(filepath.Join(dir, "input_data_RAW.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReadCSV(f, CSVColumns{Date: "date_week", Target: "y", Spend: []string{"x1", "x2", "x3", "x4"}, Controls: []string{"c1", "c2", "c3"}})
	if err != nil {
		t.Fatal(err)
	}
	truth := []float64{1.51, 1.63, 1.88, 0.96}   // README: contribution ÷ spend
	trueTotal := 82.99 + 104.09 + 118.27 + 20.07 // README: true contributions
	m, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inside, total := 0, 0.0
	for c, ce := range m.Channels {
		t.Logf("%s: ROAS %.2f [%.2f, %.2f], true %.2f", ce.Channel, ce.ROAS, ce.ROASLow, ce.ROASHigh, truth[c])
		if truth[c] >= ce.ROASLow && truth[c] <= ce.ROASHigh {
			inside++
		}
		total += ce.Contribution
	}
	if inside < 3 {
		t.Errorf("%d of 4 true ROAS inside the intervals", inside)
	}
	if math.Abs(total/trueTotal-1) > 0.10 {
		t.Errorf("media contribution %.1f, truth %.1f", total, trueTotal)
	}
}

// TestSyntheticCoverage checks the intervals on data generated with known answers: of
// 40 true ROAS (10 datasets × 4 channels) the 80 % intervals must hold at least 26. With
// honest intervals the count is binomial(40, 0.8): 26 or fewer happens once in ~100 runs
// of fresh data; the seeds are fixed, so the test is deterministic.
func TestSyntheticCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 10 models")
	}
	inside, all := 0, 0
	for s := range 10 {
		d, tr := Synthetic(uint64(100+s), 365, 4)
		m, err := Fit(context.Background(), d, Options{Holdout: -1})
		if err != nil {
			t.Fatal(err)
		}
		for c, ce := range m.Channels {
			all++
			if tr.ROAS[c] >= ce.ROASLow && tr.ROAS[c] <= ce.ROASHigh {
				inside++
			}
		}
	}
	t.Logf("%d of %d true ROAS inside the 80 %% intervals", inside, all)
	if inside < 26 {
		t.Errorf("%d of %d true ROAS inside the 80 %% intervals", inside, all)
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(7, 200, 3)
	a, err := Fit(context.Background(), d, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(context.Background(), d, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Report("revenue", Units{}).Channels, b.Report("revenue", Units{}).Channels) {
		t.Fatalf("same data, different answers:\n%+v\n%+v", a.Channels, b.Channels)
	}
	pa, _ := a.Plan(PlanOptions{})
	pb, _ := b.Plan(PlanOptions{})
	if !reflect.DeepEqual(pa.Report(a, "revenue", Units{}), pb.Report(b, "revenue", Units{})) {
		t.Fatal("same model, different plans")
	}
}

// TestNotIdentifiable: a channel whose spend never changes, and two channels whose spend
// moves together, must be called not identifiable, with a range, never a confident zero.
func TestNotIdentifiable(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(3, 300, 2)
	flat := make([]float64, d.Len())
	twin := make([]float64, d.Len())
	for i := range flat {
		flat[i] = 40
		twin[i] = 0.5 * d.Spend[0][i]
	}
	d.Channels = append(d.Channels, "Flat", "Twin")
	d.Spend = append(d.Spend, flat, twin)
	m, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, w := range m.Warnings {
		codes[w.Channel] += w.Code + " "
	}
	for _, ce := range m.Channels {
		t.Logf("%s: ROAS %.2f [%.2f, %.2f] identifiable %v", ce.Channel, ce.ROAS, ce.ROASLow, ce.ROASHigh, ce.Identifiable)
	}
	for _, ch := range []string{"Flat", "Twin", "Channel 1"} {
		ce := m.Channels[m.channelIndex(ch)]
		if ce.Identifiable {
			t.Errorf("%s called identifiable (warnings %q)", ch, codes[ch])
		}
		if !(ce.ROASHigh > ce.ROASLow) {
			t.Errorf("%s: no range (%v, %v)", ch, ce.ROASLow, ce.ROASHigh)
		}
	}
	if !strings.Contains(codes["Flat"], "spend_barely_varied") || !strings.Contains(codes["Twin"], "not_identifiable") {
		t.Errorf("warnings %v", codes)
	}
	if !m.Channels[m.channelIndex("Channel 2")].Identifiable {
		t.Error("Channel 2 is independent and should be identifiable")
	}
}

func TestTooLittleData(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(1, 40, 3)
	_, err := Fit(context.Background(), d, Options{})
	if !errors.Is(err, ErrTooLittleData) || !strings.Contains(err.Error(), "40 days") || !strings.Contains(err.Error(), "should have 180") {
		t.Fatalf("err = %v", err)
	}
	d, _ = Synthetic(1, 120, 3)
	m, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range m.Warnings {
		found = found || w.Code == "too_little_history" && strings.Contains(w.Message, "at least 180 days")
	}
	if !found {
		t.Errorf("no too-little-history warning: %v", m.Warnings)
	}
}

// TestCalibration: a lift test's result pulls the channel's estimate toward it and
// narrows its interval; a wide one moves it less.
func TestCalibration(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(11, 240, 3)
	base, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := base.Channels[0]
	target := b.ROAS * 2
	tight, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: b.Channel, ROAS: target, Low: target * 0.95, High: target * 1.05}}})
	if err != nil {
		t.Fatal(err)
	}
	wide, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: b.Channel, ROAS: target, Low: 0, High: target * 3}}})
	if err != nil {
		t.Fatal(err)
	}
	tc, wc := tight.Channels[0], wide.Channels[0]
	t.Logf("form %s/%s", base.Form, tight.Form)
	t.Logf("no test %.2f [%.2f, %.2f]; tight %.2f [%.2f, %.2f]; wide %.2f", b.ROAS, b.ROASLow, b.ROASHigh, tc.ROAS, tc.ROASLow, tc.ROASHigh, wc.ROAS)
	if math.Abs(tc.ROAS-target) > 0.1*target {
		t.Errorf("a tight test at %.2f left the estimate at %.2f", target, tc.ROAS)
	}
	if tc.ROASHigh-tc.ROASLow >= b.ROASHigh-b.ROASLow {
		t.Error("a tight test did not narrow the interval")
	}
	if math.Abs(wc.ROAS-b.ROAS) >= math.Abs(tc.ROAS-b.ROAS) {
		t.Error("a wide test moved the estimate as much as a tight one")
	}
	if _, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: "nope", ROAS: 1, Low: 0, High: 2}}}); err == nil {
		t.Error("a calibration for an unknown channel was accepted")
	}
}

func TestPlanConstraints(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(5, 300, 4)
	m, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := m.prob.channels
	cur := map[string]float64{}
	total := 0.0
	for c, name := range ch {
		cur[name] = m.Channels[c].Spend
		total += cur[name]
	}
	pl, err := m.Plan(PlanOptions{
		Total:  total * 1.2,
		Min:    map[string]float64{ch[1]: cur[ch[1]] * 1.1},
		Max:    map[string]float64{ch[2]: cur[ch[2]] * 0.5},
		Locked: []string{ch[3]},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, c := range pl.Channels {
		sum += c.Recommended
		if c.Recommended < c.Min-1e-6 || c.Recommended > c.Max+1e-6 {
			t.Errorf("%s: %v outside [%v, %v]", c.Channel, c.Recommended, c.Min, c.Max)
		}
	}
	if math.Abs(sum-total*1.2) > 1e-6*total {
		t.Errorf("recommended spend adds up to %v, budget %v", sum, total*1.2)
	}
	if got := pl.Channels[3].Recommended; got != cur[ch[3]] {
		t.Errorf("locked channel moved: %v → %v", cur[ch[3]], got)
	}
	if pl.Channels[1].Recommended < cur[ch[1]]*1.1-1e-6 || pl.Channels[2].Recommended > cur[ch[2]]*0.5+1e-6 {
		t.Error("min or max ignored")
	}
	gain := 0.0
	for _, c := range pl.Channels {
		gain += c.RecommendedContribution - c.CurrentContribution
	}
	if math.Abs(gain-pl.ExpectedGain) > 1e-6*math.Abs(gain)+1e-9 {
		t.Errorf("expected gain %v, channels add up to %v", pl.ExpectedGain, gain)
	}
	moved := 0.0
	for _, mv := range pl.Moves {
		moved += mv.Amount
		if mv.GainLow > mv.Gain || mv.GainHigh < mv.Gain {
			t.Errorf("move %+v: the interval does not contain the estimate", mv)
		}
	}
	if moved == 0 {
		t.Error("no moves")
	}
	if _, err := m.Plan(PlanOptions{Min: map[string]float64{ch[0]: total * 2}}); err == nil {
		t.Error("minimums above the budget accepted")
	}
	if _, err := m.Plan(PlanOptions{Max: map[string]float64{"nope": 1}}); err == nil {
		t.Error("unknown channel accepted")
	}
}

// TestAllocateExact compares the allocator with brute force on S-shaped curves, where
// a greedy allocation by marginal return stalls.
func TestAllocateExact(t *testing.T) {
	t.Parallel()
	curves := []func(x float64) float64{
		func(x float64) float64 { return 100 * x * x * x / (x*x*x + 27) }, // S-shaped, half at 3
		func(x float64) float64 { return 40 * x / (x + 1) },
		func(x float64) float64 { return 60 * (1 - math.Exp(-x/4)) },
	}
	cur := []float64{2, 2, 2}
	lo := []float64{0, 0, 0}
	hi := []float64{10, 10, 10}
	resp := func(c int, m float64) float64 { return curves[c](m * cur[c]) }
	got := Allocate(cur, lo, hi, 9, 0, resp)
	best := math.Inf(-1)
	for a := 0.0; a <= 9; a += 0.01 {
		for b := 0.0; a+b <= 9; b += 0.01 {
			if v := curves[0](a) + curves[1](b) + curves[2](9-a-b); v > best {
				best = v
			}
		}
	}
	v := curves[0](got[0]) + curves[1](got[1]) + curves[2](got[2])
	if v < best-1e-3*best || math.Abs(got[0]+got[1]+got[2]-9) > 1e-9 {
		t.Fatalf("allocate %v → %.4f, brute force %.4f", got, v, best)
	}
}

func TestReadCSV(t *testing.T) {
	t.Parallel()
	in := "Date,Revenue,Search,Social,Promo\n2026-01-03,120,10,,0\n2026-01-01,100,10,5,1\n2026-01-02,110,12,5,0\n"
	d, err := ReadCSV(strings.NewReader(in), CSVColumns{Date: "date", Target: "revenue", Spend: []string{"Search", "Social"}, Controls: []string{"promo"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.Dates[0].Format(time.DateOnly) != "2026-01-01" || d.Spend[1][2] != 0 || d.ControlValues[0][0] != 1 {
		t.Fatalf("%+v", d)
	}
	for in, want := range map[string]string{
		"Date,Revenue,Search\n2026-01-01,100,x\n":                   `line 2: Search "x" is not a number`,
		"Date,Revenue,Search\n2026-01-01,100,1\n2026-01-01,100,1\n": "line 3: date 2026-01-01 also on line 2",
		"Date,Revenue\n2026-01-01,100\n":                            `no column "Search"`,
		"Date,Revenue,Search\n01/02/2026,100,1\n":                   `line 2: date "01/02/2026"`,
	} {
		_, err := ReadCSV(strings.NewReader(in), CSVColumns{Date: "date", Target: "revenue", Spend: []string{"Search"}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", in, err, want)
		}
	}
	d = Data{Dates: []time.Time{date(2026, 1, 1), date(2026, 1, 3)}, Target: []float64{1, 2}, Channels: []string{"a"}, Spend: [][]float64{{1, 1}}}
	if _, err := d.validate(); err == nil || !strings.Contains(err.Error(), "2 days apart") {
		t.Errorf("a gap: %v", err)
	}
}

func TestHolidays(t *testing.T) {
	t.Parallel()
	if got := easter(2026).Format(time.DateOnly); got != "2026-04-05" {
		t.Errorf("Easter 2026 = %s", got)
	}
	if got := blackFriday(2025).Format(time.DateOnly); got != "2025-11-28" {
		t.Errorf("Black Friday 2025 = %s", got)
	}
	var dates []time.Time
	for i := range 23 {
		dates = append(dates, date(2025, 12, 10).AddDate(0, 0, i))
	}
	names, cols := holidayIndicators(dates, Day)
	got := map[string]float64{}
	for i, n := range names {
		got[n] = sum(cols[i])
	}
	if got["Christmas run-up"] != 9 || got["Christmas"] != 2 || got["New Year"] != 2 || got["Easter"] != 0 {
		t.Errorf("%v", got)
	}
}

// TestCalibrationMovesPlan: an experiment that measured a channel's return well above the
// model's own estimate moves budget toward that channel, and one that measured it near zero
// moves budget away from it: a measured lift changes the recommendation, not only the
// channel's estimate.
func TestCalibrationMovesPlan(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(11, 240, 3)
	recommended := func(cals []Calibration) (map[string]float64, *Model) {
		m, err := Fit(context.Background(), d, Options{Calibrations: cals})
		if err != nil {
			t.Fatal(err)
		}
		zero := 0.0
		p, err := m.Plan(PlanOptions{RiskAversion: &zero})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, c := range p.Channels {
			out[c.Channel] = c.Recommended
		}
		return out, m
	}
	base, m := recommended(nil)
	ch := m.Channels[0]
	high := ch.ROAS * 3
	up, _ := recommended([]Calibration{{Channel: ch.Channel, ROAS: high, Low: high * 0.9, High: high * 1.1}})
	down, _ := recommended([]Calibration{{Channel: ch.Channel, ROAS: 0.02, Low: 0, High: 0.05}})
	t.Logf("%s: estimate %.2f; recommended spend without a test %.0f, after a test at %.2f %.0f, after a test near 0 %.0f",
		ch.Channel, ch.ROAS, base[ch.Channel], high, up[ch.Channel], down[ch.Channel])
	if !(up[ch.Channel] > base[ch.Channel]) {
		t.Errorf("a test measuring %s at %.2f (model %.2f) did not raise its recommended spend: %.0f → %.0f", ch.Channel, high, ch.ROAS, base[ch.Channel], up[ch.Channel])
	}
	if !(down[ch.Channel] < base[ch.Channel]) {
		t.Errorf("a test measuring %s near zero did not lower its recommended spend: %.0f → %.0f", ch.Channel, base[ch.Channel], down[ch.Channel])
	}
}

// TestCalibrationBelowZero: a test whose estimate or interval reaches below zero is read as
// measured, so its spread (not a clipped, narrower one) sets how hard it pulls.
func TestCalibrationBelowZero(t *testing.T) {
	t.Parallel()
	got, note, ok := calibrationFromTest(experiment.Calibration{Channel: "Search", Experiment: "holdout", ROAS: -5.58, Low: -22.99, High: 11.83, Level: 0.95})
	if !ok || got.ROAS != -5.58 || got.Low != -22.99 || got.High != 11.83 || got.Level != 0.95 {
		t.Errorf("a test of -5.58 [-22.99, 11.83] read as %+v (%q)", got, note)
	}
	if _, note, ok := calibrationFromTest(experiment.Calibration{Channel: "Search", Experiment: "holdout", ROAS: -3, Low: -6, High: -0.5}); ok || !strings.Contains(note, "no positive return") {
		t.Errorf("a test wholly below zero was used (note %q)", note)
	}

	d, _ := Synthetic(11, 240, 3)
	base, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := base.Channels[0]
	// A test centred below zero whose interval still holds the channel's estimate: read as
	// measured it barely moves the channel; read with its lower half cut at zero it would
	// claim about three times the precision and pull the channel down hard.
	hi := 2 * b.ROAS
	lo := -5 * b.ROAS
	mid := (lo + hi) / 2
	measured, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: b.Channel, ROAS: mid, Low: lo, High: hi}}})
	if err != nil {
		t.Fatalf("a calibration below zero was refused: %v", err)
	}
	clipped, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: b.Channel, ROAS: 0, Low: 0, High: hi}}})
	if err != nil {
		t.Fatal(err)
	}
	m, c := measured.Channels[0], clipped.Channels[0]
	t.Logf("no test %.2f [%.2f, %.2f]; test %.2f [%.2f, %.2f] read as measured %.2f [%.2f, %.2f], clipped %.2f [%.2f, %.2f]",
		b.ROAS, b.ROASLow, b.ROASHigh, mid, lo, hi, m.ROAS, m.ROASLow, m.ROASHigh, c.ROAS, c.ROASLow, c.ROASHigh)
	if m.ROAS < 0 || c.ROAS < 0 {
		t.Error("a calibration below zero made an effect negative")
	}
	if b.ROAS-m.ROAS >= b.ROAS-c.ROAS {
		t.Errorf("the measured reading moved the channel as much as the clipped one: %.2f vs %.2f from %.2f", m.ROAS, c.ROAS, b.ROAS)
	}
	if _, err := Fit(context.Background(), d, Options{Calibrations: []Calibration{{Channel: b.Channel, ROAS: -1, Low: -2, High: -0.5}}}); err == nil {
		t.Error("a calibration wholly below zero was accepted")
	}
}
