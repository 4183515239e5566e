package demo

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// SpendRow is one day × channel × campaign of spend, as the spend importer reads it.
type SpendRow struct {
	Date        string
	Channel     string
	Campaign    string
	Platform    string
	AmountMinor int64
	Impressions int64
	Clicks      int64
	lever       Lever
}

// Spend derives the world's spend from its simulated clicks and sends. Ad campaigns are
// limited by their daily budget, as a small advertiser's usually are: over the year a
// campaign costs its clicks times its cost per click, and the platform paces that money
// over the days in proportion to the campaign's budget level (flight.go), with ±10 %
// day-to-day auction noise; impressions follow the money, clicks are what the day's
// shoppers did. So a day's ad spend is what the advertiser decided, not a trace of the
// day's demand. Messages cost a per-send fee, and the email platform a monthly plan.
func (s *Summary) Spend() []SpendRow {
	w, t := s.w, s.tally
	var rows []SpendRow
	daily := w.pacedSpend(t)
	for d, dy := range w.days {
		date := dy.date.Format("2006-01-02")
		for _, l := range paidLevers {
			i := levIndex(l)
			c := campaignOf(l)
			n := int64(t.clicks[d][i])
			amount := daily[d][i]
			if amount == 0 && n == 0 {
				continue
			}
			imp := int64(math.Round(float64(amount) / (float64(c.CPCMinor) * c.CTR) * (0.9 + 0.2*w.u(uint32(1<<30)+uint32(i), d, sBrowse))))
			rows = append(rows, SpendRow{date, c.Channel, c.Campaign, c.Platform, amount, max(imp, n), n, l})
		}
		email := campaignOf(LevEmail)
		if n := int64(t.emailSends[d]); n > 0 {
			rows = append(rows, SpendRow{date, email.Channel, dy.email, email.Platform, (n*email.SendMinor + 50) / 100, n, 0, LevEmail})
		}
		if n := int64(t.cartSends[d]); n > 0 {
			rows = append(rows, SpendRow{date, email.Channel, "cart-reminder", email.Platform, (n*email.SendMinor + 50) / 100, n, 0, LevEmail})
		}
		if dy.date.Day() == 1 {
			// Monthly plan, sized to the list: EUR 59 at the default 20,000 people.
			fee := max(1500, int64(5900*float64(w.cfg.Customers)/DefaultCustomers))
			rows = append(rows, SpendRow{date, email.Channel, "(platform fee)", email.Platform, fee, 0, 0, LevEmail})
		}
		sms := campaignOf(LevSMS)
		if n := int64(t.smsSends[d]); n > 0 {
			rows = append(rows, SpendRow{date, sms.Channel, dy.sms, sms.Platform, (n*sms.SendMinor + 50) / 100, n, 0, LevSMS})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Date != b.Date {
			return a.Date < b.Date
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		return a.Campaign < b.Campaign
	})
	return rows
}

// WriteSpendCSV writes rows in the spend importer's columns.
func WriteSpendCSV(w io.Writer, rows []SpendRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"date", "channel", "campaign", "platform", "amount", "currency", "impressions", "clicks"}); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Date, r.Channel, r.Campaign, r.Platform, string(appendMoney(nil, r.AmountMinor)), "EUR",
			strconv.FormatInt(r.Impressions, 10), strconv.FormatInt(r.Clicks, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write spend csv: %w", err)
	}
	return nil
}

// WriteGoogleAdsCSV writes the google_ads rows as the Google Ads UI's campaign report
// (title lines, then Day, Campaign, Campaign type, Currency code, Cost, ...), the layout
// the importer's google-ads preset reads.
func WriteGoogleAdsCSV(w io.Writer, rows []SpendRow, start, end string) error {
	if _, err := fmt.Fprintf(w, "Campaign report\n%q\n", start+" - "+end); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"Day", "Campaign", "Campaign state", "Campaign type", "Currency code", "Cost", "Impressions", "Clicks", "Avg. CPC"})
	for _, r := range rows {
		if r.Platform != "google_ads" {
			continue
		}
		cpc := "0.00"
		if r.Clicks > 0 {
			cpc = string(appendMoney(nil, (r.AmountMinor+r.Clicks/2)/r.Clicks))
		}
		_ = cw.Write([]string{r.Date, r.Campaign, "Enabled", "Search", "EUR", string(appendMoney(nil, r.AmountMinor)),
			strconv.FormatInt(r.Impressions, 10), strconv.FormatInt(r.Clicks, 10), cpc})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write google ads csv: %w", err)
	}
	return nil
}

// WriteMetaAdsCSV writes the meta_ads rows as an Ads Manager export with a daily
// breakdown (and the totals row Ads Manager puts first), the layout of the meta-ads preset.
func WriteMetaAdsCSV(w io.Writer, rows []SpendRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"Campaign name", "Ad set name", "Day", "Delivery status", "Impressions", "Amount spent (EUR)", "Link clicks", "Reporting starts", "Reporting ends"})
	var tot, imp, clicks int64
	first, last := "", ""
	for _, r := range rows {
		if r.Platform == "meta_ads" {
			tot, imp, clicks = tot+r.AmountMinor, imp+r.Impressions, clicks+r.Clicks
			if first == "" {
				first = r.Date
			}
			last = r.Date
		}
	}
	_ = cw.Write([]string{"", "", "", "", strconv.FormatInt(imp, 10), string(appendMoney(nil, tot)), strconv.FormatInt(clicks, 10), first, last})
	for _, r := range rows {
		if r.Platform != "meta_ads" {
			continue
		}
		adset := "Local 25-55"
		if r.Campaign == "fb-retargeting" {
			adset = "Site visitors 14 days"
		}
		_ = cw.Write([]string{r.Campaign, adset, r.Date, "active", strconv.FormatInt(r.Impressions, 10), string(appendMoney(nil, r.AmountMinor)),
			strconv.FormatInt(r.Clicks, 10), r.Date, r.Date})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write meta ads csv: %w", err)
	}
	return nil
}

// adCost is what n clicks of lever index i cost on day d: the campaign's cost per click
// with the day's auction noise (±15 %).
func (w *world) adCost(i, d int, n int64) int64 {
	c := campaignOf(Lever(1 << i))
	noise := 0.85 + 0.3*w.u(uint32(1<<30)+uint32(i), d, sBasket)
	return int64(math.Round(float64(n*c.CPCMinor) * noise))
}

// pacedSpend spreads each paid campaign's cost for the year (clicks × cost per click)
// over the days in proportion to its budget level and the day's auction noise; the
// amounts add up to the campaign's cost exactly.
func (w *world) pacedSpend(t *tally) [][levCount]int64 {
	out := make([][levCount]int64, len(w.days))
	for _, l := range paidLevers {
		i := levIndex(l)
		var total int64
		weights := make([]float64, len(w.days))
		var wsum float64
		for d := range w.days {
			total += w.adCost(i, d, int64(t.clicks[d][i]))
			weights[d] = w.lv(l, d) * (0.9 + 0.2*w.u(uint32(1<<30)+uint32(i), d, sCakeBasket))
			wsum += weights[d]
		}
		if wsum == 0 || total == 0 {
			continue
		}
		var given int64
		var acc float64
		for d := range w.days {
			acc += weights[d]
			upto := int64(math.Round(float64(total) * acc / wsum))
			out[d][i] = upto - given
			given = upto
		}
	}
	return out
}
