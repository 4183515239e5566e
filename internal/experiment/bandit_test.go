package experiment

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBanditProbBest: with two arms, P(best) is P(B > A), which bayesBeta computes by
// integration (and TestReferenceBayes checks against Evan Miller's closed form).
func TestBanditProbBest(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	b := Bandit{Arms: []BanditArm{{Key: "a", Trials: 500, Successes: 40}, {Key: "b", Trials: 510, Successes: 55}}, Draws: 200_000}
	pb, err := b.ProbBest(rng)
	if err != nil {
		t.Fatal(err)
	}
	want := bayesBeta(41, 461, 56, 456).ProbBeat
	if se := math.Sqrt(want * (1 - want) / 200_000); math.Abs(pb[1]-want) > 4*se || math.Abs(pb[0]+pb[1]-1) > 1e-12 {
		t.Fatalf("P(best) %v, want b %.5f", pb, want)
	}
}

func TestBanditAllocationFloor(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(23, 24))
	b := Bandit{Arms: []BanditArm{{Key: "a", Trials: 5000, Successes: 100}, {Key: "b", Trials: 5000, Successes: 400}, {Key: "c", Trials: 5000, Successes: 150}}, Floor: 0.05}
	sh, err := b.Allocation(rng)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, s := range sh {
		sum += s
	}
	// b is best beyond doubt: the others keep exactly the floor.
	if math.Abs(sum-1) > 1e-12 || sh[0] != 0.05 || sh[2] != 0.05 || math.Abs(sh[1]-0.9) > 1e-12 {
		t.Fatalf("shares %v", sh)
	}
	for _, c := range []struct {
		b    Bandit
		want string
	}{
		{Bandit{Arms: []BanditArm{{Key: "a"}}}, "at least two arms"},
		{Bandit{Arms: []BanditArm{{Key: "a", Trials: 1, Successes: 2}, {Key: "b"}}}, "2 successes in 1 trials"},
		{Bandit{Arms: []BanditArm{{Key: "a"}, {Key: "b"}}, Floor: 0.6}, "floor"},
	} {
		if _, err := c.b.Allocation(rng); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.b, err)
		}
	}
}

// TestBanditSimulation: three subject lines converting at 5 %, 6 % and 8 %, 500 sends a
// day for 30 days. The bandit ends up sending most to the best, keeps the floor on the
// others, and loses fewer conversions than an even split would have.
func TestBanditSimulation(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(25, 26))
	run, err := SimulateBandit([]float64{0.05, 0.06, 0.08}, 500, 30, 0.01, rng)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("regret %.0f conversions (even split: %.0f); last shares %.3f", run.Regret, run.EvenRegret, run.Shares)
	if run.Shares[2] < 0.8 || run.Shares[0] < 0.01 || run.Shares[1] < 0.01 {
		t.Errorf("last shares %v", run.Shares)
	}
	if run.Regret > 0.5*run.EvenRegret {
		t.Errorf("regret %.1f, even split %.1f", run.Regret, run.EvenRegret)
	}
	rep, err := run.Final.Report(rng)
	if err != nil {
		t.Fatal(err)
	}
	// The report's regret is the posterior-mean estimate of the true regret.
	if rep.Best != "arm-2" || math.Abs(rep.Regret-run.Regret) > 0.5*run.Regret+20 {
		t.Errorf("report %+v, true regret %.1f", rep, run.Regret)
	}
	// By hand: posterior means (1+s)/(2+n).
	r2, _ := Bandit{Arms: []BanditArm{{Key: "x", Trials: 98, Successes: 9}, {Key: "y", Trials: 198, Successes: 39}}}.Report(rng)
	want := 98 * ((1+39)/200.0 - (1+9)/100.0)
	if math.Abs(r2.Regret-want) > 1e-12 || r2.Best != "y" || math.Abs(r2.RegretPc-want/(296*0.2)) > 1e-12 {
		t.Errorf("report %+v, want regret %v", r2, want)
	}
}
