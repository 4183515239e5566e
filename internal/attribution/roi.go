package attribution

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// DefaultROIModel is the model ROI uses unless told otherwise.
const DefaultROIModel = "last_touch"

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
	PathsTouched         int64    `json:"journeys_touched"`
	PathsConverted       int64    `json:"journeys_converted"`
	ConversionRate       *float64 `json:"conversion_rate"`       // converted / touched
	AvgTouches           float64  `json:"avg_touches"`           // converting paths it touched
	AvgDaysToConvert     float64  `json:"avg_days_to_convert"`   // first touch to conversion, same paths
	NewRevenueMinor      int64    `json:"new_revenue_minor"`     // first orders it acquired (first touch)
	ReturningConversions int64    `json:"returning_conversions"` // conversions of returning customers it touched
}

// ROIPeriod is one date range.
type ROIPeriod struct {
	From                  time.Time `json:"from"`
	To                    time.Time `json:"to"`
	Currency              string    `json:"currency"`
	Channels              []ROIRow  `json:"channels"`
	Campaigns             []ROIRow  `json:"campaigns"`
	SpendMinor            int64     `json:"spend_minor"` // business currency only
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
	Paths                 Summary   `json:"journeys"`
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
	var last *int64
	if err := db.QueryRow(ctx, `SELECT MAX(ts) FROM orders WHERE ts >= ? AND ts <= ?`, lo.UnixMilli(), hi.UnixMilli()).Scan(&last); err != nil {
		return from, to, fmt.Errorf("roi: latest order: %w", err)
	}
	end := time.Now().UTC()
	if last != nil {
		end = time.UnixMilli(*last).UTC()
	}
	to = time.Date(end.Year(), end.Month(), end.Day()+1, 0, 0, 0, 0, time.UTC)
	return to.AddDate(0, 0, -30), to, nil
}

type campKey struct{ channel, campaign string }

// campaignKey is how campaigns match spend: lower-cased, trimmed, empty is "(none)".
func campaignKey(channel, campaign string) campKey {
	c := strings.ToLower(strings.TrimSpace(campaign))
	if c == "" {
		c = "(none)"
	}
	return campKey{channel, c}
}

// pathStat is what the paths of a period say about one channel or campaign, whatever
// the model.
type pathStat struct {
	touched, converted, returning int64
	newCustomers, newRevenue      int64
	touchSum, daysSum             float64
}

// periodStats are a period's model-independent figures per channel and campaign,
// collected while its paths are built.
type periodStats struct {
	ch                                  map[string]*pathStat
	cp                                  map[campKey]*pathStat
	convPaths, touchSum, daysSum        float64
	newCustomers, newRevenue, returning int64
	seenCh                              []*pathStat // this path's channels and campaigns so far
	seenCp                              []*pathStat
	// cpRaw finds a touch's campaign stat by its channel and campaign as the touch has
	// them, so that campaignKey's trimming and lower-casing runs once per distinct pair
	// rather than once per touch (millions at 100,000 people).
	cpRaw map[campKey]*pathStat
}

func newPeriodStats() *periodStats {
	return &periodStats{ch: map[string]*pathStat{}, cp: map[campKey]*pathStat{}, cpRaw: map[campKey]*pathStat{}}
}

// touchCpStat is cpStat(campaignKey(channel, campaign)).
func (ps *periodStats) touchCpStat(channel, campaign string) *pathStat {
	raw := campKey{channel, campaign}
	r := ps.cpRaw[raw]
	if r == nil {
		r = ps.cpStat(campaignKey(channel, campaign))
		ps.cpRaw[raw] = r
	}
	return r
}

func (ps *periodStats) chStat(name string) *pathStat {
	r := ps.ch[name]
	if r == nil {
		r = &pathStat{}
		ps.ch[name] = r
	}
	return r
}

func (ps *periodStats) cpStat(k campKey) *pathStat {
	r := ps.cp[k]
	if r == nil {
		r = &pathStat{}
		ps.cp[k] = r
	}
	return r
}

// add folds one path in (OnPath).
func (ps *periodStats) add(info PathInfo) {
	j := &info.Path
	converted := j.Conversions > 0
	var days float64
	if converted && len(j.Touches) > 0 {
		days = j.ConvertedAt.Sub(j.Touches[0].Time).Hours() / 24
		ps.convPaths++
		ps.touchSum += float64(len(j.Touches))
		ps.daysSum += days
	}
	if converted && info.FirstConversion {
		ps.newCustomers++
		ps.newRevenue = money.SatAdd(ps.newRevenue, info.ValueMinor)
		if len(j.Touches) > 0 { // a conversion event without touches acquired nobody we can name
			first := j.Touches[0]
			for _, r := range []*pathStat{ps.chStat(first.Channel), ps.cpStat(campaignKey(first.Channel, first.Campaign))} {
				r.newCustomers++
				r.newRevenue = money.SatAdd(r.newRevenue, info.ValueMinor)
			}
		}
	} else if converted {
		ps.returning = money.SatAdd(ps.returning, info.ValueMinor)
	}
	// Each channel and campaign counts once per path; a path has a few touches, so the
	// ones seen are found by a scan of their stats (one per key) rather than a map.
	ps.seenCh, ps.seenCp = ps.seenCh[:0], ps.seenCp[:0]
	for _, t := range j.Touches {
		if r := ps.chStat(t.Channel); !slices.Contains(ps.seenCh, r) {
			ps.seenCh = append(ps.seenCh, r)
			r.touch(converted, info.FirstConversion, len(j.Touches), days)
		}
		if r := ps.touchCpStat(t.Channel, t.Campaign); !slices.Contains(ps.seenCp, r) {
			ps.seenCp = append(ps.seenCp, r)
			r.touch(converted, info.FirstConversion, len(j.Touches), days)
		}
	}
}

func (r *pathStat) touch(converted, first bool, touches int, days float64) {
	r.touched++
	if converted {
		r.converted++
		r.touchSum += float64(touches)
		r.daysSum += days
		if !first {
			r.returning++
		}
	}
}

// spendRow is a period's spend of one channel and campaign in the business currency.
type spendRow struct {
	key                         campKey
	amount, impressions, clicks int64
}

// readSpend reads the spend of the days [from, to) (dates in the zone of from and to: UTC
// from the CLI, the business zone when the dashboard passes local midnights) in the
// business currency. Spend in another currency is converted day by day with the stored
// exchange rates (commerce.FX, the conversion every report uses); a day without a usable
// rate is left out, with a note saying how much: money is never added across currencies
// without a rate.
func readSpend(ctx context.Context, db *store.DB, from, to time.Time, currency string) ([]spendRow, []string, error) {
	rows, err := db.Query(ctx, `SELECT day, channel, campaign, currency, `+db.SumMinor("amount_minor")+`, `+db.SumMinor("impressions")+`, `+db.SumMinor("clicks")+`
		FROM spend WHERE day >= ? AND day < ? GROUP BY day, channel, campaign, currency`,
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, nil, fmt.Errorf("read spend: %w", err)
	}
	type rawSpend struct {
		day, cur string
		r        spendRow
	}
	var raw []rawSpend
	foreign := false
	for rows.Next() {
		var channel, campaign string
		var x rawSpend
		if err := rows.Scan(&x.day, &channel, &campaign, &x.cur, &x.r.amount, &x.r.impressions, &x.r.clicks); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read spend: %w", err)
		}
		x.cur = strings.ToUpper(x.cur)
		x.r.key = campaignKey(channel, campaign)
		foreign = foreign || x.cur != strings.ToUpper(currency)
		raw = append(raw, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read spend: %w", err)
	}
	var fx *commerce.FX
	if foreign {
		if fx, err = commerce.LoadFX(ctx, db); err != nil {
			return nil, nil, fmt.Errorf("read spend: %w", err)
		}
	}
	byKey := map[campKey]*spendRow{}
	var keys []campKey
	missing := map[string]int64{}   // currency → amount left out
	converted := map[string]int64{} // currency → amount converted
	for _, x := range raw {
		amt := x.r.amount
		if x.cur != strings.ToUpper(currency) {
			day, err := time.Parse(time.DateOnly, x.day)
			if err != nil {
				return nil, nil, fmt.Errorf("read spend: day %q: %w", x.day, err)
			}
			c, err := fx.Convert(money.Amount{Minor: amt, Currency: x.cur}, day, currency)
			if err != nil {
				missing[x.cur] = money.SatAdd(missing[x.cur], amt)
				continue
			}
			converted[x.cur] = money.SatAdd(converted[x.cur], amt)
			amt = c.Amount.Minor
		}
		r := byKey[x.r.key]
		if r == nil {
			r = &spendRow{key: x.r.key}
			byKey[x.r.key] = r
			keys = append(keys, x.r.key)
		}
		r.amount = money.SatAdd(r.amount, amt)
		r.impressions += x.r.impressions
		r.clicks += x.r.clicks
	}
	out := make([]spendRow, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	var notes []string
	for c, v := range converted {
		notes = append(notes, fmt.Sprintf("spend in %s (%s) is converted to %s with the exchange rate of each day", c, money.Format(v, c), currency))
	}
	for c, v := range missing {
		notes = append(notes, fmt.Sprintf("spend in %s (%s) is left out: no exchange rate to %s for its days", c, money.Format(v, c), currency))
	}
	sort.Strings(notes)
	return out, notes, nil
}

// SpendTotal is a period's ad spend in one currency, summed over channels and campaigns.
type SpendTotal struct {
	Minor int64
	// Notes say how spend in other currencies was converted, or how much was left out
	// for want of an exchange rate (readSpend).
	Notes []string
}

// SpendInPeriod is the spend of the days [from, to) in currency, as every ROI joins it
// (readSpend: other currencies converted day by day, a day without a rate left out with
// a note). Dates are taken in the zone of from and to; a zero from or to leaves that end
// open. The Overview's spend card and attribution's ROI read this one definition.
func SpendInPeriod(ctx context.Context, db *store.DB, from, to time.Time, currency string) (SpendTotal, error) {
	from, to = spendDays(from, to)
	rows, notes, err := readSpend(ctx, db, from, to, currency)
	if err != nil {
		return SpendTotal{}, err
	}
	t := SpendTotal{Notes: notes}
	for _, r := range rows {
		t.Minor = money.SatAdd(t.Minor, r.amount)
	}
	return t, nil
}

// spendDays opens a zero end of a period's spend days: from the first day, or to the last.
func spendDays(from, to time.Time) (time.Time, time.Time) {
	if from.IsZero() {
		from = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if to.IsZero() {
		to = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	return from, to
}

// ROI joins the credit of a model that ran in the period with its spend and path
// figures (docs/attribution.md, "ROI").
func (p *Period) ROI(model string) (ROIPeriod, error) {
	res := p.Result(model)
	if res == nil {
		if why := p.skipReason(model); why != "" {
			return ROIPeriod{}, fmt.Errorf("roi: %s", why)
		}
		if p.Summary.Conversions > 0 {
			return ROIPeriod{}, fmt.Errorf("roi: model %s was not run for this period", model)
		}
	}
	out := ROIPeriod{From: p.From, To: p.To, Currency: p.Currency, Paths: p.Summary,
		Conversions: p.Summary.Conversions, RevenueMinor: p.Summary.RevenueMinor}
	out.Notes = append(out.Notes, p.Summary.Notes...)
	out.Notes = append(out.Notes, p.spendNotes...)
	st := p.stats
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
	fill := func(r *ROIRow, s *pathStat) {
		r.PathsTouched, r.PathsConverted, r.ReturningConversions = s.touched, s.converted, s.returning
		r.NewCustomers, r.NewRevenueMinor = s.newCustomers, s.newRevenue
		if s.converted > 0 {
			r.AvgTouches = s.touchSum / float64(s.converted)
			r.AvgDaysToConvert = s.daysSum / float64(s.converted)
		}
	}
	for name, s := range st.ch {
		fill(ch(name), s)
	}
	for k, s := range st.cp {
		fill(cp(k), s)
	}
	out.NewCustomers, out.NewRevenueMinor, out.ReturningRevenueMinor = st.newCustomers, st.newRevenue, st.returning
	if st.convPaths > 0 {
		out.AvgTouches, out.AvgDaysToConvert = st.touchSum/st.convPaths, st.daysSum/st.convPaths
	}
	scale := math.Pow10(money.Exponent(p.Currency))
	if res != nil {
		for _, c := range res.ByChannel {
			r := ch(c.Key)
			r.Conversions, r.RevenueMinor = c.Conversions, c.Value*scale
			out.AttributedRevenue += c.Value * scale
		}
		for _, c := range res.ByCampaign {
			r := cp(campaignKey(c.Channel, c.Key))
			r.Conversions += c.Conversions
			r.RevenueMinor += c.Value * scale
		}
		out.Notes = append(out.Notes, res.Notes...)
	}
	// Spend: channel names match exactly, campaigns case-insensitively.
	for _, s := range p.spend {
		for _, r := range []*ROIRow{ch(s.key.channel), cp(s.key)} {
			r.SpendMinor = money.SatAdd(r.SpendMinor, s.amount)
			r.Impressions += s.impressions
			r.Clicks += s.clicks
		}
		out.SpendMinor = money.SatAdd(out.SpendMinor, s.amount)
	}
	finish := func(r *ROIRow) {
		r.ROAS, r.ROIPercent = roas(r.RevenueMinor, r.SpendMinor)
		if r.SpendMinor != 0 {
			r.CACMinor = ratio(float64(r.SpendMinor), float64(r.NewCustomers))
		}
		r.ConversionRate = ratio(float64(r.PathsConverted), float64(r.PathsTouched))
		if out.AttributedRevenue != 0 {
			r.RevenueShare = r.RevenueMinor / out.AttributedRevenue
		}
	}
	out.Channels = make([]ROIRow, 0, len(chRows))
	for _, r := range chRows {
		finish(r)
		out.Channels = append(out.Channels, *r)
	}
	out.Campaigns = make([]ROIRow, 0, len(cpRows))
	for _, r := range cpRows {
		finish(r)
		out.Campaigns = append(out.Campaigns, *r)
	}
	sortROI(out.Channels)
	sortROI(out.Campaigns)
	out.ROAS, out.ROIPercent = roas(out.AttributedRevenue, out.SpendMinor)
	out.BlendedCACMinor = ratio(float64(out.SpendMinor), float64(out.NewCustomers))
	vals := make([]float64, len(out.Channels))
	for i, r := range out.Channels {
		vals[i] = r.RevenueMinor
	}
	out.HHI, out.EffectiveChannels = Concentration(vals)
	sort.Strings(out.Notes)
	return out, nil
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
