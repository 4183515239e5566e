package pathstore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortAppended: a sorted run with entries appended (the processor's case), and
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
		sortAppended(s, cmpTouch)
		if !slices.Equal(s, want) {
			t.Fatalf("trial %d: got %v, want %v", trial, s, want)
		}
	}
}
