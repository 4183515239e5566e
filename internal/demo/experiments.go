package demo

import (
	"context"
	"math"
	"strconv"
	"sync"

	"github.com/omniroi/omniroi/internal/experiment"
)

// The demo's experiments with known effects. Two of them live in the generated history:
//
//   - a web test (WebTest): on the web shop's checkout page, the treatment offers a bag of
//     coffee beans, which a known share of shoppers add to their basket. Shoppers are
//     logged in at checkout, so the test's unit is the customer, assigned by userId with
//     internal/experiment's own assignment (the hash /v1/experiments uses); every
//     checkout in the test's weeks sends "Experiment Viewed".
//   - a switchback (Switchback): Paid Social runs at its usual budget in some weeks and
//     is off in the others, by the schedule internal/experiment lays out for the test's
//     name (experiment.SwitchbackSchedule).
//
// The third, a subject-line test inside a journey, runs in the journeys' replay
// (demojourney). Their true effects are in ground_truth.json's "experiments".

// Names and sizes of the demo's tests.
const (
	WebTestName       = "checkout-upsell"
	WebTestDays       = 42 // the last six weeks of the history
	SwitchbackName    = "paid-social-switchback"
	SwitchbackChannel = "Paid Social"
	SwitchbackDays    = 56 // eight weekly periods: the last eight weeks
	SwitchbackPeriod  = 7
	// UpsellTake is the share of treated checkouts that add the offered coffee beans.
	UpsellTake = 0.4
)

// upsellBeans is the treatment's offer.
var upsellBeans = product{"w-beans", "Coffee beans (500 g)", "coffee", 1650, 0}

// sUpsell is the decision "does this checkout take the offer": drawn for every checkout
// in the test, in both arms, so the arms differ only by the offer being shown.
const sUpsell stream = 200

// WebTest is the web test as the demo stores it.
func WebTest() experiment.Experiment {
	return experiment.Experiment{
		Name:       WebTestName,
		Hypothesis: "offering a bag of coffee beans at checkout raises revenue per customer",
		Unit:       experiment.UnitCustomer,
		Variants:   []experiment.Variant{{Key: "control", Name: "No offer", Weight: 1}, {Key: "upsell", Name: "Coffee beans offered at checkout", Weight: 1}},
		Metric:     experiment.Metric{Kind: experiment.MetricRevenue},
		Guardrails: []experiment.Metric{{Kind: experiment.MetricOrders}},
		MDE:        0.05,
	}
}

// Switchback is the ad-channel test as the demo stores it.
func Switchback() experiment.Experiment {
	return experiment.Experiment{
		Name:       SwitchbackName,
		Hypothesis: "Paid Social brings sales it is paid for",
		Unit:       experiment.UnitDay,
		Channel:    SwitchbackChannel,
		Variants:   []experiment.Variant{{Key: "on", Name: "Paid Social as usual", Weight: 1}, {Key: "off", Name: "Paid Social off", Weight: 1}},
		Metric:     experiment.Metric{Kind: experiment.MetricRevenue},
		Design:     experiment.Design{PeriodDays: SwitchbackPeriod},
	}
}

// webTestFrom and switchbackFrom are the tests' first day indexes.
func (w *world) webTestFrom() int    { return max(0, len(w.days)-WebTestDays) }
func (w *world) switchbackFrom() int { return max(0, len(w.days)-SwitchbackDays) }

// userIDOf is the web account id of person id (the emitter's userId).
func userIDOf(id uint32) string { return "cus_" + strconv.FormatUint(uint64(id)+100000, 10) }

// applySwitchback overrides the switchback channel's flights during the test: every one
// of its campaigns at its usual budget (level 1) in the on weeks, paused in the others.
func (w *world) applySwitchback() {
	from := w.switchbackFrom()
	on := experiment.SwitchbackSchedule(SwitchbackName, len(w.days)-from, SwitchbackPeriod)
	mask := channelMask(SwitchbackChannel)
	for d := from; d < len(w.days); d++ {
		for _, l := range paidLevers {
			if mask&l != 0 {
				x := float32(0)
				if on[d-from] {
					x = 1
				}
				w.level[d][levIndex(l)] = x
			}
		}
	}
}

// webTestState is one person's part in the web test.
type webTestState struct {
	exposed bool
	arm     int // 0 control, 1 upsell
	from    int // the day of the first exposure
	revenue int64
	addon   int64 // the offer's revenue the person's checkouts would take in the upsell arm
	orders  int64 // web orders in the test
}

// webTally sums the web test over people, by arm.
type webTally struct {
	Units   [2]int64
	Revenue [2]int64 // revenue net of refunds from the first exposure to the end
	Addon   [2]int64 // potential offer revenue: what the upsell arm adds (or would add)
	Orders  [2]int64 // web orders in the test (exposures)
}

func (a *webTally) add(b *webTally) {
	for i := range 2 {
		a.Units[i] += b.Units[i]
		a.Revenue[i] += b.Revenue[i]
		a.Addon[i] += b.Addon[i]
		a.Orders[i] += b.Orders[i]
	}
}

var webTestDef = WebTest()

// webTestOrder is an order on day d at loc, before it is counted: a web checkout in the
// test exposes the person and, in the upsell arm, may take the offer (added to b). It
// returns the variant to report as exposure ("" for none). Every order from the first
// exposure on counts in the person's revenue (refunds inside the window netted).
func (w *world) webTestOrder(p *person, s *webTestState, d int, loc location, b *basket, refundDay int) string {
	if d < w.webTestFrom() {
		return ""
	}
	refunded := refundDay >= 0 && refundDay < len(w.days)
	variant := ""
	if loc == locWeb {
		if !s.exposed {
			s.exposed, s.from = true, d
			s.arm = webTestDef.Assign(userIDOf(p.id))
		}
		if b.n < len(b.lines) && w.u(p.id, d, sUpsell) < UpsellTake {
			if !refunded {
				s.addon += upsellBeans.price
			}
			if s.arm == 1 {
				b.add(&upsellBeans, 1)
			}
		}
		variant = webTestDef.Variants[s.arm].Key
		s.orders++
	}
	if s.exposed && !refunded {
		s.revenue += b.total
	}
	return variant
}

// webTestDone adds the person's part to the tally.
func (s *webTestState) done(t *tally) {
	if t == nil || !s.exposed {
		return
	}
	t.web.Units[s.arm]++
	t.web.Revenue[s.arm] += s.revenue
	t.web.Addon[s.arm] += s.addon
	t.web.Orders[s.arm] += s.orders
}

// ExperimentsTruth is ground_truth.json's "experiments": the demo's tests and their true
// effects, beside what the demo's analysis of each measured (filled by the CLI).
type ExperimentsTruth struct {
	Web        WebTestTruth    `json:"web_test"`
	Switchback SwitchbackTruth `json:"switchback"`
	Note       string          `json:"note"`
}

// WebTestTruth is the checkout test's truth. The effect is exact for the customers the
// test exposed: the difference in revenue per customer between everyone in the upsell arm
// and everyone in control (the offer's revenue over the exposed customers, taken or not).
type WebTestTruth struct {
	Experiment string   `json:"experiment"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	Offer      string   `json:"offer"`
	PriceMinor int64    `json:"offer_price_minor"`
	Take       float64  `json:"take_rate"`
	Units      [2]int64 `json:"customers"` // exposed customers: control, upsell
	// DiffMinor is the true difference in revenue per exposed customer (upsell − control),
	// in minor units; Lift is it over the control revenue per customer (approximately:
	// in-store orders a customer made without a loyalty card are not theirs in the data).
	DiffMinor float64  `json:"true_diff_minor"`
	Lift      float64  `json:"true_lift"`
	Orders    [2]int64 `json:"web_orders"`
}

// SwitchbackTruth is the switchback's truth: the effect of the channel's on weeks on their
// own days (after the washout day), the quantity the switchback measures, found by
// re-simulating the world with each on week switched off as well.
type SwitchbackTruth struct {
	Experiment string   `json:"experiment"`
	Channel    string   `json:"channel"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	PeriodDays int      `json:"period_days"`
	Washout    int      `json:"washout_days"`
	Schedule   []string `json:"schedule"` // per week: on or off
	OnDays     int      `json:"on_days"`
	// DeltaPerDayMinor is the true sales per kept on day the channel caused; Incremental is
	// that times the on days (how the analysis reports it); SpendPerDayMinor the channel's
	// mean spend per kept on day minus per kept off day; ROAS their ratio.
	DeltaPerDayMinor  float64 `json:"true_effect_per_day_minor"`
	IncrementalMinor  float64 `json:"true_incremental_minor"`
	SpendPerDayMinor  float64 `json:"spend_moved_per_day_minor"`
	ROAS              float64 `json:"true_roas"`
	YearROAS          float64 `json:"year_true_roas"` // the channel's return over the year (budget.true_roas), for comparison
	CarryoverNote     string  `json:"carryover"`
	LaterRevenueMinor int64   `json:"later_revenue_minor"` // what the on weeks caused after their own week, to the end of the window
	WithinWeekRevenue int64   `json:"within_week_revenue_minor"`
	PeopleResimulated int64   `json:"people_resimulated"`
	onPeriods, kept   [][]int
	spendOn, spendOff float64
}

const experimentsNote = "The demo's tests with known effects. web_test: the checkout offer's true difference in revenue per exposed customer. switchback: the channel's effect on sales in its own on weeks, after each week's washout day (what a switchback can see); people it brought keep buying later (later_revenue_minor), which a switchback cannot credit, so its return is below the channel's return over the year. The journey subject-line test is under journeys.subject_test."

// experimentsTruth simulates the world once more to find the tests' true effects: the
// web test's potential outcomes from the actual world, and the switchback's by
// re-simulating the people the channel touched with each on week switched off.
func experimentsTruth(ctx context.Context, w *world, spend []SpendRow) (*ExperimentsTruth, error) {
	et := &ExperimentsTruth{Note: experimentsNote}
	sb := &et.Switchback
	from := w.switchbackFrom()
	n := len(w.days)
	on := experiment.SwitchbackSchedule(SwitchbackName, n-from, SwitchbackPeriod)
	washout := Switchback().Design.WashoutDays()
	*sb = SwitchbackTruth{Experiment: SwitchbackName, Channel: SwitchbackChannel, From: w.days[from].date.Format("2006-01-02"),
		To: w.days[n-1].date.Format("2006-01-02"), PeriodDays: SwitchbackPeriod, Washout: washout,
		CarryoverNote: "effects inside each on week's own days only; see later_revenue_minor"}
	mask := channelMask(SwitchbackChannel)
	var worlds []*world
	for s := from; s < n; s += SwitchbackPeriod {
		e := min(n, s+SwitchbackPeriod)
		state := "off"
		if on[s-from] {
			state = "on"
		}
		sb.Schedule = append(sb.Schedule, w.days[s].date.Format("2006-01-02")+" "+state)
		var kept []int
		for d := s + washout; d < e; d++ {
			kept = append(kept, d)
		}
		if !on[s-from] {
			sb.kept = append(sb.kept, nil)
			continue
		}
		sb.OnDays += e - s
		sb.onPeriods = append(sb.onPeriods, []int{s, e})
		sb.kept = append(sb.kept, kept)
		c := w.scaled(0, 1)
		for d := s; d < e; d++ {
			for _, l := range paidLevers {
				if mask&l != 0 {
					c.level[d][levIndex(l)] = 0
				}
			}
		}
		worlds = append(worlds, c)
	}
	workers := w.cfg.Workers
	type part struct {
		t        *tally
		off      []*tally
		affected int64
	}
	parts := make([]part, workers)
	next := make(chan int, workers)
	go func() {
		defer close(next)
		for i := 0; i < w.cfg.Customers; i += chunkPeople {
			if ctx.Err() != nil {
				return
			}
			next <- i
		}
	}()
	var wg sync.WaitGroup
	for k := range workers {
		pt := &parts[k]
		pt.t = newTally(n)
		for range worlds {
			pt.off = append(pt.off, newTally(n))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			act := newTally(n) // the affected people in the actual world
			for lo := range next {
				for id := lo; id < min(w.cfg.Customers, lo+chunkPeople); id++ {
					p := w.newPerson(uint32(id))
					o := w.simulate(&p, LevAll, nil, pt.t)
					if (o.touched|routeLever[p.route])&mask == 0 {
						continue
					}
					pt.affected++
					w.simulate(&p, LevAll, nil, act)
					for i, c := range worlds {
						c.simulate(&p, LevAll, nil, pt.off[i])
					}
				}
			}
			// Keep only the difference: actual − each counterfactual, per day.
			for i := range worlds {
				for d := range n {
					pt.off[i].revenue[d] = act.revenue[d] - pt.off[i].revenue[d]
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := newTally(n)
	diff := make([][]int64, len(worlds))
	for i := range worlds {
		diff[i] = make([]int64, n)
	}
	for _, pt := range parts {
		all.add(pt.t)
		sb.PeopleResimulated += pt.affected
		for i := range worlds {
			for d := range n {
				diff[i][d] += pt.off[i].revenue[d]
			}
		}
	}
	// The switchback: the effect of each on week on its kept days, and later.
	var keptOn, keptOff int
	var within float64
	i := 0
	for _, kept := range sb.kept {
		if kept == nil {
			continue
		}
		pe := sb.onPeriods[i]
		for _, d := range kept {
			within += float64(diff[i][d])
		}
		for d := pe[0]; d < pe[1]; d++ {
			sb.WithinWeekRevenue += diff[i][d]
		}
		for d := pe[1]; d < n; d++ {
			sb.LaterRevenueMinor += diff[i][d]
		}
		keptOn += len(kept)
		i++
	}
	spendByDay := map[string]int64{}
	for _, r := range spend {
		if r.Channel == SwitchbackChannel {
			spendByDay[r.Date] += r.AmountMinor
		}
	}
	var sOn, sOff float64
	for s := from; s < n; s += SwitchbackPeriod {
		e := min(n, s+SwitchbackPeriod)
		for d := s + washout; d < e; d++ {
			x := float64(spendByDay[w.days[d].date.Format("2006-01-02")])
			if on[s-from] {
				sOn += x
			} else {
				sOff += x
				keptOff++
			}
		}
	}
	if keptOn > 0 {
		sb.DeltaPerDayMinor = within / float64(keptOn)
		sb.spendOn = sOn / float64(keptOn)
	}
	if keptOff > 0 {
		sb.spendOff = sOff / float64(keptOff)
	}
	sb.SpendPerDayMinor = sb.spendOn - sb.spendOff
	sb.IncrementalMinor = sb.DeltaPerDayMinor * float64(sb.OnDays)
	if sb.SpendPerDayMinor > 0 {
		sb.ROAS = round3(sb.DeltaPerDayMinor / sb.SpendPerDayMinor)
	}

	// The web test: potential outcomes over the exposed customers.
	wt := &et.Web
	*wt = WebTestTruth{Experiment: WebTestName, From: w.days[w.webTestFrom()].date.Format("2006-01-02"), To: w.days[n-1].date.Format("2006-01-02"),
		Offer: upsellBeans.name, PriceMinor: upsellBeans.price, Take: UpsellTake, Units: all.web.Units, Orders: all.web.Orders}
	units := all.web.Units[0] + all.web.Units[1]
	if units > 0 {
		addon := all.web.Addon[0] + all.web.Addon[1]
		wt.DiffMinor = float64(addon) / float64(units)
		// Control potential revenue: what both arms had without the offer's revenue.
		ctl := all.web.Revenue[0] + all.web.Revenue[1] - all.web.Addon[1]
		if ctl > 0 {
			wt.Lift = round3(float64(addon) / float64(ctl))
		}
		wt.DiffMinor = math.Round(wt.DiffMinor*100) / 100
	}
	return et, nil
}
