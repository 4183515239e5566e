package importer

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/channel"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// spendRow is one row of the spend table.
type spendRow struct {
	Day, Channel, Campaign, Platform, Currency string
	AmountMinor, Impressions, Clicks           int64
	line                                       int
}

type spendKey struct{ day, channel, campaign, platform string }

// spendPreset says where an ad platform's export keeps each spend field.
type spendPreset struct {
	name        string
	platform    string // default platform
	day         []string
	dayEnd      []string // a range end (Meta's "Reporting ends"), spread evenly over the days
	channel     []string
	campaign    []string
	campType    []string // campaign type → channel (Google Ads)
	platformCol []string
	amount      []string // in currency units
	micros      []string // in millionths of the currency (Google Ads API)
	currency    []string
	impressions []string
	clicks      []string
	defChannel  string
	// skipNoCampaign: a row without a campaign is the export's summary of all campaigns.
	skipNoCampaign bool
}

var genericSpend = &spendPreset{
	platform:    "manual",
	day:         []string{"date", "day"},
	channel:     []string{"channel"},
	campaign:    []string{"campaign", "campaign_name"},
	platformCol: []string{"platform"},
	amount:      []string{"amount", "spend", "cost"},
	micros:      []string{"cost_micros", "amount_micros"},
	currency:    []string{"currency", "currency_code"},
	impressions: []string{"impressions"},
	clicks:      []string{"clicks"},
}

// googleAdsSpend reads a Google Ads campaign report: the UI's download ("Day", "Campaign",
// "Campaign type", "Currency code", "Cost" in currency units, title lines above the header
// and "Total: ..." lines below) or an API/GAQL export ("segments.date", "campaign.name",
// "campaign.advertising_channel_type", "metrics.cost_micros" in millionths).
var googleAdsSpend = &spendPreset{
	name:        "google-ads",
	platform:    "google_ads",
	day:         []string{"day", "date", "segments_date"},
	campaign:    []string{"campaign", "campaign_name"},
	campType:    []string{"campaign_type", "advertising_channel_type", "campaign_advertising_channel_type"},
	amount:      []string{"cost"},
	micros:      []string{"cost_micros", "metrics_cost_micros", "cost_micro"},
	currency:    []string{"currency_code", "currency", "customer_currency_code"},
	impressions: []string{"impressions", "impr", "metrics_impressions"},
	clicks:      []string{"clicks", "metrics_clicks"},
	defChannel:  channel.PaidSearch,
}

// metaAdsSpend reads a Meta (Facebook) Ads Manager export: "Campaign name", "Day" (with a
// daily breakdown) or "Reporting starts"/"Reporting ends", "Amount spent (EUR)" with the
// currency in the header, "Impressions", "Link clicks".
var metaAdsSpend = &spendPreset{
	name:           "meta-ads",
	platform:       "meta_ads",
	day:            []string{"day", "date", "reporting_starts"},
	dayEnd:         []string{"reporting_ends"},
	campaign:       []string{"campaign_name", "campaign"},
	amount:         []string{"amount_spent", "spend"},
	currency:       []string{"currency"},
	impressions:    []string{"impressions"},
	clicks:         []string{"link_clicks", "clicks_all", "clicks"},
	defChannel:     channel.PaidSocial,
	skipNoCampaign: true,
}

// googleAdsChannel maps a campaign type to omniroi's channel (GA4's names).
func googleAdsChannel(t string) string {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(t)), "_", " ") {
	case "display":
		return channel.Display
	case "shopping":
		return channel.PaidShopping
	case "video":
		return channel.PaidVideo
	case "performance max", "local", "smart shopping":
		return channel.CrossNetwork
	case "demand gen", "discovery":
		return channel.Display
	case "app", "multi channel", "hotel", "travel":
		return channel.PaidOther
	}
	return channel.PaidSearch // search, smart, and an absent type
}

// platformChannel is the channel of a generic spend row whose channel column is empty.
func platformChannel(platform string) string {
	switch strings.ToLower(strings.ReplaceAll(platform, " ", "_")) {
	case "google_ads", "google", "adwords", "bing_ads", "microsoft_ads":
		return channel.PaidSearch
	case "meta_ads", "meta", "facebook", "facebook_ads", "instagram", "tiktok", "tiktok_ads", "pinterest", "linkedin":
		return channel.PaidSocial
	}
	return ""
}

// spendConverter sums spend rows per (day, channel, campaign, platform): ad-set or ad
// level exports have several rows per campaign and day.
type spendConverter struct {
	p          *spendPreset
	opt        Options
	agg        map[spendKey]*spendRow
	order      []spendKey
	hdrCur     string // currency named in the amount column's header ("Amount spent (EUR)")
	amountKey  string // the header key holding the amount, once known
	micros     bool
	headerSeen bool
}

func newSpendConverter(opt Options) (*spendConverter, error) {
	p := genericSpend
	switch opt.Preset {
	case "":
	case "google-ads":
		p = googleAdsSpend
	case "meta-ads":
		p = metaAdsSpend
	case "shopify", "online-retail":
		return nil, fmt.Errorf("--preset %s is an orders export: use omniroi import orders", opt.Preset)
	default:
		return nil, fmt.Errorf("unknown spend preset %q: want google-ads or meta-ads", opt.Preset)
	}
	return &spendConverter{p: p, opt: opt, agg: map[spendKey]*spendRow{}}, nil
}

var headerCurrency = regexp.MustCompile(`^(amount_spent|spend|cost|amount)_([a-z]{3})$`)

// isHeader finds the header under any title lines: it names a day and an amount.
func (c *spendConverter) isHeader(keys map[string]int) bool {
	hasDay := false
	for _, k := range c.p.day {
		if _, ok := keys[k]; ok {
			hasDay = true
		}
	}
	return hasDay && c.findAmount(keys)
}

func (c *spendConverter) findAmount(keys map[string]int) bool {
	for _, k := range c.p.micros {
		if _, ok := keys[k]; ok {
			c.amountKey, c.micros = k, true
			return true
		}
	}
	for _, k := range c.p.amount {
		if _, ok := keys[k]; ok {
			c.amountKey = k
			return true
		}
	}
	for k := range keys {
		if m := headerCurrency.FindStringSubmatch(k); m != nil {
			c.amountKey, c.hdrCur = k, strings.ToUpper(m[2])
			return true
		}
	}
	return false
}

func (c *spendConverter) wantsObjects() bool     { return true }
func (c *spendConverter) setup(int64, time.Time) {}
func (c *spendConverter) flush(func(*unit))      {}
func (c *spendConverter) rows() []spendRow {
	out := make([]spendRow, 0, len(c.order))
	for _, k := range c.order {
		out = append(out, *c.agg[k])
	}
	return out
}

func (c *spendConverter) add(r *row, emit func(*unit)) bool {
	if r.hdr == nil {
		if r.obj == nil {
			emit(&unit{rows: []*row{r}, err: rowErr(r, "", "not a JSON object")})
			return true
		}
		if c.amountKey == "" {
			keys := make(map[string]int, len(r.obj))
			for k := range r.obj {
				keys[k] = 0
			}
			c.findAmount(keys)
		}
	}
	fail := func(e *RowError) bool {
		emit(&unit{rows: []*row{r}, err: e})
		return true
	}
	dayRaw, dayCol := r.get(c.p.day...)
	day, derr := parseTime(dayRaw)
	if dayRaw == "" || derr != nil {
		if isFooter(r) {
			return false
		}
	}
	if dayRaw == "" {
		return fail(rowErr(r, c.p.day[0], "date is empty"))
	}
	if derr != nil {
		return fail(rowErr(r, dayCol, "%v", derr))
	}
	days, e := c.rowDays(r, day, dayRaw, dayCol)
	if e != nil {
		return fail(e)
	}
	cur, curCol, e := c.rowCurrency(r)
	if e != nil {
		return fail(e)
	}
	amount, e := c.rowAmount(r, cur)
	if e != nil {
		return fail(e)
	}
	counts, e := c.rowCounts(r)
	if e != nil {
		return fail(e)
	}
	campaign, _ := r.get(c.p.campaign...)
	if campaign == "" && c.p.skipNoCampaign {
		emit(&unit{rows: []*row{r}, skipped: true}) // a summary row of all campaigns
		return true
	}
	platform, _ := r.get(c.p.platformCol...)
	if platform == "" {
		platform = c.p.platform
	}
	ch, e := c.rowChannel(r, platform)
	if e != nil {
		return fail(e)
	}
	if e := c.spread(r, days, spendKey{"", ch, campaign, platform}, cur, curCol, amount, counts); e != nil {
		return fail(e)
	}
	return true
}

// rowDays are the days a row covers: its own, or with a reporting range (Meta without a
// daily breakdown) every day of the range.
func (c *spendConverter) rowDays(r *row, day time.Time, dayRaw, dayCol string) ([]time.Time, *RowError) {
	days := []time.Time{day}
	// A range only when the row has no day of its own (Meta without a daily breakdown).
	endRaw, endCol := r.get(c.p.dayEnd...)
	if endRaw == "" || normKey(dayCol) != "reporting_starts" {
		return days, nil
	}
	end, err := parseTime(endRaw)
	if err != nil {
		return nil, rowErr(r, endCol, "%v", err)
	}
	if end.Before(day) {
		return nil, rowErr(r, endCol, "ends (%s) before it starts (%s)", endRaw, dayRaw)
	}
	if end.Sub(day) >= maxRangeDays*24*time.Hour {
		return nil, rowErr(r, endCol, "the range %s to %s is longer than the %d days Meta reports at most; export with a daily breakdown instead", dayRaw, endRaw, maxRangeDays)
	}
	for d := day.AddDate(0, 0, 1); !d.After(end); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days, nil
}

// rowCurrency is the row's currency: its currency column, else the one in the amount
// column's header, else --currency. It also gives the column it came from.
func (c *spendConverter) rowCurrency(r *row) (string, string, *RowError) {
	cur, curCol := r.get(c.p.currency...)
	switch {
	case cur != "":
		v, err := normCurrency(cur)
		if err != nil {
			return "", curCol, rowErr(r, curCol, "%v", err)
		}
		return v, curCol, nil
	case c.hdrCur != "":
		return c.hdrCur, curCol, nil
	case c.opt.Currency != "":
		return c.opt.Currency, curCol, nil
	}
	return "", curCol, rowErr(r, "currency", "no currency: add a currency column or pass --currency")
}

// rowAmount is the row's spend in minor units of cur: from micros (Google Ads API) or an
// amount ("--" and empty are 0). Spend is never negative.
func (c *spendConverter) rowAmount(r *row, cur string) (int64, *RowError) {
	if c.amountKey == "" {
		return 0, rowErr(r, "amount", "no amount column (amount, spend or cost)")
	}
	amtRaw, amtCol, _ := r.lookup(c.amountKey)
	var amount int64
	if c.micros {
		m, err := parseCount(amtRaw)
		if err != nil {
			return 0, rowErr(r, amtCol, "%q is not a whole number of micros", amtRaw)
		}
		amount = microsToMinor(m, cur)
	} else {
		if amtRaw == "--" || amtRaw == "" {
			amtRaw = "0"
		}
		v, err := parseAmount(amtRaw, cur)
		if err != nil {
			return 0, rowErr(r, amtCol, "%v", err)
		}
		amount = v
	}
	if amount < 0 {
		return 0, rowErr(r, amtCol, "spend %q is negative", amtRaw)
	}
	return amount, nil
}

// rowCounts are the row's impressions and clicks, counts that are never negative.
func (c *spendConverter) rowCounts(r *row) ([2]int64, *RowError) {
	var counts [2]int64
	for i, keys := range [][]string{c.p.impressions, c.p.clicks} {
		v, col := r.get(keys...)
		n, err := parseCount(v)
		if err != nil {
			return counts, rowErr(r, col, "%v", err)
		}
		if n < 0 {
			return counts, rowErr(r, col, "%q is negative: impressions and clicks are counts", v)
		}
		counts[i] = n
	}
	return counts, nil
}

// rowChannel is the row's channel: its channel column, else from the campaign type
// (Google Ads), else the preset's, else the one the platform implies.
func (c *spendConverter) rowChannel(r *row, platform string) (string, *RowError) {
	ch, chCol := r.get(c.p.channel...)
	switch {
	case ch != "":
	case len(c.p.campType) > 0:
		t, _ := r.get(c.p.campType...)
		ch = googleAdsChannel(t)
	case c.p.defChannel != "":
		ch = c.p.defChannel
	default:
		if ch = platformChannel(platform); ch == "" {
			if chCol == "" {
				chCol = "channel"
			}
			return "", rowErr(r, chCol, "channel is empty (and platform %q does not imply one)", platform)
		}
	}
	return ch, nil
}

// spread adds a row's figures to the day, channel, campaign and platform totals, evenly
// over its days (the remainder goes to the first days). A day already added in another
// currency, or totals beyond the range of amounts, refuse the row from that day on.
func (c *spendConverter) spread(r *row, days []time.Time, key spendKey, cur, curCol string, amount int64, counts [2]int64) *RowError {
	n := int64(len(days))
	for i, d := range days {
		part := func(v int64) int64 {
			q := v / n
			if int64(i) < v%n {
				q++
			}
			return q
		}
		k := key
		k.day = d.Format("2006-01-02")
		if s, ok := c.agg[k]; ok {
			if s.Currency != cur {
				return rowErr(r, curCol, "currency %s differs from %s at line %d for the same day and campaign", cur, s.Currency, s.line)
			}
			sum, ok := money.Add(s.AmountMinor, part(amount))
			if !ok || money.CheckRange(sum) != nil {
				return rowErr(r, "amount", "the rows for %s, %s, %q add up beyond ±10^15 minor units", k.day, k.channel, k.campaign)
			}
			s.AmountMinor = sum
			s.Impressions = money.SatAdd(s.Impressions, part(counts[0]))
			s.Clicks = money.SatAdd(s.Clicks, part(counts[1]))
			continue
		}
		c.agg[k] = &spendRow{Day: k.day, Channel: k.channel, Campaign: k.campaign, Platform: k.platform, Currency: cur,
			AmountMinor: part(amount), Impressions: part(counts[0]), Clicks: part(counts[1]), line: r.line}
		c.order = append(c.order, k)
	}
	return nil
}

// maxRangeDays bounds a reporting range spread over days: Ads Manager reports at most
// 37 months, and a longer range in a file is a typo that would make a row per day.
const maxRangeDays = 37 * 31

// isFooter recognises report totals ("Total: Account", "Total: Campaigns").
func isFooter(r *row) bool {
	found := false
	r.each(func(_, _, v string) {
		if strings.HasPrefix(strings.ToLower(v), "total") {
			found = true
		}
	})
	return found
}

// microsToMinor converts millionths of a currency unit to minor units, rounding half up.
func microsToMinor(m int64, cur string) int64 {
	f := int64(1)
	for i := money.Exponent(cur); i < 6; i++ {
		f *= 10
	}
	if m < 0 {
		return -((-m + f/2) / f)
	}
	return (m + f/2) / f
}

type spendResult struct{ changed, same int }

// upsertSpend writes spend rows; a row whose values are already stored is left alone and
// counted as the same, so a re-import reports duplicates rather than updates.
func upsertSpend(ctx context.Context, tx *store.Tx, rows []spendRow, from string) (spendResult, error) {
	var res spendResult
	q := `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency, impressions, clicks, imported_from)
		VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (day, channel, campaign, platform) DO UPDATE SET amount_minor = excluded.amount_minor,
			currency = excluded.currency, impressions = excluded.impressions, clicks = excluded.clicks,
			imported_from = excluded.imported_from
		WHERE spend.amount_minor <> excluded.amount_minor OR spend.currency <> excluded.currency
			OR spend.impressions <> excluded.impressions OR spend.clicks <> excluded.clicks`
	stmt, err := tx.Tx.PrepareContext(ctx, store.Rebind(tx.Dialect, q))
	if err != nil {
		return res, fmt.Errorf("prepare spend upsert: %w", err)
	}
	defer stmt.Close()
	for _, s := range rows {
		r, err := stmt.ExecContext(ctx, s.Day, s.Channel, s.Campaign, s.Platform, s.AmountMinor, s.Currency, s.Impressions, s.Clicks, from)
		if err != nil {
			return res, fmt.Errorf("upsert spend %s %s %q: %w", s.Day, s.Channel, s.Campaign, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return res, err
		}
		if n > 0 {
			res.changed++
		} else {
			res.same++
		}
	}
	return res, nil
}
