package web

import (
	"context"
	"fmt"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/money"
)

// attrPeriod is one period of the attribution service's report with the ROI of every
// model that ran (attribution.Period.ROI: the one definition the CLI and the API use too).
// The pages only format it.
type attrPeriod struct {
	*attribution.Period
	Spend      map[string]int64 // business currency, per channel
	SpendTotal int64
	NewTotal   int64 // customers whose first order fell in the period
	roi        map[string]attribution.ROIPeriod
}

// attrAnalysis is a period and, when it has one, the period of the same length before.
type attrAnalysis struct {
	Cur, Prev *attrPeriod
	Truth     *attribution.GroundTruthReport
	TruthErr  string
}

func (a *attrAnalysis) result(model string) *attribution.Result { return a.Cur.Result(model) }

// attrKey is the compute cache's key of a period's attribution in currency cur.
func attrKey(rg Range, cur string) string {
	return fmt.Sprintf("attr|%d|%d|%s", rg.FromMS(), rg.ToMS(), cur)
}

// attrFor returns the analysis of the page's period, computing it in the background.
func (s *server) attrFor(ctx context.Context, rg Range, cur string) (*attrAnalysis, stamp, error) {
	ver, err := s.attr.Version(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	a, at, stale, err := computedIn(ctx, s.compute, s.compute.sem, attrKey(rg, cur), ver, func(ctx context.Context) (*attrAnalysis, error) {
		return s.buildAttr(ctx, rg)
	})
	return a, stamp{at, stale}, err
}

// buildAttr asks the attribution service for the period (every model, path statistics,
// the funnel) and the one before it.
func (s *server) buildAttr(ctx context.Context, rg Range) (*attrAnalysis, error) {
	q := attribution.Query{From: rg.From, To: rg.To, PathStats: true, Funnel: true}
	_, hasPrev := rg.Previous()
	q.Previous = hasPrev
	rep, err := s.attr.Analyze(ctx, q)
	if err != nil {
		return nil, err
	}
	a := &attrAnalysis{}
	if a.Cur, err = newAttrPeriod(rep.Current); err != nil {
		return nil, err
	}
	if rep.Previous != nil {
		if a.Prev, err = newAttrPeriod(rep.Previous); err != nil {
			return nil, err
		}
	}
	if path := attribution.DefaultGroundTruth(s.db.DataDir); path != "" && len(a.Cur.Results) > 0 {
		tr, err := attribution.CompareGroundTruth(a.Cur.Results, path)
		if err != nil {
			a.TruthErr = err.Error()
		} else {
			a.Truth = &tr
		}
	}
	return a, nil
}

func newAttrPeriod(p *attribution.Period) (*attrPeriod, error) {
	ap := &attrPeriod{Period: p, Spend: p.Spend(), NewTotal: p.NewCustomers(), roi: map[string]attribution.ROIPeriod{}}
	for _, v := range ap.Spend {
		ap.SpendTotal = money.SatAdd(ap.SpendTotal, v)
	}
	for _, res := range p.Results {
		r, err := p.ROI(res.Model)
		if err != nil {
			return nil, err
		}
		ap.roi[res.Model] = r
	}
	return ap, nil
}

// roiRows is one model's ROI per channel (attribution.Period.ROI), nil when it did not run.
func (p *attrPeriod) roiRows(model string) []attribution.ROIRow { return p.roi[model].Channels }

// attributedTotal is the revenue a model credited (minor units).
func (p *attrPeriod) attributedTotal(model string) float64 { return p.roi[model].AttributedRevenue }

func ratioP(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	v := a / b
	return &v
}
