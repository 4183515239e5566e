package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// ReportOptions say which runs are compared, how conversions are counted and what sends
// cost.
type ReportOptions struct {
	Window      time.Duration    // an order within Window after the first message converts the run; default 7d
	CostPerSend map[string]int64 // minor units per delivered send, by channel (email 0, sms 5, ...)
	Currency    string           // orders in other currencies are ignored; default: the most common

	// From and To select the runs started in [From, To); a zero bound is open. Each run
	// still converts on orders within Window after its entry, so a run started on the
	// period's last day may convert after To: the report is about the runs the period
	// started, not the orders it saw. Sends and their cost are those of the selected runs.
	From, To time.Time

	// AllRuns compares every run from its entry instead of the runs that reached a
	// message step from that moment. Before its first message a run is treated alike in
	// both arms, so leaving out the runs that ended earlier (the cart bought within the
	// hour) removes the same people from both and only cuts noise; a journey whose first
	// step is a message gets the same comparison either way.
	AllRuns bool
}

// RunPeriod is the run window a report covers; a nil bound is open.
type RunPeriod struct {
	From *time.Time `json:"from"` // first run start included
	To   *time.Time `json:"to"`   // exclusive
}

// Group is one arm of the comparison.
type Group struct {
	Runs           int64      `json:"runs"`
	Converted      int64      `json:"converted"`
	Rate           float64    `json:"conversion_rate"`
	RateCI         [2]float64 `json:"conversion_rate_ci95"` // Wilson score interval
	Revenue        int64      `json:"revenue_minor"`
	RevenuePerRun  float64    `json:"revenue_per_run_minor"`
	RevenueSD      float64    `json:"revenue_per_run_sd_minor"` // sample standard deviation
	revenueSquares float64
	revenueCubes   float64
	conv, rev      experiment.Moments // per run: converted (0/1), revenue in major units
	// MinRuns is how many runs this arm's revenue needs for the normal-theory interval
	// to hold: Cochran's rule, 25 × skewness², and at least 30.
	MinRuns int64 `json:"min_runs_for_interval"`
}

// Report compares treated runs with the holdout.
type Report struct {
	Journey         string     `json:"journey"`
	Window          string     `json:"window"`
	Runs            string     `json:"runs"` // "reached a message" (window from the first message) or "all" (from entry)
	Period          RunPeriod  `json:"runs_started"`
	Currency        string     `json:"currency"`
	Treated         Group      `json:"treated"`
	Holdout         Group      `json:"holdout"`
	Lift            float64    `json:"conversion_lift_pp"`         // percentage points
	LiftCI          [2]float64 `json:"conversion_lift_pp_ci95"`    // Newcombe hybrid score interval
	RevenueDiff     float64    `json:"revenue_per_run_diff_minor"` // treated − holdout
	RevenueDiffCI   [2]float64 `json:"revenue_per_run_diff_ci95"`  // Welch
	Incremental     float64    `json:"incremental_revenue_minor"`  // RevenueDiff × treated runs
	IncrementalCI   [2]float64 `json:"incremental_revenue_ci95"`
	Sends           int64      `json:"sends"`
	Cost            int64      `json:"cost_minor"`
	CostFrom        string     `json:"cost_from,omitempty"` // "settings": the journeys.cost.* settings; "journey": the journey's own (SetJourneyCost); "options": the report's costs
	ROI             *float64   `json:"roi"`                 // (incremental − cost) / cost; null when cost is 0
	SignificantLift bool       `json:"significant"`
	TooFewRuns      bool       `json:"too_few_runs"` // an arm has fewer runs than its MinRuns: no revenue interval

	// Experiment reads the holdout like every other test (internal/experiment): the
	// journey against its holdout, on conversion and revenue per run, with always-valid
	// intervals, the sample-ratio check against the planned holdout and a verdict.
	Experiment *HoldoutTest `json:"experiment,omitempty"`
	// Tests are the journey's message tests (a step's variants), each read the same way.
	Tests []StepTest `json:"tests,omitempty"`
}

// Measure builds the holdout report for a journey over all its versions, for the runs
// started in opt's window. The order that started a run (review-request enters on Order
// Completed) is not its conversion.
func Measure(ctx context.Context, db *store.DB, journey string, opt ReportOptions) (*Report, error) {
	rep, _, err := measure(ctx, db, journey, opt, false)
	return rep, err
}

// MeasureWithAllTime returns the report for opt's run window and, from the same scan of
// the journey's runs, the report over all of them (the dashboard shows both).
func MeasureWithAllTime(ctx context.Context, db *store.DB, journey string, opt ReportOptions) (period, all *Report, err error) {
	return measure(ctx, db, journey, opt, true)
}

func measure(ctx context.Context, db *store.DB, journey string, opt ReportOptions, withAll bool) (*Report, *Report, error) {
	if opt.Window <= 0 {
		opt.Window = 7 * 24 * time.Hour
	}
	if !opt.From.IsZero() && !opt.To.IsZero() && !opt.From.Before(opt.To) {
		return nil, nil, fmt.Errorf("journey report: the period start %s is not before its end %s", opt.From.Format(time.RFC3339), opt.To.Format(time.RFC3339))
	}
	if opt.Currency == "" {
		var err error
		if opt.Currency, err = reportCurrency(ctx, db, journey); err != nil {
			return nil, nil, err
		}
	}
	m := newMeasurement(journey, opt, withAll)
	if err := m.addRuns(ctx, db); err != nil {
		return nil, nil, err
	}
	if err := m.addSends(ctx, db); err != nil {
		return nil, nil, err
	}
	m.rep.compute()
	if m.all != nil {
		m.all.compute()
	}
	if err := m.addTests(ctx, db); err != nil {
		return nil, nil, err
	}
	return m.rep, m.all, nil
}

// reportCurrency is the currency of most of the journey's customers' orders ("" when they
// have none). It is chosen over all the journey's customers, so a period and all time
// agree on it. IN, not a join: each order counts once however many runs its customer had,
// and the subquery reads only the journey_runs_journey index.
func reportCurrency(ctx context.Context, db *store.DB, journey string) (string, error) {
	var cur string
	err := db.QueryRow(ctx, `SELECT currency FROM orders WHERE customer_id IN (SELECT customer_id FROM journey_runs WHERE journey = ?) GROUP BY currency ORDER BY COUNT(*) DESC, currency LIMIT 1`, journey).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // no orders at all: every run is a non-conversion
	} else if err != nil {
		return "", fmt.Errorf("journey report currency: %w", err)
	}
	return cur, nil
}

// measurement builds a journey's report for a period of run starts and, when asked, the
// report over all runs from the same scans.
type measurement struct {
	journey string
	opt     ReportOptions
	bounded bool  // the period has a start or an end
	lo, hi  int64 // the period's run starts, Unix milliseconds, [lo, hi)
	rep     *Report
	all     *Report // nil unless all time is wanted too
}

func newMeasurement(journey string, opt ReportOptions, withAll bool) *measurement {
	m := &measurement{journey: journey, opt: opt, bounded: !opt.From.IsZero() || !opt.To.IsZero(),
		lo: int64(math.MinInt64), hi: int64(math.MaxInt64)}
	if !opt.From.IsZero() {
		m.lo = opt.From.UnixMilli()
	}
	if !opt.To.IsZero() {
		m.hi = opt.To.UnixMilli()
	}
	runs := "reached a message"
	if opt.AllRuns {
		runs = "all"
	}
	newRep := func(p RunPeriod) *Report {
		return &Report{Journey: journey, Window: dur(opt.Window), Runs: runs, Currency: opt.Currency, Period: p}
	}
	var period RunPeriod
	if !opt.From.IsZero() {
		f := opt.From
		period.From = &f
	}
	if !opt.To.IsZero() {
		t := opt.To
		period.To = &t
	}
	m.rep = newRep(period)
	if withAll {
		m.all = newRep(RunPeriod{})
	}
	return m
}

// addRuns counts each run and its orders within the window into the reports. A run's
// clock starts at its first message step (the send row the holdout gets too, as
// suppressed), or at entry with AllRuns. With both reports wanted, one unfiltered scan
// feeds both and the period is applied per row; alone, it goes into the WHERE clause.
func (m *measurement) addRuns(ctx context.Context, db *store.DB) error {
	runsFrom, start, args := "journey_runs r", "r.started_at", []any{}
	if !m.opt.AllRuns {
		runsFrom = `journey_runs r JOIN (SELECT run_id, MIN(created_at) AS at FROM journey_sends WHERE journey = ? AND channel <> 'profile' GROUP BY run_id) f ON f.run_id = r.id`
		start, args = "f.at", append(args, m.journey)
	}
	where := ""
	args = append(args, m.opt.Window.Milliseconds(), m.opt.Currency, m.journey)
	if m.bounded && m.all == nil {
		where, args = " AND r.started_at >= ? AND r.started_at < ?", append(args, m.lo, m.hi)
	}
	rows, err := db.Query(ctx, `SELECT r.holdout, r.started_at, COUNT(o.order_id), `+db.SumMinor("o.revenue_minor")+`
		FROM `+runsFrom+` LEFT JOIN orders o ON o.customer_id = r.customer_id AND o.ts >= `+start+` AND o.ts < `+start+` + ? AND o.currency = ? AND o.seq <> r.entry_seq
		WHERE r.journey = ?`+where+` GROUP BY r.id, r.holdout, r.started_at`, args...)
	if err != nil {
		return fmt.Errorf("journey report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h int
		var started, n, rev int64
		if err := rows.Scan(&h, &started, &n, &rev); err != nil {
			return fmt.Errorf("journey report: %w", err)
		}
		if m.all != nil {
			m.all.add(h == 1, n, rev)
		}
		if started >= m.lo && started < m.hi {
			m.rep.add(h == 1, n, rev)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journey report: %w", err)
	}
	return nil
}

// addSends counts the delivered sends of the runs in each report and their cost.
func (m *measurement) addSends(ctx context.Context, db *store.DB) error {
	unit, costFrom, err := sendCosts(ctx, db, m.journey, m.opt)
	if err != nil {
		return err
	}
	var allCost, repCost float64
	var srows *sql.Rows
	if m.bounded {
		srows, err = db.Query(ctx, `SELECT s.channel, CASE WHEN r.started_at >= ? AND r.started_at < ? THEN 1 ELSE 0 END, COUNT(*)
			FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id
			WHERE s.journey = ? AND s.status = 'sent' AND s.channel <> 'profile' GROUP BY 1, 2`, m.lo, m.hi, m.journey)
	} else {
		srows, err = db.Query(ctx, `SELECT channel, 1, COUNT(*) FROM journey_sends WHERE journey = ? AND status = 'sent' AND channel <> 'profile' GROUP BY channel`, m.journey)
	}
	if err != nil {
		return fmt.Errorf("journey report: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var ch string
		var in int
		var n int64
		if err := srows.Scan(&ch, &in, &n); err != nil {
			return fmt.Errorf("journey report: %w", err)
		}
		if m.all != nil {
			m.all.Sends += n
			allCost += float64(n) * unit[ch]
		}
		if in == 1 {
			m.rep.Sends += n
			repCost += float64(n) * unit[ch]
		}
	}
	m.rep.Cost, m.rep.CostFrom = minorUnits(repCost), costFrom
	if m.all != nil {
		m.all.Cost, m.all.CostFrom = minorUnits(allCost), costFrom
	}
	if err := srows.Err(); err != nil {
		return fmt.Errorf("journey report: %w", err)
	}
	return nil
}

// addTests reads the journey against its holdout and each of its message tests, for
// each report's period.
func (m *measurement) addTests(ctx context.Context, db *store.DB) error {
	holdout, tests, err := journeyTests(ctx, db, m.journey)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, x := range []*Report{m.rep, m.all} {
		if x == nil {
			continue
		}
		x.Experiment = x.holdoutTest(holdout)
		p := x.Period
		from, to := int64(math.MinInt64), int64(math.MaxInt64)
		if p.From != nil {
			from = p.From.UnixMilli()
		}
		if p.To != nil {
			to = p.To.UnixMilli()
		}
		for _, t := range tests {
			st, err := measureTest(ctx, db, m.journey, t, m.opt, from, to, now)
			if err != nil {
				return err
			}
			x.Tests = append(x.Tests, st)
		}
	}
	return nil
}

func (r *Report) add(holdout bool, orders, revenue int64) {
	g := &r.Treated
	if holdout {
		g = &r.Holdout
	}
	g.Runs++
	if orders > 0 {
		g.Converted++
	}
	g.Revenue = money.SatAdd(g.Revenue, revenue)
	conv := 0.0
	if orders > 0 {
		conv = 1
	}
	g.conv.Add(conv, 0)
	g.rev.Add(money.Major(revenue, r.Currency), 0)
	y := float64(revenue)
	g.revenueSquares += y * y
	g.revenueCubes += y * y * y
}

// minRuns is Cochran's rule for a mean's normal approximation, n > 25·g1² (g1 the
// sample skewness), with a floor of 30. Revenue per run is mostly zeros and a few
// baskets: with a small holdout the sample mean is usually below the true mean and its
// spread understated together, so the interval sat wholly above the truth (measured:
// 8 of 73 demo intervals missed, every one on the high side).
func minRuns(g *Group) int64 {
	const floor = 30
	if g.Runs < 2 {
		return floor
	}
	n := float64(g.Runs)
	m := float64(g.Revenue) / n
	m2 := g.revenueSquares/n - m*m
	if m2 <= 0 {
		return floor
	}
	m3 := g.revenueCubes/n - 3*m*g.revenueSquares/n + 2*m*m*m
	skew := m3 / math.Pow(m2, 1.5)
	return max(floor, int64(math.Ceil(25*skew*skew)))
}

func (r *Report) compute() {
	t, c := &r.Treated, &r.Holdout
	for _, g := range []*Group{t, c} {
		if g.Runs > 0 {
			g.Rate = float64(g.Converted) / float64(g.Runs)
			g.RevenuePerRun = float64(g.Revenue) / float64(g.Runs)
		}
		g.RateCI = Wilson(g.Converted, g.Runs, 1.96)
	}
	r.Lift = (t.Rate - c.Rate) * 100
	lo, hi := Newcombe(t.Converted, t.Runs, c.Converted, c.Runs, 1.96)
	r.LiftCI = [2]float64{lo * 100, hi * 100}
	r.RevenueDiff = t.RevenuePerRun - c.RevenuePerRun
	r.RevenueDiffCI = Welch(t.RevenuePerRun, variance(t), t.Runs, c.RevenuePerRun, variance(c), c.Runs)
	r.Incremental = r.RevenueDiff * float64(t.Runs)
	r.IncrementalCI = [2]float64{r.RevenueDiffCI[0] * float64(t.Runs), r.RevenueDiffCI[1] * float64(t.Runs)}
	t.MinRuns, c.MinRuns = minRuns(t), minRuns(c)
	for _, g := range []*Group{t, c} {
		if v := variance(g); !math.IsNaN(v) && v > 0 {
			g.RevenueSD = math.Sqrt(v)
		}
	}
	if math.IsInf(r.RevenueDiffCI[0], 0) || math.IsNaN(r.RevenueDiffCI[0]) || t.Runs < t.MinRuns || c.Runs < c.MinRuns {
		r.TooFewRuns = true
		r.RevenueDiffCI, r.IncrementalCI = [2]float64{}, [2]float64{}
	}
	if r.Cost > 0 {
		roi := (r.Incremental - float64(r.Cost)) / float64(r.Cost)
		r.ROI = &roi
	}
	r.SignificantLift = r.LiftCI[0] > 0
}

func variance(g *Group) float64 {
	if g.Runs < 2 {
		return math.NaN()
	}
	n := float64(g.Runs)
	m := float64(g.Revenue) / n
	return (g.revenueSquares - n*m*m) / (n - 1)
}

// Wilson is the Wilson score interval for k successes in n trials.
func Wilson(k, n int64, z float64) [2]float64 {
	if n == 0 {
		return [2]float64{0, 1}
	}
	p, nn := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nn
	mid := (p + z*z/(2*nn)) / den
	half := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / den
	return [2]float64{math.Max(0, mid-half), math.Min(1, mid+half)}
}

// Newcombe is the hybrid score interval (Newcombe 1998, method 10) for p1 − p2, built
// from the two Wilson intervals; it keeps its coverage at small rates, where Wald's fails.
func Newcombe(k1, n1, k2, n2 int64, z float64) (float64, float64) {
	if n1 == 0 || n2 == 0 {
		return -1, 1
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	w1, w2 := Wilson(k1, n1, z), Wilson(k2, n2, z)
	d := p1 - p2
	lo := d - math.Sqrt((p1-w1[0])*(p1-w1[0])+(w2[1]-p2)*(w2[1]-p2))
	hi := d + math.Sqrt((w1[1]-p1)*(w1[1]-p1)+(p2-w2[0])*(p2-w2[0]))
	return lo, hi
}

// Welch is the 95 % interval for m1 − m2 with unequal variances (Welch–Satterthwaite
// degrees of freedom; t quantile from a Cornish-Fisher expansion of the normal one).
func Welch(m1, v1 float64, n1 int64, m2, v2 float64, n2 int64) [2]float64 {
	if n1 < 2 || n2 < 2 || math.IsNaN(v1) || math.IsNaN(v2) {
		return [2]float64{math.Inf(-1), math.Inf(1)}
	}
	a, b := v1/float64(n1), v2/float64(n2)
	se := math.Sqrt(a + b)
	df := (a + b) * (a + b) / (a*a/float64(n1-1) + b*b/float64(n2-1))
	if se == 0 || math.IsNaN(df) {
		return [2]float64{m1 - m2, m1 - m2}
	}
	t := tQuantile975(df)
	return [2]float64{m1 - m2 - t*se, m1 - m2 + t*se}
}

// tQuantile975 approximates Student's t 0.975 quantile (error < 0.001 for df ≥ 3).
func tQuantile975(df float64) float64 {
	z := 1.959964
	g1 := (z*z*z + z) / 4
	g2 := (5*math.Pow(z, 5) + 16*z*z*z + 3*z) / 96
	g3 := (3*math.Pow(z, 7) + 19*math.Pow(z, 5) + 17*z*z*z - 15*z) / 384
	return z + g1/df + g2/(df*df) + g3/(df*df*df)
}

// sendCosts is what one delivered message costs per channel, in minor units (fractions
// kept: an email costs a tenth of a cent): the report's own costs when it has them, else
// the journeys.cost.* settings, which are in the business currency and so apply only when
// the report is in it.
func sendCosts(ctx context.Context, db *store.DB, journey string, opt ReportOptions) (map[string]float64, string, error) {
	unit := map[string]float64{}
	if opt.CostPerSend != nil {
		for ch, v := range opt.CostPerSend {
			unit[ch] = float64(v)
		}
		return unit, "options", nil
	}
	cur, err := workspace.Currency(ctx, db)
	if err != nil {
		return nil, "", fmt.Errorf("journey report: %w", err)
	}
	if opt.Currency != "" && opt.Currency != cur {
		return unit, "", nil
	}
	if unit, err = workspace.MessageCosts(ctx, db, cur); err != nil {
		return nil, "", fmt.Errorf("journey report: %w", err)
	}
	// The journey's own costs (SetJourneyCost) take the place of the settings'.
	own, err := journeyUnitCosts(ctx, db, journey, cur, unit)
	if err != nil {
		return nil, "", fmt.Errorf("journey report: %w", err)
	}
	if own {
		return unit, "journey", nil
	}
	if len(unit) == 0 {
		return unit, "", nil
	}
	return unit, "settings", nil
}

// minorUnits rounds a cost to whole minor units, within the range money allows.
func minorUnits(f float64) int64 {
	if f >= float64(money.MaxMinor) {
		return money.MaxMinor
	}
	return int64(math.Round(f))
}
