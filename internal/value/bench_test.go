package value

import (
	"testing"
)

// The fit recovers the parameters the synthetic population was drawn with.
func TestSyntheticRecovery(t *testing.T) {
	t.Parallel()
	o := DefaultSynthetic
	o.Customers = 20000
	sum := Synthetic(o)
	r, err := BenchCLV(sum)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	within(t, "r", r.BG.R, o.BG.R, 0.15)
	within(t, "alpha (weeks)", r.BG.Alpha, o.BG.Alpha/7, 0.2)
	within(t, "a", r.BG.A, o.BG.A, 0.3)
	within(t, "b", r.BG.B, o.BG.B, 0.4)
	within(t, "p", r.GG.P, o.Spend.P, 0.15)
	within(t, "q", r.GG.Q, o.Spend.Q, 0.25)
	within(t, "v", r.GG.V, o.Spend.V, 0.3)
}

var benchSum []CustomerSummary

func BenchmarkCLV1M(b *testing.B) {
	if benchSum == nil {
		benchSum = Synthetic(DefaultSynthetic)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := BenchCLV(benchSum)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Group.Seconds(), "group-s")
		b.ReportMetric(r.FitBG.Seconds(), "fitbg-s")
		b.ReportMetric(r.FitGG.Seconds(), "fitgg-s")
		b.ReportMetric(r.Score.Seconds(), "score-s")
		b.ReportMetric(float64(r.Histories), "histories")
	}
}
