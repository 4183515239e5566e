package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/mix"
)

// The Overview's default view of return per channel: what each channel's spend caused
// (the budget model, internal/mix, calibrated with finished experiments), not the credit
// attribution models give it. The numbers are the model's (the same fitted model as the
// Budget page and /api/v1/budget/fit); this file only words them.

// Overview views of the return-per-channel section.
const (
	viewEffect = "effect" // the default: incrementality (model and experiments)
	viewCredit = "credit" // attribution models' credit
)

// effectSection is the Overview's effect view.
type effectSection struct {
	State    string // effectReady, effectComputing, effectNoSpend, effectNoData
	Message  string
	Window   string
	Headline string
	Best     string
	Losing   []string
	Rows     []effectRow
	Note     string
}

type effectRow struct {
	Channel, Sentence, Verdict, Class, Experiment string
}

// Effect states, in the page and in ?format=json's "effect".
const (
	effectReady     = "ready"
	effectComputing = "computing"
	effectNoSpend   = "no_spend"
	effectNoData    = "no_data"
)

// overviewEffectJSON is ?format=json's "effect": the model's figures over its window.
type overviewEffectJSON struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	Source  string `json:"source"`
	Target  string `json:"target"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Days    int    `json:"days,omitempty"`
	// Level is the intervals' probability (0.8).
	Level    float64 `json:"interval_level,omitempty"`
	Currency string  `json:"currency,omitempty"`
	// Best is the channel whose return's interval lies above every other's; null when the
	// intervals cannot separate them.
	Best     *string               `json:"best"`
	Headline string                `json:"headline,omitempty"`
	Channels []overviewEffectRowJS `json:"channels"`
}

type overviewEffectRowJS struct {
	mix.FitChannelOut
	// Verdict: losing_money, probably_losing_money, cannot_tell, probably_pays, pays.
	Verdict string `json:"verdict"`
	Text    string `json:"text"`
	// ProbabilityLosing is the share of the model's draws in which the channel brings
	// back less than it costs.
	ProbabilityLosing float64 `json:"probability_losing"`
}

// effectVerdict words a channel's return from the share of the model's draws in which
// it is below 1 (the channel costs more than it brings back): "losing money" at 90 % or
// more (the 80 % interval then lies below 1), "probably" from two in three, and "cannot
// tell yet" in between, so a wide interval is never read as a verdict.
func effectVerdict(c mix.ChannelEffect) (code, words, class string) {
	p := c.ProbBelowOne
	switch {
	case !c.Identifiable:
		return "cannot_tell", "not enough varied spend to tell", "same"
	case p >= 0.9 || c.ROASHigh < 1:
		return "losing_money", "losing money", "bad"
	case p <= 0.1 || c.ROASLow >= 1:
		return "pays", "earns back more than it costs", "good"
	case p >= 2.0/3:
		return "probably_losing_money", fmt.Sprintf("probably losing money (%.0f %% likely)", 100*p), "bad"
	case p <= 1.0/3:
		return "probably_pays", fmt.Sprintf("probably earns back more than it costs (%.0f %% likely)", 100*(1-p)), "good"
	default:
		return "cannot_tell", fmt.Sprintf("cannot tell yet whether it pays back (%.0f %% likely it loses money)", 100*p), "same"
	}
}

// shortVerdict is the verdict in the effects table, where the sentence above has room for
// the probability.
var shortVerdict = map[string]string{
	"losing_money": "losing money", "probably_losing_money": "probably losing money", "cannot_tell": "cannot tell yet",
	"probably_pays": "probably pays back", "pays": "pays back",
}

// bestSeparated returns the channel whose return's interval lies entirely above every
// other channel's, or "" when the intervals overlap (or there is nothing to compare).
func bestSeparated(chs []mix.ChannelEffect) string {
	if len(chs) < 2 {
		return ""
	}
	bi := 0
	for i, c := range chs {
		if c.ROAS > chs[bi].ROAS {
			bi = i
		}
	}
	if !chs[bi].Identifiable {
		return ""
	}
	for i, c := range chs {
		if i != bi && c.ROASHigh >= chs[bi].ROASLow {
			return ""
		}
	}
	return chs[bi].Channel
}

// overviewEffect fills the effect section and ?format=json's "effect". The model is the
// Budget page's (fitted in the background once per data version and day): while it is
// fitted the section says so and the page reloads itself.
func (s *server) overviewEffect(r *http.Request, p *page, d *overviewData, show bool) error {
	ctx := r.Context()
	sec := &effectSection{}
	js := &overviewEffectJSON{Source: "marketing-mix model (internal/mix), calibrated with finished experiments", Target: mix.TargetRevenue, Channels: []overviewEffectRowJS{}}
	d.Effect = sec
	p.setJSON("effect", js)
	set := func(state, msg string) {
		sec.State, sec.Message = state, msg
		js.State, js.Message = state, msg
	}
	if ok, err := s.hasTable(ctx, "spend"); err != nil {
		return err
	} else if !ok {
		set(effectNoSpend, "No ad spend recorded: import spend (the Spend page) to see what each channel's spend causes.")
		return nil
	}
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM spend`).Scan(&n); err != nil {
		return fmt.Errorf("count spend: %w", err)
	}
	if n == 0 {
		set(effectNoSpend, "No ad spend recorded: import spend (the Spend page) to see what each channel's spend causes.")
		return nil
	}
	bm, _, err := s.budgetFor(ctx, mix.TargetRevenue)
	if errors.Is(err, errComputing) {
		set(effectComputing, "The model of what each channel's spend causes is still being fitted (a few seconds after new data). This page reloads itself.")
		if show {
			p.Refresh = true
		}
		return nil
	}
	if err != nil {
		set(effectNoData, budgetProblem(err))
		return nil
	}
	m, series := bm.model, bm.series
	units := mix.UnitsOf(series)
	cur := series.Currency
	mf := func(v float64) string { return formatMoney(int64(math.Round(v*pow10f(cur))), cur) }
	units.Format = mf
	rep := m.Report(series.Target, units)
	sec.State, js.State = effectReady, effectReady
	js.From, js.To, js.Days, js.Level, js.Currency = rep.From, rep.To, rep.Days, rep.Level, rep.Currency
	sec.Window = fmt.Sprintf("Estimated over all the history there is, %s to %s (%d days): the model needs many months of varied spend, so it does not follow the period above.", rep.From, rep.To, rep.Days)
	one := mf(1)
	level := fmt.Sprintf("%.0f %%", 100*m.Level)
	t := p.addTable(&Table{ID: "channel-effect", Caption: "What each channel's spend caused (estimate, " + rep.From + " to " + rep.To + ")",
		Cols: []Col{{Label: "Channel"}, {Label: "Spend", Num: true}, {Label: "Caused (estimate)", Num: true}, {Label: "Caused, " + level + " interval"},
			{Label: "Return per " + one + " spent", Num: true}, {Label: "Return, " + level + " interval"}, {Label: "Verdict"}, {Label: "Experiment"}}})
	for i, c := range m.Channels {
		code, words, class := effectVerdict(c)
		var sentence string
		if code == "cannot_tell" {
			sentence = fmt.Sprintf("each %s brought back somewhere between %s and %s", one, mf(c.ROASLow), mf(c.ROASHigh))
		} else {
			sentence = fmt.Sprintf("each %s brought back about %s (likely between %s and %s)", one, mf(c.ROAS), mf(c.ROASLow), mf(c.ROASHigh))
		}
		row := effectRow{Channel: c.Channel, Sentence: sentence, Verdict: words, Class: class}
		if cal := c.Calibration; cal != nil {
			name := "an experiment"
			if cal.Experiment != "" {
				name = "the experiment “" + cal.Experiment + "”"
			}
			lv := cal.Level
			if lv <= 0 {
				lv = m.Level
			}
			row.Experiment = fmt.Sprintf("Measured by %s (%s to %s): %s back per %s (%.0f %% interval %s to %s); the estimate above is calibrated with it.",
				name, cal.StartDate, cal.EndDate, mf(cal.ROAS), one, 100*lv, mf(cal.Low), mf(cal.High))
		}
		sec.Rows = append(sec.Rows, row)
		if code == "losing_money" {
			sec.Losing = append(sec.Losing, c.Channel)
		}
		out := overviewEffectRowJS{Verdict: code, Text: c.Channel + ": " + sentence + " — " + words, ProbabilityLosing: math.Round(c.ProbBelowOne*1000) / 1000}
		if i < len(rep.Channels) {
			out.FitChannelOut = rep.Channels[i]
		}
		js.Channels = append(js.Channels, out)
		exp := ""
		if c.Calibration != nil {
			exp = c.Calibration.Experiment
			if exp == "" {
				exp = "yes"
			}
		}
		t.Rows = append(t.Rows, []Cell{txt(c.Channel), moneyCell(c.Spend, cur), moneyCell(c.Contribution, cur), txt(mf(c.ContributionLow) + " – " + mf(c.ContributionHigh)),
			ratioValue(c.ROAS), txt(fmtRatio(c.ROASLow) + " – " + fmtRatio(c.ROASHigh)), txt(shortVerdict[code]), txt(exp)})
	}
	if b := bestSeparated(m.Channels); b != "" {
		sec.Best = b
		js.Best = &b
		sec.Headline = fmt.Sprintf("Best return per %s spent: %s, by what the spend caused; its interval lies above every other channel's.", one, b)
	} else if len(m.Channels) > 1 {
		sec.Headline = "No channel can be named the best: the intervals of their returns overlap, so the data cannot yet tell them apart."
	}
	if len(sec.Losing) > 0 {
		sec.Headline = strings.TrimSpace(sec.Headline + " Losing money: " + strings.Join(sec.Losing, ", ") + ".")
	}
	js.Headline = sec.Headline
	sec.Note = "Effect, not credit: what sales would have been lost without the channel's spend, from daily spend and sales (carryover, diminishing returns, season and holidays separated), calibrated with finished experiments. Ranges are " + level + " intervals."
	return nil
}
