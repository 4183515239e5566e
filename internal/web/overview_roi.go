package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/money"
)

// roiSection is the Overview's return on ad spend per channel under one model.
type roiSection struct {
	Computing  bool
	Model      string
	ModelLabel string
	Models     []modelOption
	Hidden     []hiddenField // the period, kept by the model form
	Convention string
	ModelErr   string
	Best       string // channel with the best ROAS, with the figure
	NoBest     string // why no channel is named the best, when the data cannot support it
	MarginNote string // how POAS is computed, when a margin is set
	Worst      string
	ValueNote  string
}

type modelOption struct {
	Name, Label string
	Selected    bool
}

type hiddenField struct{ Name, Value string }

// overviewROI adds blended CAC, ROAS and LTV:CAC cards and the channel ROI table. The
// heavy parts come from the background analyses; while they run, the rest of the
// Overview shows and the page reloads itself.
func (s *server) overviewROI(r *http.Request, p *page, d *overviewData) error {
	ctx := r.Context()
	cur := p.Currency
	sec := newROISection(r, p)
	d.ROI = sec
	a, _, err := s.attrFor(ctx, p.Range, cur)
	if errors.Is(err, errComputing) {
		sec.Computing, p.Refresh = true, true
		return nil
	}
	if err != nil {
		return err
	}
	pc := a.Cur
	if len(pc.Results) == 0 {
		return nil
	}
	sec.chooseModel(pc, p, d)
	if err := s.roiCards(r, p, d, a); err != nil {
		return err
	}
	return s.roiChannels(r, p, sec, pc)
}

// newROISection reads the requested attribution model and keeps the period's query
// as hidden fields of the model form.
func newROISection(r *http.Request, p *page) *roiSection {
	sec := &roiSection{Model: attribution.DefaultROIModel}
	if m := r.URL.Query().Get("model"); m != "" {
		if slices.Contains(attribution.ModelNames, m) {
			sec.Model = m
		} else {
			sec.ModelErr = fmt.Sprintf("There is no attribution model %q; showing %s.", m, modelLabel(sec.Model))
		}
	}
	for k, vs := range p.Range.Query() {
		for _, v := range vs {
			sec.Hidden = append(sec.Hidden, hiddenField{k, v})
		}
	}
	slices.SortFunc(sec.Hidden, func(a, b hiddenField) int { return strings.Compare(a.Name, b.Name) })
	return sec
}

// chooseModel lists the models that ran and falls back to the first of them when the
// requested one could not run on this data.
func (sec *roiSection) chooseModel(pc *attrPeriod, p *page, d *overviewData) {
	ran := map[string]bool{}
	for _, res := range pc.Results {
		ran[res.Model] = true
		sec.Models = append(sec.Models, modelOption{res.Model, modelLabel(res.Model), false})
	}
	if !ran[sec.Model] {
		sec.ModelErr = fmt.Sprintf("%s cannot run on this data; showing %s.", modelLabel(sec.Model), modelLabel(pc.Results[0].Model))
		sec.Model = pc.Results[0].Model
	}
	if sec.Model != attribution.DefaultROIModel || d.View == viewCredit {
		p.Model = sec.Model // the period form keeps the credit view and its model
	}
	for i := range sec.Models {
		sec.Models[i].Selected = sec.Models[i].Name == sec.Model
	}
	sec.ModelLabel = modelLabel(sec.Model)
	sec.Convention = attribution.Conventions()[sec.Model]
}

// roiCards adds the blended CAC, credited ROAS and LTV:CAC cards, each beside the
// previous period's value where there is one.
func (s *server) roiCards(r *http.Request, p *page, d *overviewData, a *attrAnalysis) error {
	sec, cur := d.ROI, p.Currency
	pc, prev := a.Cur, a.Prev
	hasPrev := prev != nil
	m := func(v int64) string { return formatMoneyShort(v, cur) }

	// Blended CAC: all spend over customers whose first order fell in the period.
	if pc.SpendTotal > 0 && pc.NewTotal > 0 {
		c := int64(math.Round(float64(pc.SpendTotal) / float64(pc.NewTotal)))
		k := card{Label: "Blended cost per new customer (CAC)", Value: formatMoney(c, cur), Good: false, Note: fmt.Sprintf("%s ad spend ÷ %s new customers", m(pc.SpendTotal), formatInt(pc.NewTotal))}
		if hasPrev && prev.SpendTotal > 0 && prev.NewTotal > 0 {
			pv := int64(math.Round(float64(prev.SpendTotal) / float64(prev.NewTotal)))
			k.HasPrev, k.Prev = true, formatMoney(pv, cur)
			k.Change, k.Up = change(c, pv)
		}
		d.Cards = append(d.Cards, k)
	}
	// ROAS: the revenue the model credits to marketing over all ad spend.
	var blendedCAC float64
	if pc.SpendTotal > 0 {
		roas := pc.attributedTotal(sec.Model) / float64(pc.SpendTotal)
		k := card{Label: "Credited return on ad spend (" + sec.ModelLabel + ")", Value: fmt.Sprintf("%.2f", roas), Good: true, Note: "revenue attribution credits to marketing ÷ ad spend: credit, not effect"}
		if hasPrev && prev.SpendTotal > 0 {
			pr := prev.attributedTotal(sec.Model) / float64(prev.SpendTotal)
			k.HasPrev, k.Prev = true, fmt.Sprintf("%.2f", pr)
			k.Change, k.Up = change(int64(math.Round(roas*1000)), int64(math.Round(pr*1000)))
		}
		d.Cards = append(d.Cards, k)
		if pc.NewTotal > 0 {
			blendedCAC = float64(pc.SpendTotal) / float64(pc.NewTotal)
		}
	}
	// LTV:CAC: predicted first-year value of the customers acquired in the period (their
	// channel mix) over blended CAC.
	if blendedCAC > 0 {
		return s.ltvCard(r, p, d, sec, a, blendedCAC)
	}
	return nil
}

// roiChannels adds the channel ROI table under the chosen model, with POAS where a
// gross margin is set, the spend and revenue chart, and the best and worst channel
// where the data supports naming them.
func (s *server) roiChannels(r *http.Request, p *page, sec *roiSection, pc *attrPeriod) error {
	cur := p.Currency
	rows := pc.roiRows(sec.Model)
	t := p.addTable(&Table{ID: "channel-roi", Caption: "Return on ad spend per channel (" + sec.ModelLabel + ")",
		Cols:  []Col{{Label: "Channel"}, {Label: "Spend", Num: true}, {Label: "Attributed revenue", Num: true}, {Label: "Attributed orders", Num: true}, {Label: "ROAS", Num: true}, {Label: "ROI", Num: true}, {Label: "CAC", Num: true}, {Label: "New customers", Num: true}, {Label: "Conversion rate", Num: true}},
		Empty: "No channel had journeys in this period."})
	ch := &Chart{ID: "roi-by-channel", Kind: "bar", Title: "Ad spend and attributed revenue per paid channel (" + sec.ModelLabel + ")", Money: true, Currency: cur}
	ct := &Table{ID: "roi-by-channel", Caption: "Spend and attributed revenue per paid channel", Hidden: true, Cols: []Col{{Label: "Channel"}, {Label: "Spend", Num: true}, {Label: "Attributed revenue", Num: true}}}
	var spendV, revV []float64
	var best, worst *attribution.ROIRow
	// Profit on ad spend where a gross margin is set: the attributed revenue times the
	// margin of the channel's orders (catalog.PeriodMargins), over spend.
	margins, hasMargin, err := catalog.PeriodMargins(r.Context(), s.db, pc.From, pc.To, cur)
	if err != nil {
		return err
	}
	if hasMargin {
		t.Cols = append(t.Cols, Col{Label: "POAS (profit ÷ spend)", Num: true})
		sec.MarginNote = fmt.Sprintf("POAS is ROAS on gross profit: attributed revenue × the gross margin of the channel's orders (%s overall, from the margin settings) ÷ spend. Below 1, the ads cost more than the profit they brought.", fmtPct(margins.Overall))
	}
	for i, x := range rows {
		row := []Cell{txt(x.Channel), amount(x.SpendMinor, cur), amountF(x.RevenueMinor, cur), countCell(x.Conversions), ratioCell(x.ROAS), pctCell(div100(x.ROIPercent)), optAmount(x.CACMinor, cur), num(x.NewCustomers), pctCell(x.ConversionRate)}
		if hasMargin {
			row = append(row, ratioCell(margins.POAS(x.ROAS, x.Channel)))
		}
		t.Rows = append(t.Rows, row)
		if x.SpendMinor <= 0 {
			continue
		}
		ch.X = append(ch.X, x.Channel)
		spendV = append(spendV, money.Major(x.SpendMinor, cur))
		revV = append(revV, money.Major(x.RevenueMinor, cur))
		ct.Rows = append(ct.Rows, []Cell{txt(x.Channel), amount(x.SpendMinor, cur), amountF(x.RevenueMinor, cur)})
		if x.ROAS != nil {
			if best == nil || *x.ROAS > *best.ROAS {
				best = &rows[i]
			}
			if worst == nil || *x.ROAS < *worst.ROAS {
				worst = &rows[i]
			}
		}
	}
	if best != nil {
		sec.nameBest(p, rows, best, worst)
	}
	if len(ch.X) > 0 {
		ch.Series = []Series{{Name: "Spend", Data: spendV}, {Name: "Attributed revenue", Data: revV}}
		ch.Table = ct
		p.addChart(ch)
	}
	return nil
}

// nameBest names the best channel (and the worst) only where the data can support the
// comparison: enough tracked orders, and a gap beyond the noise (coverage.go).
func (sec *roiSection) nameBest(p *page, rows []attribution.ROIRow, best, worst *attribution.ROIRow) {
	var second *attribution.ROIRow
	for i, x := range rows {
		if x.SpendMinor > 0 && x.ROAS != nil && x.Channel != best.Channel && (second == nil || *x.ROAS > *second.ROAS) {
			second = &rows[i]
		}
	}
	if p.Coverage == nil {
		sec.NoBest = "No channel is named the best yet: the period's data coverage is being measured; reload in a moment."
		return
	}
	ok, why := bestSupported(*p.Coverage, best, second)
	if !ok {
		sec.NoBest = why
		return
	}
	sec.Best = fmt.Sprintf("%s (ROAS %.2f)", best.Channel, *best.ROAS)
	if worst.Channel != best.Channel && *worst.ROAS != *best.ROAS {
		sec.Worst = fmt.Sprintf("%s (ROAS %.2f)", worst.Channel, *worst.ROAS)
	}
}

func div100(v *float64) *float64 {
	if v == nil {
		return nil
	}
	x := *v / 100
	return &x
}

// ltvCard adds LTV:CAC, comparing with the previous period when its figures are ready.
func (s *server) ltvCard(r *http.Request, p *page, d *overviewData, sec *roiSection, a *attrAnalysis, cac float64) error {
	ctx := r.Context()
	v, _, err := s.valueFor(ctx)
	if errors.Is(err, errComputing) {
		sec.ValueNote = "Lifetime value is being computed; this page reloads itself."
		p.Refresh = true
		return nil
	}
	if err != nil || v.NoRepeats {
		return nil // the Segments page explains; the Overview stays up
	}
	ltv := func(rg Range) (float64, bool, error) {
		econ, err := s.econFor(ctx, rg, v)
		if errors.Is(err, errComputing) {
			p.Refresh = true
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		var sum, n float64
		for _, c := range econ {
			sum += c.Predicted12 * float64(c.NewCustomers)
			n += float64(c.NewCustomers)
		}
		if n == 0 {
			return 0, false, nil
		}
		return sum / n, true, nil
	}
	l, ok, err := ltv(p.Range)
	if err != nil || !ok {
		return err
	}
	x := l / cac
	k := card{Label: "Lifetime value to CAC (LTV:CAC)", Value: fmt.Sprintf("%.1f", x), Good: true,
		Note: fmt.Sprintf("predicted first-year value of a new customer (%s) ÷ blended CAC", formatMoneyShort(int64(math.Round(l)), p.Currency))}
	if pr, okPrev := p.Range.Previous(); okPrev && a.Prev != nil && a.Prev.NewTotal > 0 && a.Prev.SpendTotal > 0 {
		pl, ok, err := ltv(pr)
		if err != nil {
			return err
		}
		if ok {
			px := pl / (float64(a.Prev.SpendTotal) / float64(a.Prev.NewTotal))
			k.HasPrev, k.Prev = true, fmt.Sprintf("%.1f", px)
			k.Change, k.Up = change(int64(math.Round(x*100)), int64(math.Round(px*100)))
		}
	}
	d.Cards = append(d.Cards, k)
	return nil
}
