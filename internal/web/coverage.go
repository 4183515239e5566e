package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/quality"
)

// coverageKey is the compute cache's key of a period's coverage.
func coverageKey(rg Range) string { return fmt.Sprintf("coverage|%d|%d", rg.FromMS(), rg.ToMS()) }

// coverageFor is the data quality of a period (quality.Measure), measured in the
// background per data version like the other slow analyses (compute.go): a request waits
// at most the compute budget for it. ok is false while the period's first measure is
// being computed (an older version's measure is served while a newer one is built).
func (s *server) coverageFor(ctx context.Context, rg Range) (c quality.Coverage, ok bool, err error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return c, false, err
	}
	c, _, _, err = computedIn(ctx, s.compute, s.compute.sem, coverageKey(rg), ver, func(ctx context.Context) (quality.Coverage, error) {
		return quality.Measure(ctx, s.db, rg.From, rg.To)
	})
	if errors.Is(err, errComputing) {
		return c, false, nil
	}
	return c, err == nil, err
}

// withCoverage puts the period's coverage on an ROI or attribution page: the banner shows
// when too few orders carry marketing context (base.html), and ?format=json carries it.
// While it is being measured p.Coverage stays nil: no banner, and no best channel named.
func (s *server) withCoverage(r *http.Request, p *page) error {
	c, ok, err := s.coverageFor(r.Context(), p.Range)
	if err != nil || !ok {
		return err
	}
	p.Coverage = &c
	return nil
}

// coverageMeasuring is the Sources panel's and the Overview's word while a period's
// coverage is being measured.
const coverageMeasuring = "Data coverage of this period is being measured; reload in a moment."

// coverageTable is the coverage panel's table: overall, then per source; empty with a
// notice while the coverage is being measured (ok false).
func coverageTable(p *page, c quality.Coverage, ok bool) {
	t := p.addTable(&Table{ID: "coverage", Caption: "Data coverage in this period",
		Cols:  []Col{{Label: "Source"}, {Label: "Orders with marketing data", Num: true}, {Label: "Buyers identified", Num: true}, {Label: "Spend rows matched to a channel", Num: true}, {Label: "Rejected events", Num: true}, {Label: "Most common rejection"}},
		Empty: "No orders, spend or rejected events in this period."})
	if !ok {
		t.Empty = coverageMeasuring
		return
	}
	sh := func(s quality.Share) Cell {
		if s.Share == nil {
			return txt("–")
		}
		return txt(fmt.Sprintf("%d %% (%s of %s)", int(math.Round(*s.Share*100)), formatInt(s.Part), formatInt(s.Total)))
	}
	top := func(rs []quality.Reason) Cell {
		if len(rs) == 0 {
			return txt("")
		}
		return txt(fmt.Sprintf("%s (%s)", rs[0].Reason, formatInt(rs[0].Count)))
	}
	if c.Marketing.Total == 0 && c.SpendMatched.Total == 0 && c.Rejected == 0 {
		return
	}
	t.Rows = append(t.Rows, []Cell{txt("All sources"), sh(c.Marketing), sh(c.Identified), sh(c.SpendMatched), num(c.Rejected), top(c.Reasons)})
	for _, src := range c.Sources {
		t.Rows = append(t.Rows, []Cell{txt(src.Source), sh(src.Marketing), sh(src.Identified), txt("–"), num(src.Rejected), top(src.Reasons)})
	}
}

// bestSupported says whether the data can name a best channel from a ROAS comparison:
// enough orders must carry marketing context, and the best channel's ROAS must beat the
// runner-up's by more than the noise of their attributed conversions (a two-sided 95 %
// test on log ROAS, each channel's revenue taken as Poisson in its conversions). The
// reason is for the page when it cannot.
func bestSupported(c quality.Coverage, best, second *attribution.ROIRow) (bool, string) {
	if c.Low {
		return false, fmt.Sprintf("No channel is named the best: %d %% of orders carry no marketing data, so the comparison below says more about tracking than about the ads.", c.NoMarketingPct())
	}
	if best == nil || best.ROAS == nil || *best.ROAS <= 0 {
		return false, "No channel is named the best: no paid channel has attributed revenue in this period."
	}
	if second == nil || second.ROAS == nil {
		return false, "No channel is named the best: only one channel had ad spend in this period, so there is nothing to compare it with."
	}
	if best.Conversions < 1 || second.Conversions <= 0 || *second.ROAS <= 0 {
		if best.Conversions >= 10 {
			return true, ""
		}
		return false, "No channel is named the best: too few attributed orders to tell the channels apart."
	}
	z := (math.Log(*best.ROAS) - math.Log(*second.ROAS)) / math.Sqrt(1/best.Conversions+1/second.Conversions)
	if z < 1.96 {
		return false, fmt.Sprintf("No channel is named the best: %s and %s are within the noise of their attributed orders (%.0f and %.0f).", best.Channel, second.Channel, best.Conversions, second.Conversions)
	}
	return true, ""
}
