package attribution

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// DefaultROIModel is the model ROI uses unless told otherwise.
const DefaultROIModel = "last_touch"

// ROIOptions configure ROI and RunROI.
type ROIOptions struct {
	From, To time.Time // default: the 30 days up to the day after the latest order (UTC days)
	Model    string    // default last_touch; "all" is not allowed here
	Config   Config
	Journeys JourneyOptions // lookback, sessions, conversion events; From/To are set from above
	Format   string         // table (default), csv or json, for RunROI
}

// ROIRow is one channel's (Campaign empty) or one campaign's numbers for a period. Money
// summed from the database is exact minor units; attributed revenue is fractional minor units.
type ROIRow struct {
	Channel              string   `json:"channel"`
	Campaign             string   `json:"campaign,omitempty"`
	SpendMinor           int64    `json:"spend_minor"`
	Impressions          int64    `json:"impressions"`
	Clicks               int64    `json:"clicks"`
	Conversions          float64  `json:"attributed_conversions"`
	RevenueMinor         float64  `json:"attributed_revenue_minor"`
	RevenueShare         float64  `json:"revenue_share"`
	ROAS                 *float64 `json:"roas"`        // revenue / spend; null without spend
	ROIPercent           *float64 `json:"roi_percent"` // (revenue - spend) / spend * 100; null without spend
	NewCustomers         int64    `json:"new_customers"`
	CACMinor             *float64 `json:"cac_minor"` // spend / new customers; null without spend or new customers
	JourneysTouched      int64    `json:"journeys_touched"`
	JourneysConverted    int64    `json:"journeys_converted"`
	ConversionRate       *float64 `json:"conversion_rate"`       // converted / touched
	AvgTouches           float64  `json:"avg_touches"`           // converting journeys it touched
	AvgDaysToConvert     float64  `json:"avg_days_to_convert"`   // first touch to conversion, same journeys
	NewRevenueMinor      int64    `json:"new_revenue_minor"`     // first orders it acquired (first touch)
	ReturningConversions int64    `json:"returning_conversions"` // conversions of returning customers it touched
	touchSum, daysSum    float64
}

// ROIPeriod is one date range.
type ROIPeriod struct {
	From                  time.Time `json:"from"`
	To                    time.Time `json:"to"`
	Currency              string    `json:"currency"`
	Channels              []ROIRow  `json:"channels"`
	Campaigns             []ROIRow  `json:"campaigns"`
	SpendMinor            int64     `json:"spend_minor"`
	Conversions           int64     `json:"conversions"`
	RevenueMinor          int64     `json:"revenue_minor"` // net of refunds, exact
	AttributedRevenue     float64   `json:"attributed_revenue_minor"`
	NewCustomers          int64     `json:"new_customers"`
	NewRevenueMinor       int64     `json:"new_customer_revenue_minor"`
	ReturningRevenueMinor int64     `json:"returning_customer_revenue_minor"`
	ROAS                  *float64  `json:"roas"`
	ROIPercent            *float64  `json:"roi_percent"`
	BlendedCACMinor       *float64  `json:"blended_cac_minor"` // total spend / new customers
	AvgTouches            float64   `json:"avg_touches"`
	AvgDaysToConvert      float64   `json:"avg_days_to_convert"`
	HHI                   float64   `json:"hhi"`                // Σ share² of attributed revenue over channels
	EffectiveChannels     float64   `json:"effective_channels"` // 1 / HHI
	Journeys              Summary   `json:"journeys"`
	Notes                 []string  `json:"notes,omitempty"`
}

// ROIReport compares a period with the one of the same length before it.
type ROIReport struct {
	Model      string    `json:"model"`
	Convention string    `json:"convention"`
	Current    ROIPeriod `json:"current"`
	Previous   ROIPeriod `json:"previous"`
}

// DefaultROIRange is the 30 days (UTC) up to and including the day of the latest order
// (of those dated within the span data can have: see workspace.Span).
func DefaultROIRange(ctx context.Context, db *store.DB) (from, to time.Time, err error) {
	lo, hi, err := workspace.Span(ctx, db)
	if err != nil {
		return from, to, fmt.Errorf("roi: %w", err)
	}
	var last sql64
	if err := db.QueryRow(ctx, `SELECT MAX(ts) FROM orders WHERE ts >= ? AND ts <= ?`, lo.UnixMilli(), hi.UnixMilli()).Scan(&last); err != nil {
		return from, to, fmt.Errorf("roi: latest order: %w", err)
	}
	end := time.Now().UTC()
	if last.Valid {
		end = time.UnixMilli(last.V).UTC()
	}
	to = time.Date(end.Year(), end.Month(), end.Day()+1, 0, 0, 0, 0, time.UTC)
	return to.AddDate(0, 0, -30), to, nil
}

// sql64 scans a nullable integer.
type sql64 struct {
	V     int64
	Valid bool
}

func (s *sql64) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		s.Valid = false
	case int64:
		s.V, s.Valid = x, true
	default:
		n, err := strconv.ParseInt(fmt.Sprint(x), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %v", x)
		}
		s.V, s.Valid = n, true
	}
	return nil
}

// ROI computes the report for opt.From..opt.To and the period of the same length before.
func ROI(ctx context.Context, db *store.DB, opt ROIOptions) (ROIReport, error) {
	if opt.Model == "" {
		opt.Model = DefaultROIModel
	}
	m, err := New(opt.Model, opt.Config)
	if err != nil {
		return ROIReport{}, fmt.Errorf("roi: %w", err)
	}
	if opt.From.IsZero() || opt.To.IsZero() {
		f, t, err := DefaultROIRange(ctx, db)
		if err != nil {
			return ROIReport{}, err
		}
		if opt.From.IsZero() && opt.To.IsZero() {
			opt.From, opt.To = f, t
		} else if opt.From.IsZero() {
			opt.From = opt.To.AddDate(0, 0, -30)
		} else {
			opt.To = opt.From.AddDate(0, 0, 30)
		}
	}
	if !opt.From.Before(opt.To) {
		return ROIReport{}, fmt.Errorf("roi: from %s is not before to %s", opt.From.Format(time.DateOnly), opt.To.Format(time.DateOnly))
	}
	rep := ROIReport{Model: m.Name(), Convention: m.Convention()}
	if rep.Current, err = roiPeriod(ctx, db, m, opt, opt.From, opt.To); err != nil {
		return rep, err
	}
	length := opt.To.Sub(opt.From)
	if rep.Previous, err = roiPeriod(ctx, db, m, opt, opt.From.Add(-length), opt.From); err != nil {
		return rep, err
	}
	return rep, nil
}

type campKey struct{ channel, campaign string }

func campaignKey(channel, campaign string) campKey {
	c := strings.ToLower(strings.TrimSpace(campaign))
	if c == "" {
		c = "(none)"
	}
	return campKey{channel, c}
}

func roiPeriod(ctx context.Context, db *store.DB, m Model, opt ROIOptions, from, to time.Time) (ROIPeriod, error) {
	p := ROIPeriod{From: from, To: to}
	chRows := map[string]*ROIRow{}
	cpRows := map[campKey]*ROIRow{}
	ch := func(name string) *ROIRow {
		r := chRows[name]
		if r == nil {
			r = &ROIRow{Channel: name}
			chRows[name] = r
		}
		return r
	}
	cp := func(k campKey) *ROIRow {
		r := cpRows[k]
		if r == nil {
			r = &ROIRow{Channel: k.channel, Campaign: k.campaign}
			cpRows[k] = r
		}
		return r
	}
	var convJourneys, touchSum, daysSum float64
	seenCh := map[string]bool{}
	seenCp := map[campKey]bool{}
	jo := opt.Journeys
	jo.From, jo.To = from, to
	jo.OnJourney = func(info JourneyInfo) {
		j := &info.Journey
		converted := j.Conversions > 0
		var days float64
		if converted && len(j.Touches) > 0 {
			days = j.ConvertedAt.Sub(j.Touches[0].Time).Hours() / 24
			convJourneys++
			touchSum += float64(len(j.Touches))
			daysSum += days
		}
		if converted && info.FirstConversion {
			p.NewCustomers++
			p.NewRevenueMinor = money.SatAdd(p.NewRevenueMinor, info.ValueMinor)
			if len(j.Touches) > 0 { // a conversion event without touches acquired nobody we can name
				first := j.Touches[0]
				r := ch(first.Channel)
				r.NewCustomers++
				r.NewRevenueMinor = money.SatAdd(r.NewRevenueMinor, info.ValueMinor)
				c := cp(campaignKey(first.Channel, first.Campaign))
				c.NewCustomers++
				c.NewRevenueMinor = money.SatAdd(c.NewRevenueMinor, info.ValueMinor)
			}
		} else if converted {
			p.ReturningRevenueMinor = money.SatAdd(p.ReturningRevenueMinor, info.ValueMinor)
		}
		clear(seenCh)
		clear(seenCp)
		for _, t := range j.Touches {
			k := campaignKey(t.Channel, t.Campaign)
			for _, r := range []*ROIRow{ch(t.Channel), cp(k)} {
				isCh := r.Campaign == ""
				if (isCh && seenCh[t.Channel]) || (!isCh && seenCp[k]) {
					continue
				}
				r.JourneysTouched++
				if converted {
					r.JourneysConverted++
					r.touchSum += float64(len(j.Touches))
					r.daysSum += days
					if !info.FirstConversion {
						r.ReturningConversions++
					}
				}
			}
			seenCh[t.Channel], seenCp[k] = true, true
		}
	}
	set, sum, err := BuildJourneys(ctx, db, jo)
	if err != nil {
		return p, fmt.Errorf("roi: %w", err)
	}
	p.Journeys, p.Currency = sum, sum.Currency
	p.Conversions, p.RevenueMinor = sum.Conversions, sum.RevenueMinor
	p.Notes = append(p.Notes, sum.Notes...)
	if convJourneys > 0 {
		p.AvgTouches, p.AvgDaysToConvert = touchSum/convJourneys, daysSum/convJourneys
	}
	scale := math.Pow10(money.Exponent(p.Currency))
	if set.Len() > 0 {
		if m.Name() == "time_decay" && set.Age == nil {
			return p, fmt.Errorf("roi: %w", ErrNeedsTimes)
		}
		res, err := m.AttributeSet(set)
		if err != nil {
			return p, fmt.Errorf("roi: %s: %w", m.Name(), err)
		}
		for _, c := range res.ByChannel {
			r := ch(c.Key)
			r.Conversions, r.RevenueMinor = c.Conversions, c.Value*scale
			p.AttributedRevenue += c.Value * scale
		}
		for _, c := range res.ByCampaign {
			r := cp(campaignKey(c.Channel, c.Key))
			r.Conversions += c.Conversions
			r.RevenueMinor += c.Value * scale
		}
		p.Notes = append(p.Notes, res.Notes...)
	}

	// Spend: channel names match exactly, campaigns case-insensitively.
	rows, err := db.Query(ctx, `SELECT channel, campaign, currency, `+db.SumMinor("amount_minor")+`, `+db.SumMinor("impressions")+`, `+db.SumMinor("clicks")+`
		FROM spend WHERE day >= ? AND day < ? GROUP BY channel, campaign, currency`,
		from.Format(time.DateOnly), to.Format(time.DateOnly)) // days in the range's own time zone
	if err != nil {
		return p, fmt.Errorf("roi: read spend: %w", err)
	}
	defer rows.Close()
	otherCur := map[string]bool{}
	for rows.Next() {
		var channel, campaign, cur string
		var amt, imp, clk int64
		if err := rows.Scan(&channel, &campaign, &cur, &amt, &imp, &clk); err != nil {
			return p, fmt.Errorf("roi: read spend: %w", err)
		}
		if !strings.EqualFold(cur, p.Currency) {
			otherCur[cur] = true
		}
		for _, r := range []*ROIRow{ch(channel), cp(campaignKey(channel, campaign))} {
			r.SpendMinor = money.SatAdd(r.SpendMinor, amt)
			r.Impressions += imp
			r.Clicks += clk
		}
		p.SpendMinor = money.SatAdd(p.SpendMinor, amt)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("roi: read spend: %w", err)
	}
	for c := range otherCur {
		p.Notes = append(p.Notes, fmt.Sprintf("spend in %s was added as if in %s (no exchange rates)", c, p.Currency))
	}

	finish := func(r *ROIRow) {
		r.ROAS, r.ROIPercent = roas(r.RevenueMinor, r.SpendMinor)
		if r.SpendMinor != 0 {
			r.CACMinor = ratio(float64(r.SpendMinor), float64(r.NewCustomers))
		}
		r.ConversionRate = ratio(float64(r.JourneysConverted), float64(r.JourneysTouched))
		if r.JourneysConverted > 0 {
			r.AvgTouches = r.touchSum / float64(r.JourneysConverted)
			r.AvgDaysToConvert = r.daysSum / float64(r.JourneysConverted)
		}
		if p.AttributedRevenue != 0 {
			r.RevenueShare = r.RevenueMinor / p.AttributedRevenue
		}
	}
	for _, r := range chRows {
		finish(r)
		p.Channels = append(p.Channels, *r)
	}
	for _, r := range cpRows {
		finish(r)
		p.Campaigns = append(p.Campaigns, *r)
	}
	sortROI(p.Channels)
	sortROI(p.Campaigns)
	p.ROAS, p.ROIPercent = roas(p.AttributedRevenue, p.SpendMinor)
	p.BlendedCACMinor = ratio(float64(p.SpendMinor), float64(p.NewCustomers))
	vals := make([]float64, len(p.Channels))
	for i, r := range p.Channels {
		vals[i] = r.RevenueMinor
	}
	p.HHI, p.EffectiveChannels = Concentration(vals)
	sort.Strings(p.Notes)
	return p, nil
}

// Concentration returns the Herfindahl–Hirschman index of the positive values' shares
// (1 = everything in one channel) and the effective number of channels 1/HHI. Negative
// credit (shapley_cr) is left out. Zero when nothing is positive.
func Concentration(values []float64) (hhi, effective float64) {
	var tot float64
	for _, v := range values {
		if v > 0 {
			tot += v
		}
	}
	if tot == 0 {
		return 0, 0
	}
	for _, v := range values {
		if v > 0 {
			s := v / tot
			hhi += s * s
		}
	}
	return hhi, 1 / hhi
}

func ratio(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	r := a / b
	return &r
}

func roas(revenue float64, spend int64) (*float64, *float64) {
	if spend == 0 {
		return nil, nil
	}
	r := revenue / float64(spend)
	pct := (revenue - float64(spend)) / float64(spend) * 100
	return &r, &pct
}

// sortROI orders rows by attributed revenue, then spend, then name.
func sortROI(rs []ROIRow) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.RevenueMinor != b.RevenueMinor {
			return a.RevenueMinor > b.RevenueMinor
		}
		if a.SpendMinor != b.SpendMinor {
			return a.SpendMinor > b.SpendMinor
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		return a.Campaign < b.Campaign
	})
}

// RunROI computes the ROI report and writes it as a table, CSV or JSON.
func RunROI(ctx context.Context, db *store.DB, opt ROIOptions, stdout io.Writer) error {
	format := opt.Format
	if format == "" {
		format = "table"
	}
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("roi: unknown format %q (table, csv or json)", format)
	}
	rep, err := ROI(ctx, db, opt)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("roi: write json: %w", err)
		}
		return nil
	case "csv":
		return writeROICSV(stdout, rep)
	}
	return writeROITable(stdout, rep)
}

func fmtOpt(p *float64, format string) string {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return "-"
	}
	return fmt.Sprintf(format, *p)
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

func writeROITable(w io.Writer, rep ROIReport) error {
	cur, prev := rep.Current, rep.Previous
	c := cur.Currency
	fmt.Fprintf(w, "ROI %s to %s (previous: %s to %s), model %s, money in %s\n\n",
		cur.From.Format(time.DateOnly), cur.To.Format(time.DateOnly), prev.From.Format(time.DateOnly), prev.To.Format(time.DateOnly), rep.Model, c)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "channel\tspend\tconversions\trevenue\tROAS\tROI %%\tnew cust.\tCAC\tconv. rate\ttouches\tdays\tprev. spend\tprev. revenue\tprev. ROAS\t\n")
	prevBy := map[string]ROIRow{}
	for _, r := range prev.Channels {
		prevBy[r.Channel] = r
	}
	for _, r := range cur.Channels {
		pr, ok := prevBy[r.Channel]
		ps, prv, pro := "-", "-", "-"
		if ok {
			ps, prv, pro = money.Format(pr.SpendMinor, c), minorStr(pr.RevenueMinor, c), fmtOpt(pr.ROAS, "%.2f")
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t\n", r.Channel, money.Format(r.SpendMinor, c),
			r.Conversions, minorStr(r.RevenueMinor, c), fmtOpt(r.ROAS, "%.2f"), fmtOpt(r.ROIPercent, "%.0f%%"),
			r.NewCustomers, optMinor(r.CACMinor, c), pct(r.ConversionRate), r.AvgTouches, r.AvgDaysToConvert, ps, prv, pro)
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
	fmt.Fprintf(tw, "channel\tcampaign\tspend\tclicks\tconversions\trevenue\tROAS\tnew cust.\tCAC\tconv. rate\t\n")
	for _, r := range cur.Campaigns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f\t%s\t%s\t%d\t%s\t%s\t\n", r.Channel, r.Campaign, money.Format(r.SpendMinor, c), r.Clicks,
			r.Conversions, minorStr(r.RevenueMinor, c), fmtOpt(r.ROAS, "%.2f"), r.NewCustomers, optMinor(r.CACMinor, c), pct(r.ConversionRate))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("roi: write table: %w", err)
	}
	for _, n := range cur.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", rep.Convention)
	return err
}

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**p)
}

// writeROICSV writes one row per period, level (channel or campaign) and key.
func writeROICSV(w io.Writer, rep ROIReport) error {
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
		p    ROIPeriod
	}{{"current", rep.Current}, {"previous", rep.Previous}} {
		c := per.p.Currency
		for _, lvl := range []struct {
			name string
			rows []ROIRow
		}{{"channel", per.p.Channels}, {"campaign", per.p.Campaigns}} {
			for _, r := range lvl.rows {
				cac := ""
				if r.CACMinor != nil {
					cac = minorStr(*r.CACMinor, c)
				}
				rec := []string{per.name, per.p.From.Format(time.DateOnly), per.p.To.Format(time.DateOnly), rep.Model, lvl.name,
					r.Channel, r.Campaign, c, money.Format(r.SpendMinor, c), strconv.FormatInt(r.Impressions, 10), strconv.FormatInt(r.Clicks, 10),
					f(r.Conversions), minorStr(r.RevenueMinor, c), fp(r.ROAS), fp(r.ROIPercent), strconv.FormatInt(r.NewCustomers, 10), cac,
					strconv.FormatInt(r.JourneysTouched, 10), strconv.FormatInt(r.JourneysConverted, 10), fp(r.ConversionRate),
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
