package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/money"
)

// The Budget page: what each channel's spend really returns (the marketing-mix model in
// internal/mix), where the next euro should go, and what-if. The numbers come from
// internal/mix; this file only words and lays them out.

type budgetData struct {
	State    string // "", "ready", "no-data", "error"
	Message  string
	Target   string
	Targets  []budgetTarget
	Window   string
	Headline string
	Moves    []string
	Gain     string
	Losing   []string
	FitLine  string
	Warnings []string
	Inputs   []whatIfInput
	WhatIf   *whatIfView
	Money    bool
}

type budgetTarget struct {
	Key, Label string
	Selected   bool
}

type whatIfInput struct {
	Name, Label, Current, Value string
}

type whatIfView struct {
	Sentence string
	Warn     string
}

var budgetTargetLabels = map[string]string{
	mix.TargetRevenue:        "Revenue",
	mix.TargetOrders:         "Orders",
	mix.TargetNewCustomers:   "New customers",
	mix.TargetFirstYearValue: "New customers' first-year value",
}

type budgetModel struct {
	series mix.Series
	model  *mix.Model

	// The default plan and the response curves depend only on the model: worked out on
	// the first request that shows them and kept with the model, which is itself kept
	// per data version (a new event gives a new model, and a new plan with it).
	once    sync.Once
	plan    *mix.Plan
	planErr error
	curves  []mix.Curve
}

// planAndCurves returns the model's default plan and response curves.
func (b *budgetModel) planAndCurves() (*mix.Plan, []mix.Curve, error) {
	b.once.Do(func() {
		b.plan, b.planErr = b.model.Plan(mix.PlanOptions{})
		b.curves = b.model.ResponseCurves(0, 1, 0)
	})
	return b.plan, b.curves, b.planErr
}

// budgetKey is the compute cache's key of the budget model of target.
func budgetKey(target string) string { return "budget|" + target }

// budgetVersion is the version of the budget models: the data's, and the day (the
// window ends yesterday) in front of it, so that a model of yesterday has the same
// settings (sameSettings) and is shown with its age while today's is fitted.
func (s *server) budgetVersion(ctx context.Context) (string, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return "", err
	}
	return s.opt.Now().In(s.location(ctx)).Format(time.DateOnly) + "|" + ver, nil
}

// budgetFor fits (or finds) the model in the background, like the other analyses.
func (s *server) budgetFor(ctx context.Context, target string) (*budgetModel, stamp, error) {
	ver, err := s.budgetVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	m, at, stale, err := computedIn(ctx, s.compute, s.compute.sem, budgetKey(target), ver, func(ctx context.Context) (*budgetModel, error) {
		series, model, err := s.budget.Model(ctx, mix.StoreOptions{Target: target})
		if err != nil {
			return nil, err
		}
		return &budgetModel{series: series, model: model}, nil
	})
	return m, stamp{at, stale}, err
}

func (s *server) budgetPage(w http.ResponseWriter, r *http.Request) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/budget", "Budget")
	p.NoRange = true // the model uses all the history there is
	q := r.URL.Query()
	d := &budgetData{Target: q.Get("target")}
	if !slices.Contains(mix.Targets, d.Target) {
		d.Target = mix.TargetRevenue
	}
	for _, t := range mix.Targets {
		d.Targets = append(d.Targets, budgetTarget{t, budgetTargetLabels[t], t == d.Target})
	}
	p.Data = d
	for _, tb := range []string{"orders", "spend"} {
		if ok, err := s.hasTable(ctx, tb); err != nil || !ok {
			d.State, d.Message = "no-data", "No orders or spend yet: the budget model needs both."
			return errors.Join(err, s.respond(w, r, "budget", p))
		}
	}
	bm, st, err := s.budgetFor(ctx, d.Target)
	if errors.Is(err, errComputing) {
		p.Computing = true
		return s.respond(w, r, "budget", p)
	}
	if err != nil {
		// Too little history, no spend, no orders: the data's state, said plainly.
		d.State, d.Message = "no-data", budgetProblem(err)
		return s.respond(w, r, "budget", p)
	}
	if err := p.computed(st, nil); err != nil {
		return err
	}
	d.State = "ready"
	m, series := bm.model, bm.series
	units := mix.UnitsOf(series)
	cur := series.Currency
	mf := func(v float64) string { return formatMoney(int64(math.Round(v*pow10f(cur))), cur) }
	units.Format = mf
	d.Money = units.Money
	tv := func(v float64) string {
		if units.Money {
			return mf(v)
		}
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	}
	perMonth := func(v float64) float64 { return v * 365.25 / 12 / float64(m.WindowDays()) }
	rep := m.Report(series.Target, units)
	d.Window = fmt.Sprintf("%s to %s (%d days, %s rows, %s model)", rep.From, rep.To, rep.Days, rep.Granularity, m.Form)

	// 1. The recommendation, in words first.
	pl, curves, err := bm.planAndCurves()
	if err != nil {
		return err
	}
	prep := pl.Report(m, series.Target, units)
	if len(pl.Moves) == 0 {
		d.Headline = "Keep the current split: the model finds no change it is sure enough would pay."
	} else {
		d.Headline = "What to change, by the model's estimate of what each channel really causes:"
		for _, mv := range prep.Moves {
			d.Moves = append(d.Moves, strings.ToUpper(mv.Text[:1])+mv.Text[1:]+".")
		}
		d.Gain = fmt.Sprintf("In all: %s a month expected (%.0f %% interval %s to %s); the plan does better than today's split in %.0f %% of the model's draws.",
			signedText(tv(pl.PerMonth(pl.ExpectedGain))), 100*pl.Level, signedText(tv(pl.PerMonth(pl.ExpectedGainLow))), signedText(tv(pl.PerMonth(pl.ExpectedGainHigh))), 100*pl.ProbabilityOfGain)
	}
	if units.Money {
		for _, c := range m.Channels {
			switch {
			case c.ROASHigh < 1:
				d.Losing = append(d.Losing, fmt.Sprintf("%s loses money: each %s spent brings back %s (%.0f %% interval %s to %s).",
					c.Channel, mf(1), mf(c.ROAS), 100*m.Level, mf(c.ROASLow), mf(c.ROASHigh)))
			case c.ROAS < 1:
				d.Losing = append(d.Losing, fmt.Sprintf("%s probably loses money: each %s spent brings back %s by the estimate, though the data allow %s to %s.",
					c.Channel, mf(1), mf(c.ROAS), mf(c.ROASLow), mf(c.ROASHigh)))
			}
		}
	}

	// 2. Effect beside credit: the model's estimate and what attribution models give.
	credit := s.budgetCredit(ctx, m, cur)
	et := p.addTable(&Table{ID: "budget-effects", Caption: "What each channel's spend really caused (model) beside the credit attribution gives it",
		Cols: []Col{{Label: "Channel"}, {Label: "Spend", Num: true}, {Label: "Caused (estimate)", Num: true}, {Label: fmt.Sprintf("%.0f %% interval", 100*m.Level)},
			{Label: "Return per unit spent", Num: true}, {Label: fmt.Sprintf("Return, %.0f %% interval", 100*m.Level)}, {Label: "Next unit returns", Num: true},
			{Label: "Attribution credits (return, across models)"}, {Label: "Note"}}})
	for _, c := range m.Channels {
		note := ""
		if !c.Identifiable {
			note = "not identifiable: the data cannot tell"
		}
		if cal := c.Calibration; cal != nil {
			backed := fmt.Sprintf("backed by an experiment: %s measured a return of %s (between %s and %s)", cal.Experiment, fmtRatio(cal.ROAS), fmtRatio(cal.Low), fmtRatio(cal.High))
			if cal.Experiment == "" {
				backed = fmt.Sprintf("backed by an experiment: a return of %s (%s – %s)", fmtRatio(cal.ROAS), fmtRatio(cal.Low), fmtRatio(cal.High))
			}
			if note != "" {
				note += "; "
			}
			note += backed
		}
		et.Rows = append(et.Rows, []Cell{txt(c.Channel), moneyCell(c.Spend, cur), targetCell(c.Contribution, units, cur),
			txt(tv(c.ContributionLow) + " – " + tv(c.ContributionHigh)), ratioValue(c.ROAS),
			txt(fmtRatio(c.ROASLow) + " – " + fmtRatio(c.ROASHigh)), ratioValue(c.MarginalROAS), txt(credit[c.Channel]), txt(note)})
	}

	// 3. The plan per channel, per month.
	pt := p.addTable(&Table{ID: "budget-plan", Caption: "Spend per month: now and as the plan would have it",
		Cols: []Col{{Label: "Channel"}, {Label: "Now", Num: true}, {Label: "Plan", Num: true}, {Label: "Change", Num: true}, {Label: "Caused now", Num: true}, {Label: "Caused under the plan", Num: true}}})
	for _, c := range pl.Channels {
		pt.Rows = append(pt.Rows, []Cell{txt(c.Channel), moneyCell(perMonth(c.Current), cur), moneyCell(perMonth(c.Recommended), cur),
			txt(signedText(mf(perMonth(c.Recommended - c.Current)))), targetCell(perMonth(c.CurrentContribution), units, cur), targetCell(perMonth(c.RecommendedContribution), units, cur)})
	}

	// 4. Response curves, current point marked.
	for i, cv := range curves {
		id := "budget-curve-" + strconv.Itoa(i)
		ch := &Chart{ID: id, Kind: "curve", Title: cv.Channel + ": what a month's spend causes (shaded: the interval)", Money: units.Money, Currency: cur}
		tb := &Table{ID: id, Caption: cv.Channel + ": response curve, per month", Hidden: true,
			Cols: []Col{{Label: "Spend per month", Num: true}, {Label: "Caused", Num: true}, {Label: "Low", Num: true}, {Label: "High", Num: true}, {Label: "Next unit returns", Num: true}}}
		var est, lo, hi []float64
		for k, pt := range cv.Points {
			sp := perMonth(pt.Spend)
			ch.X = append(ch.X, formatMoneyShort(int64(math.Round(sp*pow10f(cur))), cur))
			est = append(est, round2(perMonth(pt.Contribution)))
			lo = append(lo, round2(perMonth(pt.Low)))
			hi = append(hi, round2(perMonth(pt.High)))
			if math.Abs(pt.Spend-cv.Current) < 1e-9*math.Max(1, cv.Current) {
				ch.Mark = []float64{float64(k), round2(perMonth(pt.Contribution))}
			}
			tb.Rows = append(tb.Rows, []Cell{moneyCell(sp, cur), targetCell(perMonth(pt.Contribution), units, cur), targetCell(perMonth(pt.Low), units, cur),
				targetCell(perMonth(pt.High), units, cur), ratioValue(pt.MarginalROAS)})
		}
		ch.Series = []Series{{Name: "Caused", Data: est}, {Name: "Low", Data: lo}, {Name: "High", Data: hi}}
		ch.MarkName = "now"
		ch.Table = tb
		p.addChart(ch)
		if units.Money && !math.IsNaN(cv.TargetSpend) {
			tb.Caption += fmt.Sprintf(" (the next unit returns less than it costs beyond %s a month)", mf(perMonth(cv.TargetSpend)))
		}
	}

	// 5. What if: spend per month per channel.
	spend := map[string]float64{}
	changed := false
	for i, c := range m.Channels {
		name := "w" + strconv.Itoa(i)
		in := whatIfInput{Name: name, Label: c.Channel, Current: mf(perMonth(c.Spend)), Value: strconv.FormatFloat(math.Round(perMonth(c.Spend)*100)/100, 'f', -1, 64)}
		if v := strings.TrimSpace(q.Get(name)); v != "" {
			in.Value = v
			f, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
			if err != nil || f < 0 || math.IsInf(f, 0) {
				d.WhatIf = &whatIfView{Warn: fmt.Sprintf("%s: %q is not an amount of 0 or more.", c.Channel, v)}
			} else if math.Abs(f-perMonth(c.Spend)) > 0.005 {
				spend[c.Channel] = f / perMonth(1)
				changed = true
			}
		}
		d.Inputs = append(d.Inputs, in)
	}
	if changed && d.WhatIf == nil {
		sc, err := m.WhatIf(spend)
		if err != nil {
			d.WhatIf = &whatIfView{Warn: err.Error()}
		} else {
			v := &whatIfView{Sentence: fmt.Sprintf("With that spend (%s a month), the model expects %s a month (%.0f %% interval %s to %s) compared with today.",
				signedText(mf(perMonth(sc.SpendChange))), signedText(tv(perMonth(sc.Change))), 100*m.Level, signedText(tv(perMonth(sc.ChangeLow))), signedText(tv(perMonth(sc.ChangeHigh))))}
			if len(sc.Extrapolated) > 0 {
				v.Warn = "Beyond what the data show for " + strings.Join(sc.Extrapolated, ", ") + ": the curve there is an extrapolation."
			}
			d.WhatIf = v
		}
	}

	fit := fmt.Sprintf("The model explains %.0f %% of the day-to-day variation", 100*m.R2)
	if !math.IsNaN(m.MAPEHoldout) {
		fit += fmt.Sprintf("; fitted without the last %d %ss, it predicted them within %.0f %% on average", m.HoldoutPeriods, m.Period, 100*m.MAPEHoldout)
	}
	d.FitLine = fit + "."
	d.Warnings = append(rep.Warnings, series.Notes...)
	d.Warnings = append(d.Warnings, prep.Warnings...)
	return s.respond(w, r, "budget", p)
}

// budgetCredit says, per channel, the range of returns the attribution models credit it
// with over the model's window (attributed revenue ÷ spend), and last touch's.
func (s *server) budgetCredit(ctx context.Context, m *mix.Model, cur string) map[string]string {
	out := map[string]string{}
	if len(m.Dates) == 0 {
		return out
	}
	loc := s.location(ctx)
	first := m.Dates[0]
	last := m.Dates[len(m.Dates)-1].AddDate(0, 0, m.Period.Days())
	rg := Range{From: time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc), To: time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, loc), Loc: loc}
	a, _, err := s.attrFor(ctx, rg, cur)
	if err != nil || a == nil || a.Cur == nil {
		for _, c := range m.Channels {
			out[c.Channel] = "being computed"
			if err != nil && !errors.Is(err, errComputing) {
				out[c.Channel] = "–"
			}
		}
		return out
	}
	for _, c := range m.Channels {
		lo, hi := math.Inf(1), math.Inf(-1)
		last := ""
		for _, res := range a.Cur.Results {
			for _, r := range a.Cur.roiRows(res.Model) {
				if r.Channel != c.Channel || r.ROAS == nil {
					continue
				}
				lo, hi = math.Min(lo, *r.ROAS), math.Max(hi, *r.ROAS)
				if res.Model == "last_touch" {
					last = fmtRatio(*r.ROAS)
				}
			}
		}
		if math.IsInf(lo, 1) || hi == 0 {
			out[c.Channel] = "no tracked conversions"
			continue
		}
		out[c.Channel] = fmt.Sprintf("%s – %s", fmtRatio(lo), fmtRatio(hi))
		if last != "" {
			out[c.Channel] += " (last touch " + last + ")"
		}
	}
	return out
}

func budgetProblem(err error) string {
	msg := err.Error()
	if errors.Is(err, mix.ErrTooLittleData) {
		return "Not enough history yet for a trustworthy answer: " + msg + ". Until then, the Attribution page shows who gets credit (credit, not effect)."
	}
	return msg + "."
}

func signedText(s string) string {
	if strings.HasPrefix(s, "−") || strings.HasPrefix(s, "-") {
		return s
	}
	return "+" + s
}

func moneyCell(v float64, cur string) Cell {
	minor := int64(math.Round(v * pow10f(cur)))
	return Cell{Text: formatMoney(minor, cur), Raw: money.Format(minor, cur)}
}

func targetCell(v float64, u mix.Units, cur string) Cell {
	if u.Money {
		return moneyCell(v, cur)
	}
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	return Cell{Text: s, Raw: s}
}

func ratioValue(v float64) Cell {
	return Cell{Text: fmtRatio(v), Raw: strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)}
}
