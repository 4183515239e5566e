package cli

// How `omniroi attribute` and `omniroi roi` print what the attribution service computes:
// tables for people, CSV and JSON for scripts. The JSON of attribute is the API's
// (api.AttributionBody), so a script reads the same shape from both.

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/money"
)

// checkFormat validates --format.
func checkFormat(cmd, format string) error {
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("%s: unknown format %q (table, csv or json)", cmd, format)
	}
	return nil
}

func shareOf(x, tot float64) float64 {
	if tot == 0 {
		return 0
	}
	return x / tot
}

// writeModelTable writes one block per model: channel, conversions, revenue and share of
// conversions, then the model's notes.
func writeModelTable(w io.Writer, results []attribution.Result, currency string) error {
	revenue := "revenue"
	if currency != "" {
		revenue += " (" + currency + ")"
	}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "model: %s\n", r.Model)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "channel\tconversions\t%s\tshare of conversions\t\n", revenue)
		for _, c := range r.ByChannel {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.1f%%\t\n", Clean(c.Key), countStr(c.Conversions), c.Value, 100*shareOf(c.Conversions, r.TotalConversions))
		}
		fmt.Fprintf(tw, "total\t%s\t%.2f\t\t\n", countStr(r.TotalConversions), r.TotalValue)
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		for _, n := range r.Notes {
			if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
		}
	}
	return nil
}

// writeModelCSV writes one row per model and channel: model,channel,conversions,revenue,share.
func writeModelCSV(w io.Writer, results []attribution.Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"model", "channel", "conversions", "revenue", "share"}); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, r := range results {
		for _, c := range r.ByChannel {
			if err := cw.Write([]string{r.Model, c.Key, f(c.Conversions), f(c.Value), f(shareOf(c.Conversions, r.TotalConversions))}); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// writeGroundTruth prints each model's share MAE and per-channel model vs true shares.
func writeGroundTruth(w io.Writer, g attribution.GroundTruthReport) error {
	fmt.Fprintf(w, "ground truth: %s\n", Clean(g.Source))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tshare MAE\trevenue share MAE\t")
	if len(g.Models) > 0 {
		for _, c := range g.Models[0].Channels {
			fmt.Fprintf(tw, "%s\t", Clean(c.Channel))
		}
	}
	fmt.Fprintln(tw)
	if len(g.Models) > 0 {
		fmt.Fprintf(tw, "true share\t\t\t")
		for _, c := range g.Models[0].Channels {
			fmt.Fprintf(tw, "%.1f%%\t", 100*c.TrueShare)
		}
		fmt.Fprintln(tw)
	}
	for _, m := range g.Models {
		fmt.Fprintf(tw, "%s\t%.1f pp\t%.1f pp\t", m.Model, 100*m.ShareMAE, 100*m.RevenueMAE)
		for _, c := range m.Channels {
			fmt.Fprintf(tw, "%.1f%%\t", 100*c.ModelShare)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write ground truth: %w", err)
	}
	for _, n := range g.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return fmt.Errorf("write ground truth: %w", err)
		}
	}
	return nil
}

// fmtDur prints a duration the way the flags take it: 30d, 12h, 30m.
func fmtDur(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s, _ = strings.CutSuffix(s, "m0s")
	if strings.HasSuffix(d.String(), "m0s") {
		s += "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// writeAttribution prints a period's attribution in a format, with the ground-truth
// comparison when there is one.
func writeAttribution(w io.Writer, format string, p *attribution.Period, gt *attribution.GroundTruthReport) error {
	switch format {
	case "csv":
		return writeModelCSV(w, p.Results)
	case "json":
		return PrintJSON(w, struct {
			api.AttributionBody
			GroundTruth *attribution.GroundTruthReport `json:"ground_truth,omitempty"`
		}{api.NewAttributionBody(p), gt})
	}
	s := p.Summary
	fmt.Fprintf(w, "paths: %d conversions (%d with a made-up in-store/phone touch, %d without any touch), %d non-converting, %d touches, %d customers; lookback %s, session timeout %s; built in %s\n\n",
		s.Conversions, s.SynthesizedTouches, s.Unattributed, s.NullPaths, s.Touches, s.Customers, fmtDur(s.Lookback), fmtDur(s.SessionTimeout), s.Elapsed.Round(1e6))
	if err := writeModelTable(w, p.Results, s.Currency); err != nil {
		return err
	}
	for _, n := range append(append([]string{}, s.Notes...), p.Skipped...) {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if gt != nil {
		fmt.Fprintln(w)
		return writeGroundTruth(w, *gt)
	}
	return nil
}

func fmtOpt(p *float64, format string) string {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return "-"
	}
	return fmt.Sprintf(format, *p)
}

// countStr prints a count that models may split between channels (attributed orders):
// a whole number without decimals ("12", not "12.0"), a fraction with one ("2.5").
func countStr(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if r := math.Round(v); math.Abs(v-r) < 0.05 {
		return strconv.FormatInt(int64(r), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// minorStr prints fractional minor units in major units, rounded to the minor unit.
func minorStr(v float64, cur string) string {
	return money.Format(int64(math.Round(v)), cur)
}

func optMinor(p *float64, cur string) string {
	if p == nil {
		return "-"
	}
	return minorStr(*p, cur)
}

func pctStr(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**p)
}

// writeROI prints the ROI report in a format.
func writeROI(w io.Writer, format string, rep attribution.ROIReport) error {
	switch format {
	case "json":
		return PrintJSON(w, rep)
	case "csv":
		return writeROICSV(w, rep)
	}
	return writeROITable(w, rep)
}

func writeROITable(w io.Writer, rep attribution.ROIReport) error {
	cur, prev := rep.Current, rep.Previous
	c := cur.Currency
	fmt.Fprintf(w, "ROI %s to %s (previous: %s to %s), model %s, money in %s\n\n",
		cur.From.Format(time.DateOnly), cur.To.Format(time.DateOnly), prev.From.Format(time.DateOnly), prev.To.Format(time.DateOnly), rep.Model, c)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "channel\tspend (%[1]s)\tconversions\trevenue (%[1]s)\tROAS\tROI\tnew customers\tCAC (%[1]s)\tconversion rate\ttouches per conversion\tdays to convert\tprevious spend (%[1]s)\tprevious revenue (%[1]s)\tprevious ROAS\t\n", c)
	prevBy := map[string]attribution.ROIRow{}
	for _, r := range prev.Channels {
		prevBy[r.Channel] = r
	}
	for _, r := range cur.Channels {
		pr, ok := prevBy[r.Channel]
		ps, prv, pro := "-", "-", "-"
		if ok {
			ps, prv, pro = money.Format(pr.SpendMinor, c), minorStr(pr.RevenueMinor, c), fmtOpt(pr.ROAS, "%.2f")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t\n", Clean(r.Channel), money.Format(r.SpendMinor, c),
			countStr(r.Conversions), minorStr(r.RevenueMinor, c), fmtOpt(r.ROAS, "%.2f"), fmtOpt(r.ROIPercent, "%.0f%%"),
			r.NewCustomers, optMinor(r.CACMinor, c), pctStr(r.ConversionRate), r.AvgTouches, r.AvgDaysToConvert, ps, prv, pro)
	}
	fmt.Fprintf(tw, "total\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t\t%.1f\t%.1f\t%s\t%s\t%s\t\n", money.Format(cur.SpendMinor, c), cur.Conversions,
		minorStr(cur.AttributedRevenue, c), fmtOpt(cur.ROAS, "%.2f"), fmtOpt(cur.ROIPercent, "%.0f%%"), cur.NewCustomers,
		optMinor(cur.BlendedCACMinor, c), cur.AvgTouches, cur.AvgDaysToConvert,
		money.Format(prev.SpendMinor, c), minorStr(prev.AttributedRevenue, c), fmtOpt(prev.ROAS, "%.2f"))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("roi: write table: %w", err)
	}
	fmt.Fprintf(w, "\nrevenue (net of refunds) %s: new customers %s, returning %s; previous period %s\n",
		money.Format(cur.RevenueMinor, c), money.Format(cur.NewRevenueMinor, c), money.Format(cur.ReturningRevenueMinor, c), money.Format(prev.RevenueMinor, c))
	fmt.Fprintf(w, "concentration: HHI %.3f, effective channels %.1f (previous %.3f, %.1f)\n\n", cur.HHI, cur.EffectiveChannels, prev.HHI, prev.EffectiveChannels)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "channel\tcampaign\tspend (%[1]s)\tclicks\tconversions\trevenue (%[1]s)\tROAS\tnew customers\tCAC (%[1]s)\tconversion rate\t\n", c)
	for _, r := range cur.Campaigns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t\n", Clean(r.Channel), Clean(r.Campaign), money.Format(r.SpendMinor, c), r.Clicks,
			countStr(r.Conversions), minorStr(r.RevenueMinor, c), fmtOpt(r.ROAS, "%.2f"), r.NewCustomers, optMinor(r.CACMinor, c), pctStr(r.ConversionRate))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("roi: write table: %w", err)
	}
	for _, n := range cur.Notes {
		fmt.Fprintf(w, "note: %s\n", Clean(n))
	}
	_, err := fmt.Fprintf(w, "\n%s\n", rep.Convention)
	return err
}

// writeROICSV writes one row per period, level (channel or campaign) and key.
func writeROICSV(w io.Writer, rep attribution.ROIReport) error {
	cw := csv.NewWriter(w)
	head := []string{"period", "from", "to", "model", "level", "channel", "campaign", "currency", "spend", "impressions", "clicks",
		"conversions", "revenue", "roas", "roi_percent", "new_customers", "cac", "journeys_touched", "journeys_converted",
		"conversion_rate", "avg_touches", "avg_days_to_convert"}
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("roi: write csv: %w", err)
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	fp := func(p *float64) string {
		if p == nil {
			return ""
		}
		return f(*p)
	}
	for _, per := range []struct {
		name string
		p    attribution.ROIPeriod
	}{{"current", rep.Current}, {"previous", rep.Previous}} {
		c := per.p.Currency
		for _, lvl := range []struct {
			name string
			rows []attribution.ROIRow
		}{{"channel", per.p.Channels}, {"campaign", per.p.Campaigns}} {
			for _, r := range lvl.rows {
				cac := ""
				if r.CACMinor != nil {
					cac = minorStr(*r.CACMinor, c)
				}
				rec := []string{per.name, per.p.From.Format(time.DateOnly), per.p.To.Format(time.DateOnly), rep.Model, lvl.name,
					r.Channel, r.Campaign, c, money.Format(r.SpendMinor, c), strconv.FormatInt(r.Impressions, 10), strconv.FormatInt(r.Clicks, 10),
					f(r.Conversions), minorStr(r.RevenueMinor, c), fp(r.ROAS), fp(r.ROIPercent), strconv.FormatInt(r.NewCustomers, 10), cac,
					strconv.FormatInt(r.PathsTouched, 10), strconv.FormatInt(r.PathsConverted, 10), fp(r.ConversionRate),
					f(r.AvgTouches), f(r.AvgDaysToConvert)}
				if err := cw.Write(rec); err != nil {
					return fmt.Errorf("roi: write csv: %w", err)
				}
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("roi: write csv: %w", err)
	}
	return nil
}
