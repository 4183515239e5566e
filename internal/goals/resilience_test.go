package goals

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestDiversifyIndex(t *testing.T) {
	t.Parallel()
	d := diversify([]attribution.ROIRow{
		{Channel: "Paid Search", RevenueMinor: 600000},
		{Channel: "Email", RevenueMinor: 300000},
		{Channel: "SMS", RevenueMinor: 100000},
		{Channel: "Paid Social", RevenueMinor: 0, SpendMinor: 5000}, // spend, no revenue: not a channel of revenue
		{Channel: "Odd", RevenueMinor: -100},                        // negative credit is left out
	}, "EUR")
	// Shares 0.6, 0.3, 0.1: HHI 0.36 + 0.09 + 0.01 = 0.46.
	if math.Abs(d.HHI-0.46) > 1e-12 || math.Abs(d.Diversification-0.54) > 1e-12 || d.Largest != "Paid Search" || math.Abs(d.LargestShare-0.6) > 1e-12 {
		t.Fatalf("%+v", d)
	}
	if len(d.Channels) != 3 || d.Channels[0].Revenue != 6000 {
		t.Errorf("channels %+v", d.Channels)
	}
	if !strings.Contains(d.Warning, "Paid Search carries 60 % of revenue") {
		t.Errorf("warning %q", d.Warning)
	}
	even := diversify([]attribution.ROIRow{{Channel: "A", RevenueMinor: 100}, {Channel: "B", RevenueMinor: 100}}, "EUR")
	if even.Warning != "" || math.Abs(even.Diversification-0.5) > 1e-12 || math.Abs(even.EffectiveChannels-2) > 1e-12 {
		t.Errorf("two equal channels: %+v", even)
	}
	if none := diversify(nil, "EUR"); none.Diversification != 0 || none.Warning != "" || !strings.Contains(none.Text, "No revenue") {
		t.Errorf("none: %+v", none)
	}
}

// TestResilienceStore reads the shop's own rates from its journey sends and visits, and
// the revenue per channel through the ROI report.
func TestResilienceStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setSetting(t, db, "currency", "EUR")
		base := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
		ts := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339) }
		var evs []string
		// Ten visitors from Google ads, two buy (€90 each); four from a newsletter, one buys (€20).
		for i := range 14 {
			src := "utm_source=google&utm_medium=cpc"
			if i >= 10 {
				src = "utm_source=newsletter&utm_medium=email"
			}
			evs = append(evs, fmt.Sprintf(`{"type":"page","anonymousId":"a%d","timestamp":%q,"context":{"page":{"url":"https://shop.example/?%s"}}}`, i, ts(time.Duration(i)*time.Hour), src))
			if i == 0 || i == 1 || i == 10 {
				rev := 90
				if i == 10 {
					rev = 20
				}
				evs = append(evs, fmt.Sprintf(`{"type":"track","event":"Order Completed","anonymousId":"a%d","timestamp":%q,"properties":{"order_id":"o%d","revenue":%d,"currency":"EUR"}}`,
					i, ts(time.Duration(i)*time.Hour+5*time.Minute), i, rev))
			}
		}
		identitytest.Load(t, db, "shop", base.Add(24*time.Hour), evs...)
		// Journey sends: 20 emails (8 opened, 2 of them clicked, 1 clicked without an
		// open recorded), 5 text messages (1 clicked); one transactional email and one
		// failed send do not count.
		n := 0
		send := func(ch, purpose, status string, opened, clicked bool) {
			n++
			var o, c int64
			if opened {
				o = base.UnixMilli()
			}
			if clicked {
				c = base.UnixMilli()
			}
			if _, err := db.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, not_before, created_at, sent_at, opened_at, clicked_at)
				VALUES (?, 1, 'welcome', 1, 0, ?, ?, ?, 0, 0, ?, ?, ?)`, fmt.Sprint("k", n), ch, purpose, status, base.Add(time.Hour).UnixMilli(), o, c); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 20 {
			send("email", "marketing", "sent", i < 8, i < 2 || i == 19)
		}
		for i := range 5 {
			send("sms", "marketing", "sent", false, i == 0)
		}
		send("email", "transactional", "sent", true, true)
		send("email", "marketing", "failed", false, false)

		r, err := ResilienceOf(ctx, db, base.Truncate(24*time.Hour), base.Truncate(24*time.Hour).AddDate(0, 0, 2))
		if err != nil {
			t.Fatal(err)
		}
		own := map[string]float64{}
		for _, c := range r.Benchmarks {
			t.Log(c.Text)
			if c.Own != nil {
				own[c.Metric] = *c.Own
			}
		}
		if own["email_open_rate"] != 9.0/20 || own["email_click_rate"] != 3.0/20 || own["sms_click_rate"] != 1.0/5 {
			t.Errorf("own rates %v", own)
		}
		if math.Abs(own["conversion_rate"]-3.0/14) > 1e-9 {
			t.Errorf("conversion %v, want 3 orders over 14 visits", own["conversion_rate"])
		}
		// Text messages without a single click recorded: no rate, and the reason.
		for i := range 3 {
			if _, err := db.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, not_before, created_at, sent_at)
				VALUES (?, 1, 'welcome', 1, 0, 'sms', 'marketing', 'sent', 0, 0, ?)`, fmt.Sprint("late", i), base.AddDate(0, 0, 5).UnixMilli()); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := Compare(ctx, db, base.AddDate(0, 0, 4), base.AddDate(0, 0, 6))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Metric == "sms_click_rate" && (c.Own != nil || !strings.Contains(c.Text, "no opens or clicks recorded")) {
				t.Errorf("sms without clicks: %+v", c)
			}
			if c.Metric == "email_open_rate" && (c.Own != nil || !strings.Contains(c.Text, "no data of the shop's own")) {
				t.Errorf("no emails: %+v", c)
			}
		}
		d := r.Diversification
		t.Log(d.Text, d.Warning)
		if d.Largest != "Paid Search" || math.Abs(d.LargestShare-180.0/200) > 1e-9 || d.Warning == "" {
			t.Errorf("diversification %+v", d)
		}
	})
}
