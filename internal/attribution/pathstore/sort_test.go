package pathstore

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
)

// TestSortAppended: a sorted run (sortAppended and sortTouches) with entries appended (the processor's case), and
// arbitrary slices, come out exactly as a full sort puts them.
func TestSortAppended(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 2000 {
		n := rng.IntN(60)
		s := make([]Touch, n)
		for i := range s {
			s[i] = Touch{Customer: rng.Int64N(5), TS: rng.Int64N(4), Seq: int64(i)}
		}
		rng.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
		if trial%2 == 0 && n > 0 { // a sorted prefix, as a stored row has
			p := rng.IntN(n + 1)
			slices.SortFunc(s[:p], cmpTouch)
		}
		want := slices.Clone(s)
		slices.SortFunc(want, cmpTouch)
		s2 := slices.Clone(s)
		sortAppended(s, cmpTouch)
		if !slices.Equal(s, want) {
			t.Fatalf("trial %d: got %v, want %v", trial, s, want)
		}
		sortTouches(s2)
		if !slices.Equal(s2, want) {
			t.Fatalf("trial %d: sortTouches gave %v, want %v", trial, s2, want)
		}
	}
}

// BenchmarkSortRow: a day's row of 100,000 sorted touches of 5,000 customers with a batch
// of 2,500 appended, sorted by the generic merge and by sortTouches.
func BenchmarkSortRow(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]Touch, 0, 102_500)
	for i := range 102_500 {
		base = append(base, Touch{Customer: int64(1 + i%5000), TS: int64(i) * 10, Seq: int64(i + 1)})
	}
	rng.Shuffle(2500, func(i, j int) { base[100_000+i], base[100_000+j] = base[100_000+j], base[100_000+i] })
	slices.SortFunc(base[:100_000], cmpTouch)
	s := make([]Touch, len(base))
	for _, c := range []struct {
		name string
		sort func([]Touch)
	}{{"generic", func(s []Touch) { sortAppended(s, cmpTouch) }}, {"touches", sortTouches}} {
		b.Run(c.name, func(b *testing.B) {
			var r0, r1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			n := 0
			for b.Loop() {
				copy(s, base)
				c.sort(s)
				n++
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			cpu := r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano()
			b.ReportMetric(float64(cpu)/1e3/float64(n), "cpu-µs/op") // the machine is shared
		})
	}
}
