package goals

import (
	"context"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// Benchmark is a public industry figure with its source. These are broad averages over
// many businesses of every size and kind, measured each publisher's own way: a rough
// reference, not a target for one shop.
type Benchmark struct {
	Metric string  `json:"metric"` // email_open_rate, email_click_rate, sms_click_rate, conversion_rate
	Label  string  `json:"label"`
	Value  float64 `json:"value"`          // a rate (0.2133 for 21.33 %); the middle of the range when there is one
	Low    float64 `json:"low,omitempty"`  // a range's ends, when the source gives a range
	High   float64 `json:"high,omitempty"` //
	Scope  string  `json:"scope"`          // what the figure averages over
	Source string  `json:"source"`         // publisher and report
	Year   int     `json:"year"`           // of the data
	URL    string  `json:"url"`
	Note   string  `json:"note,omitempty"`
}

// Benchmarks are the figures shown beside the shop's own. docs/budget.md ("Industry
// benchmarks") lists them with their sources.
var Benchmarks = []Benchmark{
	{Metric: "email_open_rate", Label: "Email open rate", Value: 0.2133, Scope: "average over all industries, campaigns to 1,000 or more subscribers",
		Source: "Mailchimp, Email Marketing Benchmarks by Industry", Year: 2019, URL: "https://mailchimp.com/resources/email-marketing-benchmarks/",
		Note: "Opens are counted by a tracking image; since Apple's Mail Privacy Protection (2021) they are inflated, so compare clicks first."},
	{Metric: "email_click_rate", Label: "Email click rate", Value: 0.0262, Scope: "average over all industries, campaigns to 1,000 or more subscribers",
		Source: "Mailchimp, Email Marketing Benchmarks by Industry", Year: 2019, URL: "https://mailchimp.com/resources/email-marketing-benchmarks/"},
	{Metric: "sms_click_rate", Label: "SMS click rate", Value: 0.09, Low: 0.07, High: 0.11, Scope: "average SMS campaign click rate by industry, second quarter: under 7 % (health and beauty) to almost 11 % (toys and hobbies)",
		Source: "Klaviyo, SMS industry benchmarks (announcement)", Year: 2022, URL: "https://www.klaviyo.com/blog/sms-benchmarks"},
	{Metric: "conversion_rate", Label: "Store conversion rate (orders per visit)", Value: 0.0258, Scope: "global e-commerce average across devices, second quarter",
		Source: "Monetate, Ecommerce Quarterly (as cited by VWO, eCommerce Conversion Rate Benchmarks)", Year: 2019, URL: "https://vwo.com/blog/ecommerce-conversion-rate/",
		Note: "Publishers measure visits differently; the usual range quoted is 1 % to 4 %."},
}

// Comparison is a benchmark beside the shop's own value, when omniroi has one.
type Comparison struct {
	Benchmark
	Own   *float64 `json:"own"`             // null: omniroi has no such data for the shop
	Basis string   `json:"basis,omitempty"` // what the own value is computed from ("1,204 emails sent")
	Text  string   `json:"text"`
}

// Compare puts the shop's own rates for from..to (to exclusive) beside the benchmarks:
//
//   - email open and click rates: marketing emails the journeys sent in the period (a send
//     counts as opened once opened or clicked, as the mail webhooks record it), over sent;
//   - SMS click rate: marketing text messages sent, clicked over sent;
//   - conversion rate: online orders (web, app, or no place given) over visits, the visits
//     being the sessions attribution builds (30 minutes without activity, or a new
//     campaign, starts one);
//   - a channel whose sends have not one open or click recorded has no rate: its
//     tracking is off, and 0 % would blame the messages.
func Compare(ctx context.Context, db *store.DB, from, to time.Time) ([]Comparison, error) {
	own := map[string]*float64{}
	basis := map[string]string{}
	for _, ch := range []string{"email", "sms"} {
		var sent, opened, clicked int64
		if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN opened_at > 0 OR clicked_at > 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN clicked_at > 0 THEN 1 ELSE 0 END), 0)
			FROM journey_sends WHERE channel = ? AND purpose = 'marketing' AND status = 'sent' AND sent_at >= ? AND sent_at < ?`,
			ch, from.UnixMilli(), to.UnixMilli()).Scan(&sent, &opened, &clicked); err != nil {
			return nil, fmt.Errorf("benchmarks: %s sends: %w", ch, err)
		}
		if sent == 0 {
			continue
		}
		b := fmt.Sprintf("%s marketing %s sent by journeys", money.Count(sent), map[string]string{"email": "emails", "sms": "text messages"}[ch])
		if opened == 0 && clicked == 0 {
			// Not one open or click: the tracking is off (or the provider's webhooks are
			// not connected), which a rate of 0 % would hide.
			basis[ch+"_click_rate"] = b + ", no opens or clicks recorded (is tracking on?)"
			if ch == "email" {
				basis["email_open_rate"] = basis[ch+"_click_rate"]
			}
			continue
		}
		c := float64(clicked) / float64(sent)
		own[ch+"_click_rate"], basis[ch+"_click_rate"] = &c, b
		if ch == "email" {
			o := float64(opened) / float64(sent)
			own["email_open_rate"], basis["email_open_rate"] = &o, b
		}
	}
	visits, err := attribution.NewService(db).Analyze(ctx, attribution.Query{From: from, To: to,
		Paths: attribution.PathOptions{Lookback: time.Millisecond}, Models: []string{attribution.DefaultROIModel}})
	if err != nil {
		return nil, fmt.Errorf("benchmarks: visits: %w", err)
	}
	sum := visits.Current.Summary
	// Orders online: a visit cannot end in a sale in the shop or on the phone.
	var online int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM orders WHERE ts >= ? AND ts < ? AND location IN (?, ?, '')`,
		from.UnixMilli(), to.UnixMilli(), commerce.Web, commerce.App).Scan(&online); err != nil {
		return nil, fmt.Errorf("benchmarks: online orders: %w", err)
	}
	if sum.Sessions > 0 {
		c := float64(online) / float64(sum.Sessions)
		own["conversion_rate"] = &c
		basis["conversion_rate"] = fmt.Sprintf("%s online orders over %s visits", money.Count(online), money.Count(sum.Sessions))
	}
	out := make([]Comparison, 0, len(Benchmarks))
	for _, b := range Benchmarks {
		c := Comparison{Benchmark: b, Own: own[b.Metric], Basis: basis[b.Metric]}
		c.Text = compareText(c)
		out = append(out, c)
	}
	return out, nil
}

// rate writes a rate as a percentage with the precision it deserves.
func rate(v float64) string {
	if v < 0.1 {
		return fmt.Sprintf("%.1f %%", v*100)
	}
	return fmt.Sprintf("%.0f %%", v*100)
}

// BenchmarkValue writes the benchmark's figure: "21.3 %" or "7–11 %".
func (b Benchmark) BenchmarkValue() string {
	if b.High > 0 {
		return fmt.Sprintf("%.0f–%.0f %%", b.Low*100, b.High*100)
	}
	if b.Value < 0.1 {
		return fmt.Sprintf("%.2f %%", b.Value*100)
	}
	return fmt.Sprintf("%.1f %%", b.Value*100)
}

func compareText(c Comparison) string {
	ref := fmt.Sprintf("the industry average is %s (%s, %d)", c.BenchmarkValue(), c.Source, c.Year)
	if c.Own == nil {
		if c.Basis != "" {
			return fmt.Sprintf("%s: no rate here (%s); %s.", c.Label, c.Basis, ref)
		}
		return fmt.Sprintf("%s: no data of the shop's own; %s.", c.Label, ref)
	}
	v := *c.Own
	word := "about the same as"
	lo, hi := c.Value, c.Value
	if c.High > 0 {
		lo, hi = c.Low, c.High
	}
	switch {
	case v > hi*1.2:
		word = "above"
	case v < lo/1.2:
		word = "below"
	}
	return fmt.Sprintf("%s: %s here (%s), %s the broad industry average of %s (%s, %d).", c.Label, rate(v), c.Basis, word, c.BenchmarkValue(), c.Source, c.Year)
}

// Resilience is the diversification and the benchmarks of one period.
type Resilience struct {
	From            string          `json:"from"`
	To              string          `json:"to"` // inclusive
	Diversification Diversification `json:"diversification"`
	Benchmarks      []Comparison    `json:"benchmarks"`
	Note            string          `json:"note"`
}

// BenchmarkNote says what the benchmarks are.
const BenchmarkNote = "Benchmarks are broad industry averages over many businesses of every size and kind, each measured its publisher's way: a rough reference, not a target."

// ResilienceOf measures from..to (to exclusive; both zero: the 30 days up to the latest
// order, as the ROI report does).
func ResilienceOf(ctx context.Context, db *store.DB, from, to time.Time) (Resilience, error) {
	if from.IsZero() || to.IsZero() {
		f, t, err := attribution.DefaultROIRange(ctx, db)
		if err != nil {
			return Resilience{}, err
		}
		if from.IsZero() {
			from = f
		}
		if to.IsZero() {
			to = t
		}
	}
	if !from.Before(to) {
		return Resilience{}, fmt.Errorf("from %s is not before to %s", day(from), day(to))
	}
	d, err := Diversify(ctx, db, from, to, "")
	if err != nil {
		return Resilience{}, err
	}
	b, err := Compare(ctx, db, from, to)
	if err != nil {
		return Resilience{}, err
	}
	return Resilience{From: day(from), To: day(to.AddDate(0, 0, -1)), Diversification: d, Benchmarks: b, Note: BenchmarkNote}, nil
}
