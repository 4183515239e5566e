package demo

import (
	"context"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// The generator's own response to ad budgets: the ground truth a budget planner is
// graded against.

// BudgetChannels are the channels whose spend is a budget: their campaigns' levels (see
// flight.go) can be turned up and down. Email and SMS cost a fee per message sent to
// the people on the list; paying more does not send more, so they are not budgets here.
var BudgetChannels = []string{"Paid Search", "Paid Social"}

// budgetMultipliers are the budget levels the response curves are simulated at.
var budgetMultipliers = []float64{0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3}

// ResponsePoint is the world with every campaign of a channel at Multiplier times its
// level, every day: what the channel then costs and the revenue it adds over the world
// without it (everything else as generated).
type ResponsePoint struct {
	Multiplier              float64 `json:"multiplier"`
	SpendMinor              int64   `json:"spend_minor"`
	IncrementalRevenueMinor int64   `json:"incremental_revenue_minor"`
}

// ChannelResponse is one budget channel's true response.
type ChannelResponse struct {
	SpendMinor   int64           `json:"spend_minor"` // as generated
	TrueROAS     float64         `json:"true_roas"`   // incremental revenue / spend, as generated
	MarginalROAS float64         `json:"marginal_roas"`
	Curve        []ResponsePoint `json:"curve"`
}

// BudgetTruth is ground_truth.json's "budget": each budget channel's response, and the
// best split of the same total between them.
type BudgetTruth struct {
	Channels        map[string]ChannelResponse `json:"channels"`
	BestAllocation  map[string]int64           `json:"best_allocation_minor"`
	BestGainMinor   int64                      `json:"best_gain_minor"`
	MaxMultiplier   float64                    `json:"max_multiplier"`
	Explanation     []string                   `json:"explanation"`
	channelsOrdered []string
}

var budgetExplanation = []string{
	"Each budget channel's curve re-simulates the whole world with every one of its campaigns at a multiple of its daily level (the flight), everything else as generated. The campaigns are limited by their budgets, so spend_minor is that multiple of the generated spend; what it buys (ad exposure, clicks, people reached) grows less than in proportion. incremental_revenue_minor is the revenue over the world without the channel. Effects of the two channels are taken as additive when they are combined.",
	"marginal_roas is the slope of the curve at the generated budget: (revenue at 1.25× − at 0.75×) / (spend at 1.25× − at 0.75×).",
	"best_allocation_minor splits the generated total of the budget channels' spend between them to maximise the sum of their curves (linear between the simulated points), each between 0 and its spend at max_multiplier; best_gain_minor is the revenue that adds over the generated split.",
}

// mask of a channel's campaigns.
func channelMask(ch string) Lever {
	var m Lever
	for _, c := range Campaigns {
		if c.Channel == ch && isPaid(c.Lever) {
			m |= c.Lever
		}
	}
	return m
}

// runAll simulates every person in w with all levers on and returns the revenue and the
// paid campaigns' spend.
func runAll(ctx context.Context, w *world) (revenue int64, spend [levCount]int64, err error) {
	n := w.cfg.Customers
	workers := w.cfg.Workers
	type part struct {
		rev int64
		t   *tally
	}
	parts := make([]part, workers)
	next := make(chan int, workers)
	go func() {
		defer close(next)
		for i := 0; i < n; i += chunkPeople {
			if ctx.Err() != nil {
				return
			}
			next <- i
		}
	}()
	var wg sync.WaitGroup
	for k := range workers {
		parts[k].t = newTally(len(w.days))
		wg.Add(1)
		go func(pt *part) {
			defer wg.Done()
			for lo := range next {
				for id := lo; id < min(n, lo+chunkPeople); id++ {
					p := w.newPerson(uint32(id))
					o := w.simulate(&p, LevAll, nil, pt.t)
					pt.rev += o.revenue
				}
			}
		}(&parts[k])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, spend, err
	}
	all := newTally(len(w.days))
	for _, pt := range parts {
		revenue += pt.rev
		all.add(pt.t)
	}
	for d := range all.clicks {
		for i := range levCount {
			if c := all.clicks[d][i]; c > 0 && isPaid(Lever(1<<i)) {
				spend[i] += w.adCost(i, d, int64(c))
			}
		}
	}
	return revenue, spend, nil
}

// budgetTruth simulates the budget channels' response curves and the best split.
func budgetTruth(ctx context.Context, w *world) (*BudgetTruth, error) {
	bt := &BudgetTruth{Channels: map[string]ChannelResponse{}, BestAllocation: map[string]int64{},
		MaxMultiplier: budgetMultipliers[len(budgetMultipliers)-1], Explanation: budgetExplanation, channelsOrdered: BudgetChannels}
	for _, ch := range BudgetChannels {
		mask := channelMask(ch)
		// The campaigns are limited by their budgets: at m times the budget they cost m
		// times as much, and buy what that buys (fewer clicks per euro as they grow).
		_, sp, err := runAll(ctx, w)
		if err != nil {
			return nil, err
		}
		var s1 int64
		for _, l := range paidLevers {
			if mask&l != 0 {
				s1 += sp[levIndex(l)]
			}
		}
		var zero int64
		var pts []ResponsePoint
		for _, m := range budgetMultipliers {
			rev, _, err := runAll(ctx, w.scaled(mask, m))
			if err != nil {
				return nil, err
			}
			if m == 0 {
				zero = rev
			}
			pts = append(pts, ResponsePoint{Multiplier: m, SpendMinor: int64(math.Round(m * float64(s1))), IncrementalRevenueMinor: rev - zero})
		}
		cr := ChannelResponse{Curve: pts}
		for _, p := range pts {
			if p.Multiplier == 1 {
				cr.SpendMinor = p.SpendMinor
				if p.SpendMinor > 0 {
					cr.TrueROAS = round3(float64(p.IncrementalRevenueMinor) / float64(p.SpendMinor))
				}
			}
		}
		lo, hi := pointAt(pts, 0.75), pointAt(pts, 1.25)
		if hi.SpendMinor > lo.SpendMinor {
			cr.MarginalROAS = round3(float64(hi.IncrementalRevenueMinor-lo.IncrementalRevenueMinor) / float64(hi.SpendMinor-lo.SpendMinor))
		}
		bt.Channels[ch] = cr
	}
	cur := map[string]float64{}
	total := 0.0
	for _, ch := range BudgetChannels {
		cur[ch] = float64(bt.Channels[ch].SpendMinor)
		total += cur[ch]
	}
	best, gain := bt.Best(total, nil, nil)
	for ch, v := range best {
		bt.BestAllocation[ch] = int64(math.Round(v))
	}
	bt.BestGainMinor = int64(math.Round(gain))
	return bt, nil
}

func pointAt(pts []ResponsePoint, m float64) ResponsePoint {
	for _, p := range pts {
		if p.Multiplier == m {
			return p
		}
	}
	return ResponsePoint{}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Response is a budget channel's true incremental revenue (minor units) at a spend
// (minor units over the window), linear between the simulated points; beyond the last
// point the curve is held flat.
func (bt *BudgetTruth) Response(ch string, spend float64) float64 {
	pts := slices.Clone(bt.Channels[ch].Curve)
	if len(pts) == 0 {
		return 0
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].SpendMinor < pts[j].SpendMinor })
	if spend <= float64(pts[0].SpendMinor) {
		return float64(pts[0].IncrementalRevenueMinor)
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if spend <= float64(b.SpendMinor) {
			f := (spend - float64(a.SpendMinor)) / float64(b.SpendMinor-a.SpendMinor)
			return float64(a.IncrementalRevenueMinor) + f*float64(b.IncrementalRevenueMinor-a.IncrementalRevenueMinor)
		}
	}
	return float64(pts[len(pts)-1].IncrementalRevenueMinor)
}

// Value is the budget channels' true revenue (minor units) at the given spends; channels
// not given stay at their generated spend.
func (bt *BudgetTruth) Value(spend map[string]float64) float64 {
	v := 0.0
	for ch, cr := range bt.Channels {
		s, ok := spend[ch]
		if !ok {
			s = float64(cr.SpendMinor)
		}
		v += bt.Response(ch, s)
	}
	return v
}

// Best splits total (minor units) between the budget channels to maximise their true
// revenue, each between lo and hi (nil: 0 and its spend at MaxMultiplier), by a fine
// search over the split; it returns the split and its gain over the generated spend.
func (bt *BudgetTruth) Best(total float64, lo, hi map[string]float64) (map[string]float64, float64) {
	chs := bt.channelsOrdered
	if len(chs) == 0 {
		for ch := range bt.Channels {
			chs = append(chs, ch)
		}
		slices.Sort(chs)
	}
	bound := func(m map[string]float64, ch string, def float64) float64 {
		if v, ok := m[ch]; ok {
			return v
		}
		return def
	}
	l := make([]float64, len(chs))
	h := make([]float64, len(chs))
	for i, ch := range chs {
		curve := bt.Channels[ch].Curve
		l[i] = bound(lo, ch, 0)
		h[i] = bound(hi, ch, float64(curve[len(curve)-1].SpendMinor))
	}
	base := bt.Value(nil)
	best := map[string]float64{}
	bestV := math.Inf(-1)
	// Two channels: one free amount. More: coordinate search in steps (not needed today).
	if len(chs) == 2 {
		const steps = 4000
		a0, a1 := math.Max(l[0], total-h[1]), math.Min(h[0], total-l[1])
		for k := 0; k <= steps; k++ {
			a := a0 + (a1-a0)*float64(k)/steps
			v := bt.Response(chs[0], a) + bt.Response(chs[1], total-a)
			if v > bestV {
				bestV = v
				best = map[string]float64{chs[0]: a, chs[1]: total - a}
			}
		}
	}
	if math.IsInf(bestV, -1) {
		return nil, 0
	}
	return best, bestV - base
}

// BestProfit maximises margin × revenue − spend over the budget channels' spends, each
// between lo and hi (nil: 0 and its spend at MaxMultiplier), in total at most total; it
// returns the spends and the profit they add over the generated spend.
func (bt *BudgetTruth) BestProfit(margin, total float64, lo, hi map[string]float64) (map[string]float64, float64) {
	chs := slices.Sorted(maps.Keys(bt.Channels))
	if len(chs) != 2 {
		return nil, 0
	}
	bound := func(m map[string]float64, ch string, def float64) float64 {
		if v, ok := m[ch]; ok {
			return v
		}
		return def
	}
	profit := func(sp map[string]float64) float64 {
		v := margin * bt.Value(sp)
		for _, ch := range chs {
			s, ok := sp[ch]
			if !ok {
				s = float64(bt.Channels[ch].SpendMinor)
			}
			v -= s
		}
		return v
	}
	base := profit(nil)
	var best map[string]float64
	bestV := math.Inf(-1)
	const steps = 400
	l0, h0 := bound(lo, chs[0], 0), bound(hi, chs[0], float64(bt.Channels[chs[0]].Curve[len(bt.Channels[chs[0]].Curve)-1].SpendMinor))
	l1, h1 := bound(lo, chs[1], 0), bound(hi, chs[1], float64(bt.Channels[chs[1]].Curve[len(bt.Channels[chs[1]].Curve)-1].SpendMinor))
	for i := 0; i <= steps; i++ {
		a := l0 + (h0-l0)*float64(i)/steps
		for j := 0; j <= steps; j++ {
			b := l1 + (h1-l1)*float64(j)/steps
			if a+b > total+1e-6 {
				continue
			}
			sp := map[string]float64{chs[0]: a, chs[1]: b}
			if v := profit(sp); v > bestV {
				bestV, best = v, sp
			}
		}
	}
	return best, bestV - base
}

// Daily is the world's day-by-day outcome: each day's first instant (local midnight),
// its revenue net of refunds in minor units (a refund counts on its own day, as the
// store's order data count it) and its orders.
func (s *Summary) Daily() (days []time.Time, revenueMinor []int64, orders []int64) {
	for d, dy := range s.w.days {
		days = append(days, dy.date)
		revenueMinor = append(revenueMinor, s.tally.revenue[d])
		orders = append(orders, int64(s.tally.orders[d]))
	}
	return days, revenueMinor, orders
}
