package experiment

import (
	"fmt"
	"testing"
)

func twoWay(name string, w ...float64) Experiment {
	e := Experiment{Name: name}
	for i, x := range w {
		e.Variants = append(e.Variants, Variant{Key: fmt.Sprintf("v%d", i), Weight: x})
	}
	return e
}

func TestAssignDeterministicAndWeighted(t *testing.T) {
	t.Parallel()
	e := twoWay("hero", 50, 30, 20)
	const n = 200_000
	counts := make([]float64, 3)
	for i := range n {
		id := fmt.Sprintf("anon-%d", i)
		a := e.Assign(id)
		if a != e.Assign(id) {
			t.Fatalf("%s assigned twice differently", id)
		}
		counts[a]++
	}
	// The split matches the weights: a sample-ratio test of the assignment itself.
	if p := SRMPValue(counts, e.Weights()); p < 0.001 {
		t.Fatalf("counts %v for weights 50/30/20: SRM p = %g", counts, p)
	}
	// Other weights on the same scale keep the units whose bucket stays in the same arm:
	// going from 50/30/20 to 50/50 only moves units out of the dropped third arm and
	// keeps every control unit in control.
	f := twoWay("hero", 50, 50)
	for i := range 10_000 {
		id := fmt.Sprintf("anon-%d", i)
		if e.Assign(id) == 0 && f.Assign(id) != 0 {
			t.Fatalf("%s left control when the other arms changed", id)
		}
	}
}

func TestAssignIndependentAcrossExperiments(t *testing.T) {
	t.Parallel()
	a, b := twoWay("hero", 1, 1), twoWay("checkout", 1, 1)
	var table [2][2]float64
	for i := range 100_000 {
		id := fmt.Sprintf("u%d", i)
		table[a.Assign(id)][b.Assign(id)]++
	}
	// Independence: each cell is a quarter (a 4-way sample-ratio test).
	cells := []float64{table[0][0], table[0][1], table[1][0], table[1][1]}
	if p := SRMPValue(cells, []float64{1, 1, 1, 1}); p < 0.001 {
		t.Fatalf("assignments of two experiments are related: %v (p = %g)", cells, p)
	}
}

func TestBucketRange(t *testing.T) {
	t.Parallel()
	for i := range 1000 {
		b := Bucket("x", fmt.Sprint(i))
		if b < 0 || b >= 1 {
			t.Fatalf("bucket %v", b)
		}
	}
	if Bucket("ab", "c") == Bucket("a", "bc") {
		t.Fatal("the separator does not separate name and unit")
	}
}
