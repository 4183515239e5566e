package goals

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// DependencyWarnShare is the share of revenue one channel may carry before the report
// warns: above it, most of the revenue hangs on one channel.
const DependencyWarnShare = 0.5

// ChannelShare is one channel's revenue in a period.
type ChannelShare struct {
	Channel string  `json:"channel"`
	Revenue float64 `json:"revenue"` // major units of the currency, as credited
	Share   float64 `json:"share"`
}

// Diversification is how revenue is spread over channels in a period.
type Diversification struct {
	From     string         `json:"from"`
	To       string         `json:"to"` // inclusive
	Model    string         `json:"model"`
	Currency string         `json:"currency"`
	Channels []ChannelShare `json:"channels"`
	// HHI is the Herfindahl–Hirschman index, Σ share²: 1 when one channel carries all.
	HHI float64 `json:"hhi"`
	// Diversification is 1 − HHI: 0 for one channel, 1 − 1/n for n equal channels.
	Diversification   float64 `json:"diversification"`
	EffectiveChannels float64 `json:"effective_channels"` // 1 / HHI
	Largest           string  `json:"largest_channel"`
	LargestShare      float64 `json:"largest_share"`
	Warning           string  `json:"warning,omitempty"`
	Text              string  `json:"text"`
}

// Diversify measures how the revenue of from..to (to exclusive, like attribution.ROI) is
// spread over channels. The revenue per channel is attribution.ROI's (the model's credit,
// default last touch: the channel that brought the order), and the index is
// attribution.Concentration, the one the ROI report uses; channels credited nothing or
// less than nothing are left out.
func Diversify(ctx context.Context, db *store.DB, from, to time.Time, model string) (Diversification, error) {
	rep, err := attribution.NewService(db).ROI(ctx, attribution.ROIQuery{From: from, To: to, Model: model})
	if err != nil {
		return Diversification{}, err
	}
	cur := rep.Current
	d := diversify(cur.Channels, cur.Currency)
	d.From, d.To, d.Model = day(cur.From), day(cur.To.AddDate(0, 0, -1)), rep.Model
	return d, nil
}

// diversify computes the index and the words from the ROI rows.
func diversify(rows []attribution.ROIRow, currency string) Diversification {
	d := Diversification{Currency: currency, Channels: []ChannelShare{}}
	vals := make([]float64, 0, len(rows))
	var total float64
	for _, r := range rows {
		if r.RevenueMinor > 0 {
			vals = append(vals, r.RevenueMinor)
			total += r.RevenueMinor
		}
	}
	d.HHI, d.EffectiveChannels = attribution.Concentration(vals)
	if total == 0 {
		d.Text = "No revenue credited to any channel in the period: nothing to measure."
		return d
	}
	d.Diversification = 1 - d.HHI
	scale := math.Pow10(money.Exponent(currency))
	for _, r := range rows { // ROI sorts them by revenue, largest first
		if r.RevenueMinor <= 0 {
			continue
		}
		s := r.RevenueMinor / total
		d.Channels = append(d.Channels, ChannelShare{Channel: r.Channel, Revenue: math.Round(r.RevenueMinor) / scale, Share: s})
		if s > d.LargestShare {
			d.Largest, d.LargestShare = r.Channel, s
		}
	}
	d.Text = fmt.Sprintf("Revenue is spread like %.1f equal channels (diversification %.2f); the largest, %s, carries %s of it.",
		d.EffectiveChannels, d.Diversification, d.Largest, pct(d.LargestShare))
	if d.LargestShare > DependencyWarnShare {
		d.Warning = fmt.Sprintf("%s carries %s of revenue: a change there (prices, a policy, a suspended account) would take most of the revenue with it.",
			d.Largest, pct(d.LargestShare))
	}
	return d
}

func pct(v float64) string { return fmt.Sprintf("%.0f %%", v*100) }
