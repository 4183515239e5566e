package attribution

import (
	"flag"
	"sync"
	"testing"
)

// go test -bench . -benchmem ./internal/attribution/ -attr.n=10000000
var benchN = flag.Int("attr.n", 1_000_000, "synthetic journeys for the attribution benchmarks")

var (
	benchOnce sync.Once
	benchSet  *Set
)

func benchData(b *testing.B) *Set {
	benchOnce.Do(func() { benchSet = SyntheticSet(*benchN, 12, 1) })
	b.ReportMetric(float64(benchSet.Touches()), "touches")
	return benchSet
}

func benchModels(b *testing.B, names ...string) {
	s := benchData(b)
	models := make([]Model, len(names))
	for i, n := range names {
		models[i] = Must(ByName(n))
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := AttributeAll(s, models); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Touches())*float64(b.N)/b.Elapsed().Seconds(), "touches/s")
}

func BenchmarkRuleBasedAll(b *testing.B) { benchModels(b, RuleModelNames...) }
func BenchmarkMarkovOrder1(b *testing.B) { benchModels(b, "markov") }
func BenchmarkShapley(b *testing.B)      { benchModels(b, "shapley") }
func BenchmarkShapleyCR(b *testing.B)    { benchModels(b, "shapley_cr") }

func BenchmarkSyntheticSet(b *testing.B) {
	for b.Loop() {
		SyntheticSet(100_000, 12, 1)
	}
}

func TestBenchAttributionSmall(t *testing.T) {
	t.Parallel()
	r, err := BenchAttribution(20_000)
	if err != nil {
		t.Fatal(err)
	}
	if r.Touches < 60_000 || r.Touches > 100_000 || r.Conversions == 0 || r.RuleBased <= 0 {
		t.Errorf("report %+v", r)
	}
	t.Log("\n" + r.String())
}

func TestSyntheticSetShape(t *testing.T) {
	t.Parallel()
	s := SyntheticSet(50_000, 12, 2)
	mean := float64(s.Touches()) / float64(s.Len())
	if mean < 3.8 || mean > 4.2 || len(s.Channels) != 12 || s.Channels[0] != "Direct" {
		t.Errorf("mean touches %v, channels %v", mean, s.Channels)
	}
	a, b := SyntheticSet(1000, 12, 5), SyntheticSet(1000, 12, 5)
	for i := range a.Ch {
		if a.Ch[i] != b.Ch[i] || a.Age[i] != b.Age[i] {
			t.Fatal("same seed, different sets")
		}
	}
}

func BenchmarkMarkovOrder4(b *testing.B) {
	s := benchData(b)
	m := Markov{Order: 4}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.AttributeSet(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Touches())*float64(b.N)/b.Elapsed().Seconds(), "touches/s")
}

// BenchmarkReport prints BenchAttribution's report (what `omniroi bench attribution` shows):
// go test -run '^$' -bench Report -benchtime=1x -v ./internal/attribution/ -attr.n=10000000
func BenchmarkReport(b *testing.B) {
	for b.Loop() {
		r, err := BenchAttribution(*benchN)
		if err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + r.String())
	}
}
