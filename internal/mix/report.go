package mix

import (
	"fmt"
	"math"
	"strings"

	"github.com/omniroi/omniroi/internal/money"
)

// The JSON answers of `omniroi budget fit|plan` and /api/v1/budget/fit|plan (docs/budget.md).
// Money is in major units of Currency, rounded to its minor unit; a target that is not
// money (orders, new customers) is rounded to two decimals.

// FitReport is the answer of budget fit.
type FitReport struct {
	Target      string          `json:"target"`
	Currency    string          `json:"currency,omitempty"`
	From        string          `json:"from"` // first day of the window
	To          string          `json:"to"`   // last day of the window, inclusive
	Days        int             `json:"days"`
	Granularity string          `json:"granularity"` // day or week
	Form        string          `json:"form"`        // additive or multiplicative
	Level       float64         `json:"interval_level"`
	Uncertainty string          `json:"uncertainty"`
	Channels    []FitChannelOut `json:"channels"`
	Total       float64         `json:"total"`
	Baseline    float64         `json:"baseline"`
	BaselineLow float64         `json:"baseline_low"`
	BaselineHi  float64         `json:"baseline_high"`
	Fit         FitStats        `json:"fit"`
	Warnings    []string        `json:"warnings"`
	Dropped     []string        `json:"channels_without_spend"`
}

// FitChannelOut is one channel in FitReport.
type FitChannelOut struct {
	Channel          string  `json:"channel"`
	Spend            float64 `json:"spend"`
	Contribution     float64 `json:"contribution"`
	ContributionLow  float64 `json:"contribution_low"`
	ContributionHigh float64 `json:"contribution_high"`
	ROAS             float64 `json:"roas"`
	ROASLow          float64 `json:"roas_low"`
	ROASHigh         float64 `json:"roas_high"`
	MarginalROAS     float64 `json:"marginal_roas"`
	MarginalLow      float64 `json:"marginal_roas_low"`
	MarginalHigh     float64 `json:"marginal_roas_high"`
	ShareOfMedia     float64 `json:"share_of_media"`
	Identifiable     bool    `json:"identifiable"`
	HalfLifeDays     float64 `json:"carryover_half_life_days"`
	HalfSaturation   float64 `json:"half_saturation_spend_per_period"`
	// Calibration is the experiment result the channel's effect was calibrated with
	// (null when none): the channel is backed by an experiment.
	Calibration *Calibration `json:"calibration"`
}

// FitStats is how well the model fits.
type FitStats struct {
	R2             float64  `json:"r2"`
	MAPEHoldout    *float64 `json:"mape_holdout"` // null without a holdout
	HoldoutPeriods int      `json:"holdout_periods"`
	Periods        int      `json:"periods"`
	Seconds        float64  `json:"seconds"`
}

// PlanReport is the answer of budget plan.
type PlanReport struct {
	Target            string           `json:"target"`
	Currency          string           `json:"currency,omitempty"`
	From              string           `json:"from"`
	To                string           `json:"to"`
	Days              int              `json:"days"`
	Level             float64          `json:"interval_level"`
	Total             float64          `json:"total"`
	Margin            float64          `json:"margin,omitempty"`
	Channels          []PlanChannelOut `json:"channels"`
	ExpectedGain      float64          `json:"expected_gain"`
	ExpectedGainLow   float64          `json:"expected_gain_low"`
	ExpectedGainHigh  float64          `json:"expected_gain_high"`
	ProbabilityOfGain float64          `json:"probability_of_gain"`
	Moves             []MoveOut        `json:"moves"`
	Warnings          []string         `json:"warnings"`
}

// PlanChannelOut is one channel in PlanReport.
type PlanChannelOut struct {
	Channel                 string  `json:"channel"`
	Current                 float64 `json:"current"`
	Recommended             float64 `json:"recommended"`
	CurrentContribution     float64 `json:"current_contribution"`
	RecommendedContribution float64 `json:"recommended_contribution"`
	Min                     float64 `json:"min"`
	Max                     float64 `json:"max"`
	Locked                  bool    `json:"locked"`
	Identifiable            bool    `json:"identifiable"`
}

// MoveOut is one move in PlanReport, with its sentence.
type MoveOut struct {
	From           string  `json:"from,omitempty"`
	To             string  `json:"to,omitempty"`
	Amount         float64 `json:"amount"`
	AmountPerMonth float64 `json:"amount_per_month"`
	Gain           float64 `json:"gain"`
	GainLow        float64 `json:"gain_low"`
	GainHigh       float64 `json:"gain_high"`
	Text           string  `json:"text"`
}

// Units says how a series' amounts are written.
type Units struct {
	Currency string // "" when the input's money has no known currency
	Money    bool   // the target is money
	// Format writes an amount of money for sentences ("€1,150"); nil uses money.Format
	// with the currency code.
	Format func(v float64) string
}

// finite keeps NaN and infinities out of JSON (which cannot carry them): they become 0.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (u Units) money(v float64) float64 {
	v = finite(v)
	e := 2
	if u.Currency != "" {
		e = money.Exponent(u.Currency)
	}
	p := math.Pow10(e)
	return math.Round(v*p) / p
}

func (u Units) target(v float64) float64 {
	v = finite(v)
	if u.Money {
		return u.money(v)
	}
	return math.Round(v*100) / 100
}

func ratio(v float64) float64 { return math.Round(finite(v)*1000) / 1000 }

// FormatMoney writes v with the formatter, or plainly.
func (u Units) FormatMoney(v float64) string {
	if u.Format != nil {
		return u.Format(v)
	}
	if u.Currency == "" {
		return fmt.Sprintf("%.2f", v)
	}
	return money.Format(int64(math.Round(v*math.Pow10(money.Exponent(u.Currency)))), u.Currency) + " " + u.Currency
}

// FormatTarget writes an amount of the target: money, or a count with one decimal.
func (u Units) FormatTarget(v float64, unit string) string {
	if u.Money {
		return u.FormatMoney(v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// Report builds the fit's JSON answer.
func (m *Model) Report(target string, u Units) FitReport {
	r := FitReport{
		Target: target, Currency: u.Currency, Granularity: m.Period.String(), Form: string(m.Form), Level: m.Level,
		Uncertainty: m.Method, Days: m.WindowDays(), Warnings: []string{}, Dropped: m.Dropped,
		Total: u.target(m.Total), Baseline: u.target(m.Baseline),
		BaselineLow: u.target(m.BaselineLow), BaselineHi: u.target(m.BaselineHigh),
		Fit: FitStats{R2: ratio(m.R2), HoldoutPeriods: m.HoldoutPeriods, Periods: len(m.Dates), Seconds: math.Round(m.Elapsed.Seconds()*1000) / 1000},
	}
	if r.Dropped == nil {
		r.Dropped = []string{}
	}
	if len(m.Dates) > 0 {
		r.From = civil(m.Dates[0])
		r.To = civil(m.Dates[len(m.Dates)-1].AddDate(0, 0, m.Period.Days()-1))
	}
	if !math.IsNaN(m.MAPEHoldout) {
		v := ratio(m.MAPEHoldout)
		r.Fit.MAPEHoldout = &v
	}
	for _, c := range m.Channels {
		r.Channels = append(r.Channels, FitChannelOut{
			Channel: c.Channel, Spend: u.money(c.Spend),
			Contribution: u.target(c.Contribution), ContributionLow: u.target(c.ContributionLow), ContributionHigh: u.target(c.ContributionHigh),
			ROAS: ratio(c.ROAS), ROASLow: ratio(c.ROASLow), ROASHigh: ratio(c.ROASHigh),
			MarginalROAS: ratio(c.MarginalROAS), MarginalLow: ratio(c.MarginalLow), MarginalHigh: ratio(c.MarginalHigh),
			ShareOfMedia: ratio(c.ShareOfMedia), Identifiable: c.Identifiable,
			HalfLifeDays: math.Round(finite(c.HalfLifeDays)*10) / 10, HalfSaturation: u.money(c.HalfSaturation),
			Calibration: c.Calibration,
		})
	}
	for _, w := range m.Warnings {
		r.Warnings = append(r.Warnings, w.Message)
	}
	return r
}

// Report builds the plan's JSON answer; the moves' sentences are per month.
func (p *Plan) Report(m *Model, target string, u Units) PlanReport {
	r := PlanReport{
		Target: target, Currency: u.Currency, Days: p.Days, Level: p.Level, Total: u.money(p.Total), Margin: p.Margin,
		ExpectedGain: u.target(p.ExpectedGain), ExpectedGainLow: u.target(p.ExpectedGainLow), ExpectedGainHigh: u.target(p.ExpectedGainHigh),
		ProbabilityOfGain: ratio(p.ProbabilityOfGain), Moves: []MoveOut{}, Warnings: []string{},
	}
	if len(m.Dates) > 0 {
		r.From = civil(m.Dates[0])
		r.To = civil(m.Dates[len(m.Dates)-1].AddDate(0, 0, m.Period.Days()-1))
	}
	if p.Margin > 0 {
		u.Money = true // profit is money
	}
	for _, c := range p.Channels {
		r.Channels = append(r.Channels, PlanChannelOut{
			Channel: c.Channel, Current: u.money(c.Current), Recommended: u.money(c.Recommended),
			CurrentContribution: u.target(c.CurrentContribution), RecommendedContribution: u.target(c.RecommendedContribution),
			Min: u.money(c.Min), Max: u.money(c.Max), Locked: c.Locked, Identifiable: c.Identifiable,
		})
	}
	for _, mv := range p.Moves {
		r.Moves = append(r.Moves, MoveOut{
			From: mv.From, To: mv.To, Amount: u.money(mv.Amount), AmountPerMonth: u.money(p.PerMonth(mv.Amount)),
			Gain: u.target(mv.Gain), GainLow: u.target(mv.GainLow), GainHigh: u.target(mv.GainHigh),
			Text: p.Describe(mv, target, u),
		})
	}
	for _, w := range p.Warnings {
		r.Warnings = append(r.Warnings, w.Message)
	}
	return r
}

// daysPerMonth is the average month.
const daysPerMonth = 365.25 / 12

// PerMonth converts an amount over the plan's window to one per average month.
func (p *Plan) PerMonth(v float64) float64 { return v * daysPerMonth / float64(p.Days) }

// targetNoun names a target's unit in sentences.
func targetNoun(target string) string {
	switch target {
	case TargetOrders:
		return "orders"
	case TargetNewCustomers:
		return "new customers"
	}
	return ""
}

// Describe says a move in words, per month: "move €420/month from Paid Social to Email:
// +€1,150 expected, 80 % interval +€300 to +€2,000"; when the interval runs below zero it
// adds what the move may lose: "…, 80 % interval −€173 to +€900: it may lose up to €173 a
// month".
func (p *Plan) Describe(mv Move, target string, u Units) string {
	if p.Margin > 0 {
		u.Money = true
	}
	amt := u.FormatMoney(p.PerMonth(mv.Amount)) + "/month"
	var what string
	switch {
	case mv.From != "" && mv.To != "":
		what = fmt.Sprintf("move %s from %s to %s", amt, mv.From, mv.To)
	case mv.From != "":
		what = fmt.Sprintf("cut %s by %s", mv.From, amt)
	default:
		what = fmt.Sprintf("add %s to %s", amt, mv.To)
	}
	gain := func(v float64) string {
		s := u.FormatTarget(math.Abs(p.PerMonth(v)), targetNoun(target))
		if v < 0 {
			return "−" + s
		}
		return "+" + s
	}
	kind := "expected"
	if p.Margin > 0 {
		kind = "profit expected"
	}
	out := fmt.Sprintf("%s: %s %s a month, %.0f %% interval %s to %s", what, gain(mv.Gain), kind,
		100*p.Level, gain(mv.GainLow), gain(mv.GainHigh))
	if mv.GainLow < 0 {
		// The interval runs below zero: say in words that the move may lose.
		loss := u.FormatTarget(p.PerMonth(-mv.GainLow), targetNoun(target))
		if u.Money {
			out += fmt.Sprintf(": it may lose up to %s a month", loss)
		} else {
			out += fmt.Sprintf(": it may cost up to %s a month", loss)
		}
	}
	return strings.TrimSpace(out)
}
