package attribution

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// path builds a converting journey whose touches are one day apart, the last at conversion.
func path(conv, value float64, chans ...string) Path {
	j := Path{Conversions: conv, Value: value, ConvertedAt: t0}
	for i, c := range chans {
		j.Touches = append(j.Touches, Touch{Channel: c, Time: t0.Add(-time.Duration(len(chans)-1-i) * day)})
	}
	return j
}

func run(t *testing.T, name string, cfg Config, js ...Path) Result {
	t.Helper()
	m, err := New(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Attribute(js)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	checkSums(t, r)
	return r
}

func credit(r Result, ch string) Credit {
	for _, c := range r.ByChannel {
		if c.Key == ch {
			return c
		}
	}
	return Credit{}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

// want checks conversions per channel; value must be 10 * conversions in these cases.
func want(t *testing.T, r Result, exp map[string]float64) {
	t.Helper()
	for ch, v := range exp {
		c := credit(r, ch)
		if !near(c.Conversions, v) {
			t.Errorf("%s: %s conversions = %v, want %v", r.Model, ch, c.Conversions, v)
		}
		if !near(c.Value, 10*v) {
			t.Errorf("%s: %s value = %v, want %v", r.Model, ch, c.Value, 10*v)
		}
	}
}

// checkSums verifies that channel credit sums to the totals and campaign credit to the
// channel credit.
func checkSums(t *testing.T, r Result) {
	t.Helper()
	var c, v float64
	perCh := map[string][2]float64{}
	for _, x := range r.ByChannel {
		c += x.Conversions
		v += x.Value
		perCh[x.Key] = [2]float64{x.Conversions, x.Value}
	}
	if !near(c, r.TotalConversions) || !near(v, r.TotalValue) {
		t.Errorf("%s: channel credit sums to %v / %v, totals %v / %v", r.Model, c, v, r.TotalConversions, r.TotalValue)
	}
	if r.ByCampaign == nil {
		return
	}
	got := map[string][2]float64{}
	for _, x := range r.ByCampaign {
		g := got[x.Channel]
		got[x.Channel] = [2]float64{g[0] + x.Conversions, g[1] + x.Value}
	}
	for ch, w := range perCh {
		g := got[ch]
		if !near(g[0], w[0]) || !near(g[1], w[1]) {
			t.Errorf("%s: campaigns of %s sum to %v, channel has %v", r.Model, ch, g, w)
		}
	}
}

func TestOneTouchGetsEverything(t *testing.T) {
	t.Parallel()
	for _, name := range ModelNames {
		r := run(t, name, Config{}, path(1, 10, "A"))
		want(t, r, map[string]float64{"A": 1})
	}
}

func TestTwoTouches(t *testing.T) {
	t.Parallel()
	j := path(1, 10, "A", "B")
	exp := map[string]map[string]float64{
		"first_touch":     {"A": 1, "B": 0},
		"last_touch":      {"A": 0, "B": 1},
		"last_non_direct": {"A": 0, "B": 1},
		"linear":          {"A": 0.5, "B": 0.5},
		"position_based":  {"A": 0.5, "B": 0.5},
		"w_shaped":        {"A": 0.5, "B": 0.5},
		"custom":          {"A": 0.5, "B": 0.5},
		// A is one day (half-life 1 day below) before the conversion: weights 1/2 and 1.
		"time_decay": {"A": 1.0 / 3, "B": 2.0 / 3},
		"shapley":    {"A": 0.5, "B": 0.5},
		// Only converting paths: removing either channel stops every conversion.
		"markov":     {"A": 0.5, "B": 0.5},
		"shapley_cr": {"A": 0.5, "B": 0.5},
	}
	for name, e := range exp {
		r := run(t, name, Config{HalfLife: day}, j)
		want(t, r, e)
	}
}

func TestRepeatedChannel(t *testing.T) {
	t.Parallel()
	j := path(1, 10, "A", "B", "A")
	exp := map[string]map[string]float64{
		"first_touch":    {"A": 1},
		"last_touch":     {"A": 1},
		"linear":         {"A": 2.0 / 3, "B": 1.0 / 3}, // two shares for A
		"position_based": {"A": 0.8, "B": 0.2},
		"w_shaped":       {"A": 2.0 / 3, "B": 1.0 / 3}, // 3 anchors, 1/3 each
		"shapley":        {"A": 0.5, "B": 0.5},         // distinct channels only
		// The chain forgets history: from A it converts or goes to B half the time each, so
		// removing B leaves p = 1/2 (RE 1/2) and removing A leaves 0 (RE 1): 2/3 and 1/3.
		"markov": {"A": 2.0 / 3, "B": 1.0 / 3},
		// weights 1/4, 1/2, 1 with a 1-day half-life
		"time_decay": {"A": (0.25 + 1) / 1.75, "B": 0.5 / 1.75},
	}
	for name, e := range exp {
		want(t, run(t, name, Config{HalfLife: day}, j), e)
	}
}

func TestLastNonDirect(t *testing.T) {
	t.Parallel()
	r := run(t, "last_non_direct", Config{}, path(1, 10, "Direct", "Direct"))
	want(t, r, map[string]float64{"Direct": 1})
	r = run(t, "last_non_direct", Config{}, path(1, 10, "A", "Direct", "B", "Direct"))
	want(t, r, map[string]float64{"B": 1, "Direct": 0, "A": 0})
	r = run(t, "last_touch", Config{}, path(1, 10, "A", "Direct"))
	want(t, r, map[string]float64{"Direct": 1})
}

func TestPositionBasedMiddleSplit(t *testing.T) {
	t.Parallel()
	r := run(t, "position_based", Config{}, path(1, 10, "A", "B", "C", "D", "E"))
	want(t, r, map[string]float64{"A": 0.4, "B": 0.2 / 3, "C": 0.2 / 3, "D": 0.2 / 3, "E": 0.4})
}

func TestWShaped(t *testing.T) {
	t.Parallel()
	// No milestones, 5 touches: anchors first (0), middle (2), last (4); 10 % over 1 and 3.
	r := run(t, "w_shaped", Config{}, path(1, 10, "A", "B", "C", "D", "E"))
	want(t, r, map[string]float64{"A": 0.3, "B": 0.05, "C": 0.3, "D": 0.05, "E": 0.3})
	// Milestones: lead at touch 1, opportunity at touch 2; the rest share 10 %.
	j := path(1, 10, "A", "B", "C", "D", "E")
	j.Milestones = []int{1, 2}
	r = run(t, "w_shaped", Config{}, j)
	want(t, r, map[string]float64{"A": 0.3, "B": 0.3, "C": 0.3, "D": 0.05, "E": 0.05})
	// Lead on the first touch: that touch gets 60 %; opportunity unknown -> last touch.
	j = path(1, 10, "A", "B", "C", "D")
	j.Milestones = []int{0, -1}
	r = run(t, "w_shaped", Config{}, j)
	want(t, r, map[string]float64{"A": 0.6, "B": 0.05, "C": 0.05, "D": 0.3})
	j.Milestones = []int{7}
	if _, err := Must(ByName("w_shaped")).Attribute([]Path{j}); err == nil {
		t.Error("milestone outside the journey: no error")
	}
}

func Must(m Model, err error) Model {
	if err != nil {
		panic(err)
	}
	return m
}

func TestCustom(t *testing.T) {
	t.Parallel()
	r := run(t, "custom", Config{CustomWeights: []float64{0.7, 0.1, 0.2}}, path(1, 10, "A", "B", "C", "D"))
	want(t, r, map[string]float64{"A": 0.7, "B": 0.05, "C": 0.05, "D": 0.2})
	r = run(t, "custom", Config{CustomWeights: []float64{0.7, 0.1, 0.2}}, path(1, 10, "A", "B"))
	want(t, r, map[string]float64{"A": 0.7 / 0.9, "B": 0.2 / 0.9})
	// A 2-point curve 0 -> 1 over 3 touches: weights 0, 0.5, 1.
	r = run(t, "custom", Config{CustomWeights: []float64{0, 1}}, path(1, 10, "A", "B", "C"))
	want(t, r, map[string]float64{"A": 0, "B": 1.0 / 3, "C": 2.0 / 3})
	for _, bad := range [][]float64{{1}, {-1, 1, 1}, {0, 0, 0}, {math.NaN(), 1, 1}, {math.Inf(1), 1}} {
		if _, err := New("custom", Config{CustomWeights: bad}); err == nil {
			t.Errorf("custom weights %v accepted", bad)
		}
	}
}

func TestTimeDecayNeedsTimes(t *testing.T) {
	t.Parallel()
	j := Path{Touches: []Touch{{Channel: "A"}, {Channel: "B"}}, Conversions: 1}
	_, err := Must(ByName("time_decay")).Attribute([]Path{j})
	if !errors.Is(err, ErrNeedsTimes) || !strings.Contains(err.Error(), "time_decay needs touch times; path files have none") {
		t.Fatalf("err = %v, want ErrNeedsTimes", err)
	}
	// Default half-life is 7 days: a touch 7 days out weighs half.
	j = path(1, 10, "A", "B")
	j.Touches[0].Time = t0.Add(-7 * day)
	want(t, run(t, "time_decay", Config{}, j), map[string]float64{"A": 1.0 / 3, "B": 2.0 / 3})
	// No conversion time: measured from the last touch.
	j.ConvertedAt = time.Time{}
	want(t, run(t, "time_decay", Config{}, j), map[string]float64{"A": 1.0 / 3, "B": 2.0 / 3})
	// Very old touches must not underflow to a 0/0.
	j = path(1, 10, "A", "B")
	j.Touches[0].Time = t0.Add(-5000 * day)
	j.Touches[1].Time = t0.Add(-4999 * day)
	want(t, run(t, "time_decay", Config{HalfLife: day}, j), map[string]float64{"A": 1.0 / 3, "B": 2.0 / 3})
}

func TestZeroValueConversions(t *testing.T) {
	t.Parallel()
	for _, name := range ModelNames {
		r := run(t, name, Config{}, path(2, 0, "A", "B"), path(1, 0, "B"))
		for _, c := range r.ByChannel {
			if c.Value != 0 {
				t.Errorf("%s: %s value %v, want 0", name, c.Key, c.Value)
			}
		}
		if r.TotalConversions != 3 {
			t.Errorf("%s: total conversions %v", name, r.TotalConversions)
		}
	}
}

func TestZeroConversions(t *testing.T) {
	t.Parallel()
	j := path(0, 0, "A", "B")
	j.Nulls = 5
	for _, name := range ModelNames {
		r := run(t, name, Config{}, j)
		for _, c := range r.ByChannel {
			if c.Conversions != 0 || c.Value != 0 {
				t.Errorf("%s: %s got %v", name, c.Key, c)
			}
		}
	}
	// No touches at all: counted as unattributed, not silently lost.
	r := run(t, "linear", Config{}, Path{Conversions: 3}, path(1, 10, "A"))
	if r.TotalConversions != 1 || len(r.Notes) == 0 {
		t.Errorf("touchless journey: total %v notes %v", r.TotalConversions, r.Notes)
	}
}

func TestLookback(t *testing.T) {
	t.Parallel()
	j := Path{Conversions: 1, Value: 10, ConvertedAt: t0, Milestones: []int{0, 2}, Touches: []Touch{
		{Channel: "Old", Time: t0.Add(-40 * day)},
		{Channel: "A", Time: t0.Add(-10 * day)},
		{Channel: "B", Time: t0},
		{Channel: "After", Time: t0.Add(time.Hour)},
	}}
	got := ApplyLookback(j, 0)
	if len(got.Touches) != 2 || got.Touches[0].Channel != "A" || got.Touches[1].Channel != "B" {
		t.Fatalf("default 30-day lookback kept %+v", got.Touches)
	}
	if len(got.Milestones) != 2 || got.Milestones[0] != -1 || got.Milestones[1] != 1 {
		t.Errorf("milestones after lookback = %v, want [-1 1]", got.Milestones)
	}
	if len(j.Touches) != 4 {
		t.Error("ApplyLookback changed its input")
	}
	if got := ApplyLookback(j, 5*day); len(got.Touches) != 1 {
		t.Errorf("5-day lookback kept %d touches", len(got.Touches))
	}
	r := run(t, "first_touch", Config{}, ApplyLookback(j, 0))
	want(t, r, map[string]float64{"A": 1, "Old": 0})
}

func TestMarkovHandComputed(t *testing.T) {
	t.Parallel()
	js := []Path{
		{Touches: []Touch{{Channel: "A"}}, Conversions: 1, Nulls: 1, Value: 10},
		{Touches: []Touch{{Channel: "B"}}, Nulls: 2},
		{Touches: []Touch{{Channel: "A"}, {Channel: "B"}}, Conversions: 1, Value: 10},
	}
	// p(start)=2/5; without A 2/15 (RE 2/3); without B 1/5 (RE 1/2); shares 4/7, 3/7.
	r := run(t, "markov", Config{}, js...)
	want(t, r, map[string]float64{"A": 8.0 / 7, "B": 6.0 / 7})
	d := r.Details.(*MarkovDetails)
	if !near(d.ConversionProbability, 0.4) || !near(d.RemovalEffect("A"), 2.0/3) || !near(d.RemovalEffect("B"), 0.5) {
		t.Errorf("details %+v", d)
	}
	// Consecutive repeats collapse: A > A > B is the same chain as A > B.
	js2 := append([]Path(nil), js...)
	js2[2] = Path{Touches: []Touch{{Channel: "A"}, {Channel: "A"}, {Channel: "B"}}, Conversions: 1, Value: 10}
	want(t, run(t, "markov", Config{}, js2...), map[string]float64{"A": 8.0 / 7, "B": 6.0 / 7})

	want(t, run(t, "shapley", Config{}, js...), map[string]float64{"A": 1.5, "B": 0.5})
	want(t, run(t, "shapley_cr", Config{}, js...), map[string]float64{"A": 1.75, "B": 0.25})
}

func TestMarkovOrders(t *testing.T) {
	t.Parallel()
	js := SyntheticPaths(3000, 5, 3)
	for order := 1; order <= MaxMarkovOrder; order++ {
		r := run(t, "markov", Config{Order: order}, js...)
		if d := r.Details.(*MarkovDetails); d.Order != order || d.States < 2 {
			t.Errorf("order %d details %+v", order, d)
		}
	}
	if _, err := New("markov", Config{Order: 5}); err == nil {
		t.Error("order 5 accepted")
	}
	if _, err := (Markov{Order: -1}).Attribute(js); err == nil {
		t.Error("order -1 accepted")
	}
}

// Every model on a synthetic set with campaigns and times: sums hold and the journey and
// compact entry points agree.
func TestSumsAndEntryPointsAgree(t *testing.T) {
	t.Parallel()
	s := SyntheticSet(5000, 7, 11)
	js := s.Paths()
	all, err := AttributeAll(s, Models())
	if err != nil {
		t.Fatal(err)
	}
	for k, name := range ModelNames {
		m := Must(ByName(name))
		a, err := m.AttributeSet(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkSums(t, a)
		if len(a.ByCampaign) != len(s.Pairs) {
			t.Errorf("%s: %d campaign rows, want %d", name, len(a.ByCampaign), len(s.Pairs))
		}
		b, err := m.Attribute(js)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range a.ByChannel {
			if a.ByChannel[i].Key != b.ByChannel[i].Key || !near(a.ByChannel[i].Conversions, b.ByChannel[i].Conversions) {
				t.Errorf("%s: set %v vs journeys %v", name, a.ByChannel[i], b.ByChannel[i])
			}
			// The fused pass of AttributeAll gives the same numbers.
			if f := all[k].ByChannel[i]; all[k].Model != name || f.Key != a.ByChannel[i].Key || !near(f.Conversions, a.ByChannel[i].Conversions) || !near(f.Value, a.ByChannel[i].Value) {
				t.Errorf("%s: AttributeAll %v vs alone %v", name, f, a.ByChannel[i])
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	if len(Models()) != len(ModelNames) || len(Conventions()) != len(ModelNames) {
		t.Fatal("Models(), ModelNames and conventions differ")
	}
	for _, m := range Models() {
		if m.Convention() == "" || Conventions()[m.Name()] != m.Convention() {
			t.Errorf("%s: convention missing", m.Name())
		}
		got, err := ByName(m.Name())
		if err != nil || got.Name() != m.Name() {
			t.Errorf("ByName(%s) = %v, %v", m.Name(), got, err)
		}
	}
	if _, err := ByName("data_driven"); err == nil {
		t.Error("unknown model accepted")
	}
}

func TestBadPaths(t *testing.T) {
	t.Parallel()
	for _, j := range []Path{
		{Touches: []Touch{{Channel: "A"}}, Conversions: -1},
		{Touches: []Touch{{Channel: "A"}}, Value: math.NaN()},
		{Touches: []Touch{{Channel: ""}}, Conversions: 1},
	} {
		if _, err := Compile([]Path{j}); err == nil {
			t.Errorf("journey %+v accepted", j)
		}
	}
}

// Splitting the work into many chunks (merged in chunk order) must not change results.
func TestChunkingDoesNotChangeResults(t *testing.T) {
	s := SyntheticSet(20_000, 12, 4)
	one, err := AttributeAll(s, Models())
	if err != nil {
		t.Fatal(err)
	}
	old := chunkSize
	chunkSize = 777
	many, err := AttributeAll(s, Models())
	chunkSize = old
	if err != nil {
		t.Fatal(err)
	}
	for k := range one {
		for i := range one[k].ByChannel {
			a, b := one[k].ByChannel[i], many[k].ByChannel[i]
			if a.Key != b.Key || !near(a.Conversions, b.Conversions) || !near(a.Value, b.Value) {
				t.Errorf("%s: one chunk %v, many %v", one[k].Model, a, b)
			}
		}
		for i := range one[k].ByCampaign {
			a, b := one[k].ByCampaign[i], many[k].ByCampaign[i]
			if a.Key != b.Key || !near(a.Conversions, b.Conversions) {
				t.Errorf("%s: one chunk %v, many %v", one[k].Model, a, b)
			}
		}
	}
}

func TestExp2NonPos(t *testing.T) {
	t.Parallel()
	for x := 0.0; x > -1100; x -= 0.173 {
		got, want := exp2NonPos(x), math.Exp2(x)
		if want < 1e-300 {
			if got > 1e-300 {
				t.Fatalf("exp2NonPos(%v) = %v, want about %v", x, got, want)
			}
			continue
		}
		if math.Abs(got-want) > 1e-13*want {
			t.Fatalf("exp2NonPos(%v) = %v, want %v", x, got, want)
		}
	}
}

// Campaigns and times that first appear in a later journey are back-filled for earlier ones.
func TestSetBuilderBackfill(t *testing.T) {
	t.Parallel()
	js := []Path{
		{Touches: []Touch{{Channel: "A"}, {Channel: "B"}}, Conversions: 1, Value: 10},
		{Touches: []Touch{{Channel: "A", Campaign: "spring", Time: t0.Add(-day)}, {Channel: "B", Time: t0}}, Conversions: 1, Value: 10, ConvertedAt: t0},
	}
	s, err := Compile(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Camp) != 4 || len(s.Age) != 4 || !math.IsNaN(float64(s.Age[0])) || s.Age[2] != float32(day.Seconds()) {
		t.Fatalf("camp %v age %v", s.Camp, s.Age)
	}
	r := run(t, "first_touch", Config{}, js...)
	got := map[string]float64{}
	for _, c := range r.ByCampaign {
		got[c.Channel+"/"+c.Key] = c.Conversions
	}
	if got["A/(none)"] != 1 || got["A/spring"] != 1 || len(got) != 3 {
		t.Errorf("campaign credit %v", got)
	}
	// The first journey has no times, so time_decay refuses the set.
	if _, err := Must(ByName("time_decay")).Attribute(js); !errors.Is(err, ErrNeedsTimes) {
		t.Errorf("time_decay: %v", err)
	}
	want(t, run(t, "time_decay", Config{HalfLife: day}, js[1]), map[string]float64{"A": 1.0 / 3, "B": 2.0 / 3})
}
