package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/money"
)

// Display names of the attribution models, for people rather than scripts.
var modelLabels = map[string]string{
	"first_touch": "First touch", "last_touch": "Last touch", "last_non_direct": "Last non-direct",
	"linear": "Linear", "time_decay": "Time decay", "position_based": "Position based (40/20/40)",
	"w_shaped": "W-shaped", "custom": "Custom weights", "markov": "Markov chain", "shapley": "Shapley",
	"shapley_cr": "Shapley (conversion rates)",
}

func modelLabel(m string) string {
	if l, ok := modelLabels[m]; ok {
		return l
	}
	return m
}

// Cell helpers for computed (float) figures.
func fmtPct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }
func fmtRatio(v float64) string {
	return fmt.Sprintf("%.2f", v)
}

func pctCell(v *float64) Cell {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return Cell{Text: "–", Raw: ""}
	}
	return Cell{Text: fmtPct(*v), Raw: strconv.FormatFloat(*v*100, 'f', 2, 64)}
}

func ratioCell(v *float64) Cell {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return Cell{Text: "–", Raw: ""}
	}
	return Cell{Text: fmtRatio(*v), Raw: strconv.FormatFloat(*v, 'f', 4, 64)}
}

func floatCell(v float64, prec int) Cell {
	return Cell{Text: strconv.FormatFloat(v, 'f', prec, 64), Raw: strconv.FormatFloat(v, 'f', max(prec, 2), 64)}
}

// countCell shows a count that models may split between channels (attributed orders):
// a whole number without decimals ("12", not "12.0"), a fraction with one ("2.5").
func countCell(v float64) Cell {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Cell{Text: "–"}
	}
	if r := math.Round(v); math.Abs(v-r) < 0.05 {
		return Cell{Text: formatInt(int64(r)), Raw: strconv.FormatInt(int64(r), 10)}
	}
	return Cell{Text: strconv.FormatFloat(v, 'f', 1, 64), Raw: strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)}
}

// amountF shows fractional minor units (attributed revenue) rounded to whole minor units.
func amountF(minor float64, cur string) Cell { return amount(int64(math.Round(minor)), cur) }

func optAmount(minor *float64, cur string) Cell {
	if minor == nil || math.IsNaN(*minor) || math.IsInf(*minor, 0) {
		return Cell{Text: "–", Raw: ""}
	}
	return amountF(*minor, cur)
}

// computing fills the page's notice fields from an analysis lookup.
func (p *page) computed(st stamp, err error) error {
	if errors.Is(err, errComputing) {
		p.Computing = true
		return nil
	}
	if err != nil {
		return err
	}
	if !st.At.IsZero() {
		p.ComputedAt = st.At.In(p.Range.Loc).Format("2 Jan 15:04")
		p.Stale = st.Stale
	}
	return nil
}

type attributionData struct {
	Ready       bool
	Models      []modelInfo
	Conversions int64
	Revenue     string
	Journeys    attribution.Summary
	Skipped     []string
	Truth       bool
	TruthErr    string
	TruthBest   string
	Notes       []string
	MarginNote  string // how POAS is computed, when a margin is set
}

type modelInfo struct {
	Name, Label, Convention string
}

func (s *server) attributionPage(w http.ResponseWriter, r *http.Request) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/attribution", "Attribution")
	d := &attributionData{}
	p.Data = d
	if ok, err := s.hasTable(ctx, "orders"); err != nil || !ok {
		return errors.Join(err, s.respond(w, r, "attribution", p))
	}
	cur := p.Currency
	a, at, err := s.attrFor(ctx, p.Range, cur)
	if err := p.computed(at, err); err != nil || p.Computing {
		return errors.Join(err, s.respond(w, r, "attribution", p))
	}
	d.Ready = true
	if err := s.withCoverage(r, p); err != nil {
		return err
	}
	pc := a.Cur
	d.Journeys, d.Skipped = pc.Summary, pc.Skipped
	d.Conversions = pc.Summary.Conversions
	d.Revenue = formatMoney(pc.Summary.RevenueMinor, cur)
	conv := attribution.Conventions()
	for _, res := range pc.Results {
		d.Models = append(d.Models, modelInfo{res.Model, modelLabel(res.Model), conv[res.Model]})
	}
	channels := channelOrder(pc)
	addModelsByChannel(p, pc, channels, cur)
	if err := s.addReturnOnSpend(ctx, p, d, pc, channels, cur); err != nil {
		return err
	}
	addMarkovRemovals(p, a)
	addShapleyValues(p, a)
	addGroundTruth(p, d, a)
	return s.respond(w, r, "attribution", p)
}

// addModelsByChannel adds every model's revenue per channel, side by side, and its
// conversions per channel.
func addModelsByChannel(p *page, pc *attrPeriod, channels []string, cur string) {
	scale := math.Pow10(money.Exponent(pc.Currency))
	c := &Chart{ID: "models-by-channel", Kind: "bar", Title: "Attributed revenue per channel, every model", Money: true, Currency: cur, X: channels}
	t := &Table{ID: "models-by-channel", Caption: "Attributed revenue per channel and model", Hidden: true, Cols: []Col{{Label: "Channel"}}}
	ct := &Table{ID: "conversions-by-model", Caption: "Attributed conversions per channel and model", Cols: []Col{{Label: "Channel"}}}
	for _, res := range pc.Results {
		t.Cols = append(t.Cols, Col{Label: modelLabel(res.Model), Num: true})
		ct.Cols = append(ct.Cols, Col{Label: modelLabel(res.Model), Num: true})
		vals := make([]float64, len(channels))
		for i, ch := range channels {
			vals[i] = round2(credit(res, ch).Value)
		}
		c.Series = append(c.Series, Series{Name: modelLabel(res.Model), Data: vals})
	}
	for _, ch := range channels {
		row := []Cell{txt(ch)}
		crow := []Cell{txt(ch)}
		for _, res := range pc.Results {
			cr := credit(res, ch)
			row = append(row, amountF(cr.Value*scale, cur))
			crow = append(crow, countCell(cr.Conversions))
		}
		t.Rows = append(t.Rows, row)
		ct.Rows = append(ct.Rows, crow)
	}
	if len(channels) > 0 && len(pc.Results) > 0 {
		c.Table = t
		p.addChart(c)
		p.addTable(ct)
	}
}

// paidChannels are the channels with spend in the period: those in channels' order
// first, then the others.
func paidChannels(pc *attrPeriod, channels []string) []string {
	var paid []string
	for _, ch := range channels {
		if pc.Spend[ch] > 0 {
			paid = append(paid, ch)
		}
	}
	for ch, v := range pc.Spend {
		if v > 0 && !slices.Contains(paid, ch) {
			paid = append(paid, ch)
		}
	}
	return paid
}

// addReturnOnSpend adds the return on ad spend of the paid channels under every model
// (where the models agree, the answer does not depend on the convention), and the profit
// on ad spend where a gross margin is set.
func (s *server) addReturnOnSpend(ctx context.Context, p *page, d *attributionData, pc *attrPeriod, channels []string, cur string) error {
	paid := paidChannels(pc, channels)
	if len(paid) == 0 || len(pc.Results) == 0 {
		return nil
	}
	rt := p.addTable(&Table{ID: "roas-by-model", Caption: "Return on ad spend of each paid channel under each model (attributed revenue ÷ spend)", Cols: []Col{{Label: "Channel"}, {Label: "Spend", Num: true}}})
	byModel := map[string]map[string]attribution.ROIRow{}
	for _, res := range pc.Results {
		rt.Cols = append(rt.Cols, Col{Label: modelLabel(res.Model), Num: true})
		m := map[string]attribution.ROIRow{}
		for _, r := range pc.roiRows(res.Model) {
			m[r.Channel] = r
		}
		byModel[res.Model] = m
	}
	for _, ch := range paid {
		row := []Cell{txt(ch), amount(pc.Spend[ch], cur)}
		for _, res := range pc.Results {
			row = append(row, ratioCell(byModel[res.Model][ch].ROAS))
		}
		rt.Rows = append(rt.Rows, row)
	}
	// Profit on ad spend, where a gross margin is set: the same figure as the
	// Overview's ROI table (catalog.MarginRates.POAS), under every model.
	margins, hasMargin, err := catalog.PeriodMargins(ctx, s.db, pc.From, pc.To, cur)
	if err != nil || !hasMargin {
		return err
	}
	d.MarginNote = fmt.Sprintf("POAS is ROAS on gross profit: attributed revenue × the gross margin of the channel's orders (%s overall, from the margin settings) ÷ spend. Below 1, the ads cost more than the profit they brought.", fmtPct(margins.Overall))
	pt := p.addTable(&Table{ID: "poas-by-model", Caption: "Profit on ad spend (POAS) of each paid channel under each model (attributed revenue × gross margin ÷ spend)", Cols: []Col{{Label: "Channel"}, {Label: "Gross margin", Num: true}}})
	for _, res := range pc.Results {
		pt.Cols = append(pt.Cols, Col{Label: "POAS, " + modelLabel(res.Model), Num: true})
	}
	for _, ch := range paid {
		mg := margins.For(ch)
		row := []Cell{txt(ch), pctCell(&mg)}
		for _, res := range pc.Results {
			row = append(row, ratioCell(margins.POAS(byModel[res.Model][ch].ROAS, ch)))
		}
		pt.Rows = append(pt.Rows, row)
	}
	return nil
}

// addMarkovRemovals charts the Markov model's removal effects: why it credits what it does.
func addMarkovRemovals(p *page, a *attrAnalysis) {
	res := a.result("markov")
	if res == nil {
		return
	}
	det, ok := res.Details.(*attribution.MarkovDetails)
	if !ok || len(det.RemovalEffects) == 0 {
		return
	}
	effects := append([]attribution.NamedValue(nil), det.RemovalEffects...)
	sort.Slice(effects, func(i, j int) bool { return effects[i].Value > effects[j].Value })
	mc := &Chart{ID: "markov-removal", Kind: "bar", Title: "Markov: share of conversions lost if the channel were removed"}
	mt := &Table{ID: "markov-removal", Caption: "Markov removal effects", Hidden: true, Cols: []Col{{Label: "Channel"}, {Label: "Removal effect", Num: true}}}
	vals := []float64{}
	for _, e := range effects {
		mc.X = append(mc.X, e.Key)
		vals = append(vals, round2(e.Value*100))
		v := e.Value
		mt.Rows = append(mt.Rows, []Cell{txt(e.Key), pctCell(&v)})
	}
	mc.Series = []Series{{Name: "Removal effect (%)", Data: vals}}
	mc.Table = mt
	p.addChart(mc)
}

// addShapleyValues charts the Shapley model's contributions per channel.
func addShapleyValues(p *page, a *attrAnalysis) {
	res := a.result("shapley")
	if res == nil {
		return
	}
	var vals []attribution.NamedValue
	if m, ok := res.Details.(map[string]any); ok {
		vals, _ = m["shapley_values"].([]attribution.NamedValue)
	}
	if len(vals) == 0 {
		return
	}
	vals = append([]attribution.NamedValue(nil), vals...)
	sort.Slice(vals, func(i, j int) bool { return vals[i].Value > vals[j].Value })
	sc := &Chart{ID: "shapley-values", Kind: "bar", Title: "Shapley: each channel's contribution to conversions"}
	st := &Table{ID: "shapley-values", Caption: "Shapley contributions (conversions)", Hidden: true, Cols: []Col{{Label: "Channel"}, {Label: "Contribution (conversions)", Num: true}, {Label: "Share", Num: true}}}
	var tot float64
	for _, v := range vals {
		tot += v.Value
	}
	data := []float64{}
	for _, v := range vals {
		sc.X = append(sc.X, v.Key)
		data = append(data, round2(v.Value))
		sh := ratioP(v.Value, tot)
		st.Rows = append(st.Rows, []Cell{txt(v.Key), countCell(v.Value), pctCell(sh)})
	}
	sc.Series = []Series{{Name: "Contribution", Data: data}}
	sc.Table = st
	p.addChart(sc)
}

// addGroundTruth compares the models with the demo's ground truth: each model's error,
// and per channel the true share beside every model's.
func addGroundTruth(p *page, d *attributionData, a *attrAnalysis) {
	d.TruthErr = a.TruthErr
	if a.Truth == nil || len(a.Truth.Models) == 0 {
		return
	}
	d.Truth = true
	gt := p.addTable(&Table{ID: "ground-truth", Caption: "Error against the demo's true incremental effect (share of conversions among the channels the truth lists)",
		Cols: []Col{{Label: "Model"}, {Label: "Mean share error (points)", Num: true}, {Label: "Revenue share error (points)", Num: true}}})
	best := a.Truth.Models[0]
	for _, m := range a.Truth.Models {
		if m.ShareMAE < best.ShareMAE {
			best = m
		}
	}
	d.TruthBest = modelLabel(best.Model)
	ms := append([]attribution.ModelTruth(nil), a.Truth.Models...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].ShareMAE < ms[j].ShareMAE })
	for _, m := range ms {
		gt.Rows = append(gt.Rows, []Cell{txt(modelLabel(m.Model)), floatCell(m.ShareMAE*100, 1), floatCell(m.RevenueMAE*100, 1)})
	}
	gc := p.addTable(&Table{ID: "ground-truth-channels", Caption: "Share of incremental conversions: truth and models", Cols: []Col{{Label: "Channel"}, {Label: "True share", Num: true}}})
	for _, m := range a.Truth.Models {
		gc.Cols = append(gc.Cols, Col{Label: modelLabel(m.Model), Num: true})
	}
	for i, tc := range a.Truth.Models[0].Channels {
		ts := tc.TrueShare
		row := []Cell{txt(tc.Channel), pctCell(&ts)}
		for _, m := range a.Truth.Models {
			if i < len(m.Channels) {
				v := m.Channels[i].ModelShare
				row = append(row, pctCell(&v))
			}
		}
		gc.Rows = append(gc.Rows, row)
	}
	d.Notes = append(d.Notes, a.Truth.Notes...)
}

// channelOrder lists the channels of a period by last-touch revenue (the familiar view
// first), then the rest by name.
func channelOrder(pc *attrPeriod) []string {
	tot := map[string]float64{}
	for _, res := range pc.Results {
		for _, c := range res.ByChannel {
			tot[c.Key] += c.Value
		}
	}
	out := make([]string, 0, len(tot))
	for k := range tot {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if tot[out[i]] != tot[out[j]] {
			return tot[out[i]] > tot[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

func credit(res attribution.Result, ch string) attribution.Credit {
	for _, c := range res.ByChannel {
		if c.Key == ch {
			return c
		}
	}
	return attribution.Credit{Key: ch}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
