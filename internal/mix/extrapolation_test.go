package mix

import (
	"context"
	"strings"
	"testing"
)

// TestExtrapolationWidens checks how the plan's draws treat spend beyond what the data
// have seen: up to the busiest four weeks' multiplier every draw follows its Hill curve;
// beyond it each draw keeps a share of the curve's rise, spread from none to all over the
// draws, so a what-if that takes a channel to three times its spend gets an interval
// whose low end is well below the one the curves alone give, while its estimate stays.
func TestExtrapolationWidens(t *testing.T) {
	t.Parallel()
	d, _ := Synthetic(7, 365, 3)
	m, err := Fit(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sums := m.drawSummaries()
	for c, name := range m.prob.channels {
		seen := m.seenMultiplier(c)
		if seen < 1 || seen > 3 {
			t.Errorf("%s: busiest four weeks at %.2f× the average", name, seen)
		}
		lo, hi := 1.0, 0.0
		for i := range sums[c] {
			s := sums[c][i]
			if a, b := s.at(seen), s.curve(seen); a != b {
				t.Fatalf("%s draw %d: %v at the busiest seen spend, the curve says %v", name, i, a, b)
			}
			top, far, damped := s.curve(seen), s.curve(3*seen), s.at(3*seen)
			if far-top < 1e-9 {
				continue
			}
			share := (damped - top) / (far - top)
			if share < -1e-9 || share > 1+1e-9 {
				t.Fatalf("%s draw %d: keeps %.3f of the rise beyond the seen spend", name, i, share)
			}
			lo, hi = min(lo, share), max(hi, share)
		}
		if lo > 0.05 || hi < 0.95 {
			t.Errorf("%s: the draws keep between %.2f and %.2f of the rise beyond the seen spend, want about 0 to 1", name, lo, hi)
		}
	}
	// A what-if at three times the busiest seen spend of the channel estimated to do most.
	c := 0
	for k, ce := range m.Channels {
		if ce.Contribution > m.Channels[c].Contribution {
			c = k
		}
	}
	name := m.prob.channels[c]
	mult := 3 * m.seenMultiplier(c)
	cur := m.prob.xScale[c] * sum(m.prob.x[c][:m.prob.n])
	sc, err := m.WhatIf(map[string]float64{name: mult * cur})
	if err != nil {
		t.Fatal(err)
	}
	curveOnly := make([]float64, len(sums[c]))
	for i := range sums[c] {
		curveOnly[i] = sums[c][i].curve(mult) - sums[c][i].curve(1)
	}
	low, _ := m.interval(curveOnly, sc.Change)
	t.Logf("%s at %.1f×: change %.0f, interval [%.0f, %.0f]; on the curves alone the low end is %.0f", name, mult, sc.Change, sc.ChangeLow, sc.ChangeHigh, low)
	if sc.ChangeLow >= low-0.05*(sc.Change-low) {
		t.Errorf("the interval's low end %.0f is not below the curves' own %.0f", sc.ChangeLow, low)
	}
	if len(sc.Extrapolated) == 0 {
		t.Errorf("%s at %.1f× its spend is not marked as extrapolated", name, mult)
	}
}

// TestMoveMayLose checks that a move whose interval runs below zero says what it may
// lose, in money or in the target's unit, and that one whose interval stays above zero
// does not.
func TestMoveMayLose(t *testing.T) {
	p := &Plan{Days: 365, Level: 0.8}
	money := Units{Money: true, Currency: "EUR"}
	per := func(v float64) float64 { return v * 365 / daysPerMonth }
	got := p.Describe(Move{From: "Paid Social", To: "Email", Amount: per(264.3), Gain: per(558.55), GainLow: per(-173), GainHigh: per(1009.29)}, TargetRevenue, money)
	if !strings.Contains(got, "may lose up to ") || !strings.Contains(got, "173") {
		t.Errorf("a move that may lose: %q", got)
	}
	got = p.Describe(Move{From: "Paid Social", To: "Paid Search", Amount: per(1000), Gain: per(6000), GainLow: per(700), GainHigh: per(6800)}, TargetRevenue, money)
	if strings.Contains(got, "may lose") {
		t.Errorf("a move whose interval is above zero: %q", got)
	}
	got = p.Describe(Move{To: "Email", Amount: per(100), Gain: per(3), GainLow: per(-1.5), GainHigh: per(6)}, TargetOrders, Units{Currency: "EUR"})
	if !strings.Contains(got, "may cost up to 1.5 orders a month") {
		t.Errorf("a move in orders that may lose: %q", got)
	}
}
