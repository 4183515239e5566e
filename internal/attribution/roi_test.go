package attribution

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// roiFixture: two days (2026-03-01, 03-02) worked by hand in TestROI.
//
//	A: Paid Search "brand" 03-01 10:00, first order 03-01 10:30, 100.00
//	B: Paid Social "fb" 03-01 12:00, Email "newsletter" 03-02 09:00, first order 03-02 09:30, 60.00
//	C: earlier order 02-20 (so returning), Paid Search "brand" 03-02 14:00, order 14:10, 40.00
//	D: Paid Social "fb" 03-02 16:00, no order
//
// Spend: Paid Search "Brand" 20.00 + "brand" 10.00 (campaigns match case-insensitively),
// Paid Social "fb" 50.00, Email 5.00 (no campaign); previous period Paid Search 7.00.
func roiFixture(t *testing.T, db *store.DB) {
	f := newFixture(t, db)
	f.act(1, at(0, "10:00"), "Home", "Paid Search", "brand")
	f.order("a1", 1, at(0, "10:30"), 10000, "web", "Paid Search")
	f.act(2, at(0, "12:00"), "Home", "Paid Social", "fb")
	f.act(2, at(1, "09:00"), "Home", "Email", "newsletter")
	f.order("b1", 2, at(1, "09:30"), 6000, "web", "Email")
	f.order("c0", 3, at(-9, "10:00"), 3000, "store", "In-store")
	f.act(3, at(1, "14:00"), "Home", "Paid Search", "brand")
	f.order("c1", 3, at(1, "14:10"), 4000, "web", "Paid Search")
	f.act(4, at(1, "16:00"), "Home", "Paid Social", "fb")
	f.spend("2026-03-01", "Paid Search", "Brand", 2000)
	f.spend("2026-03-02", "Paid Search", "brand", 1000)
	f.spend("2026-03-01", "Paid Social", "fb", 5000)
	f.spend("2026-03-02", "Email", "", 500)
	f.spend("2026-02-28", "Paid Search", "brand", 700)
	f.spend("2026-03-03", "Paid Search", "brand", 999999) // after the range
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9*max(1, math.Abs(b)) }

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestROI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		roiFixture(t, db)
		rep, err := NewService(db).ROI(context.Background(), ROIQuery{From: jt0, To: jt0.AddDate(0, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Current
		if rep.Model != "last_touch" || p.SpendMinor != 8500 || p.Conversions != 3 || p.RevenueMinor != 20000 ||
			!approx(p.AttributedRevenue, 20000) || p.NewCustomers != 2 || p.NewRevenueMinor != 16000 || p.ReturningRevenueMinor != 4000 {
			t.Fatalf("period %+v", p)
		}
		if !approx(deref(p.BlendedCACMinor), 4250) || !approx(deref(p.ROAS), 20000.0/8500) || !approx(deref(p.ROIPercent), (20000.0-8500)/8500*100) {
			t.Errorf("blended CAC %v ROAS %v ROI %v", deref(p.BlendedCACMinor), deref(p.ROAS), deref(p.ROIPercent))
		}
		// Revenue shares 0.7 (Paid Search) and 0.3 (Email).
		if !approx(p.HHI, 0.58) || !approx(p.EffectiveChannels, 1/0.58) {
			t.Errorf("HHI %v effective %v", p.HHI, p.EffectiveChannels)
		}
		if !approx(p.AvgTouches, 4.0/3) || !approx(p.AvgDaysToConvert, (0.5+21.5+10.0/60)/24/3) {
			t.Errorf("avg touches %v days %v", p.AvgTouches, p.AvgDaysToConvert)
		}
		by := map[string]ROIRow{}
		for _, r := range p.Channels {
			by[r.Channel] = r
		}
		ps, soc, em := by["Paid Search"], by["Paid Social"], by["Email"]
		if ps.SpendMinor != 3000 || !approx(ps.Conversions, 2) || !approx(ps.RevenueMinor, 14000) || !approx(deref(ps.ROAS), 14000.0/3000) ||
			!approx(deref(ps.ROIPercent), (14000.0-3000)/3000*100) || ps.NewCustomers != 1 || !approx(deref(ps.CACMinor), 3000) ||
			ps.PathsTouched != 2 || ps.PathsConverted != 2 || !approx(deref(ps.ConversionRate), 1) || ps.ReturningConversions != 1 ||
			ps.Impressions != 200 || ps.Clicks != 20 || !approx(ps.RevenueShare, 0.7) {
			t.Errorf("Paid Search %+v", ps)
		}
		if soc.SpendMinor != 5000 || soc.Conversions != 0 || !approx(deref(soc.ROAS), 0) || !approx(deref(soc.ROIPercent), -100) ||
			soc.NewCustomers != 1 || !approx(deref(soc.CACMinor), 5000) || soc.PathsTouched != 2 || !approx(deref(soc.ConversionRate), 0.5) ||
			!approx(soc.AvgTouches, 2) || !approx(soc.AvgDaysToConvert, 21.5/24) {
			t.Errorf("Paid Social %+v", soc)
		}
		if em.SpendMinor != 500 || !approx(em.RevenueMinor, 6000) || !approx(deref(em.ROAS), 12) || !approx(deref(em.ROIPercent), 1100) ||
			em.NewCustomers != 0 || em.CACMinor != nil || !approx(deref(em.ConversionRate), 1) {
			t.Errorf("Email %+v", em)
		}
		camp := map[campKey]ROIRow{}
		for _, r := range p.Campaigns {
			camp[campKey{r.Channel, r.Campaign}] = r
		}
		if b := camp[campKey{"Paid Search", "brand"}]; b.SpendMinor != 3000 || !approx(b.RevenueMinor, 14000) {
			t.Errorf("brand campaign %+v", b)
		}
		if e := camp[campKey{"Email", "(none)"}]; e.SpendMinor != 500 || e.RevenueMinor != 0 {
			t.Errorf("email spend without campaign %+v", e)
		}
		if e := camp[campKey{"Email", "newsletter"}]; !approx(e.RevenueMinor, 6000) || e.SpendMinor != 0 {
			t.Errorf("newsletter %+v", e)
		}
		prev := rep.Previous
		if !prev.From.Equal(jt0.AddDate(0, 0, -2)) || !prev.To.Equal(jt0) || prev.SpendMinor != 700 || prev.Conversions != 0 || prev.ROAS == nil || *prev.ROAS != 0 {
			t.Errorf("previous %+v", prev)
		}

		// Linear splits B's order 50/50 between Paid Social and Email.
		rep, err = NewService(db).ROI(context.Background(), ROIQuery{From: jt0, To: jt0.AddDate(0, 0, 2), Model: "linear"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Current.Channels {
			if r.Channel == "Paid Social" && (!approx(r.RevenueMinor, 3000) || !approx(deref(r.ROAS), 0.6)) {
				t.Errorf("linear Paid Social %+v", r)
			}
		}
		if _, err := NewService(db).ROI(context.Background(), ROIQuery{Model: "all"}); err == nil {
			t.Error("model all accepted")
		}
	})
}

func TestConcentration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v         []float64
		hhi, effN float64
	}{
		{[]float64{1, 1, 1, 1}, 0.25, 4},
		{[]float64{5, 0, -3}, 1, 1},
		{[]float64{3, 1}, 0.625, 1.6},
		{nil, 0, 0},
	} {
		h, e := Concentration(tc.v)
		if !approx(h, tc.hhi) || !approx(e, tc.effN) {
			t.Errorf("Concentration(%v) = %v, %v; want %v, %v", tc.v, h, e, tc.hhi, tc.effN)
		}
	}
}

// Conversion events without any touch are counted but credited to no channel.
func TestROIUntouchedConversionEvent(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	seq := f.act(1, at(0, "09:00"), "Signed Up", "Direct", "(none)")
	f.event(seq, at(0, "09:00"), "Signed Up", `{"properties":{"revenue":3}}`)
	f.act(2, at(0, "09:00"), "Home", "Email", "news")
	seq = f.act(2, at(0, "09:10"), "Signed Up", "Direct", "(none)")
	f.event(seq, at(0, "09:10"), "Signed Up", `{"properties":{"revenue":5}}`)
	rep, err := NewService(db).ROI(context.Background(), ROIQuery{From: jt0, To: jt0.AddDate(0, 0, 1),
		Paths: PathOptions{ConversionEvents: []string{"Signed Up"}}})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Current
	if p.Conversions != 2 || p.NewCustomers != 2 || p.NewRevenueMinor != 800 || p.Paths.Unattributed != 1 ||
		len(p.Channels) != 1 || p.Channels[0].Channel != "Email" || p.Channels[0].NewCustomers != 1 || !approx(p.AvgTouches, 1) {
		t.Errorf("%+v", p)
	}
}

// Spend in another currency is converted with the stored exchange rate of its day; a day
// without a rate is left out with a note, and importing rates changes the report.
func TestROISpendOtherCurrency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		roiFixture(t, db)
		f := newFixture(t, db)
		f.exec(`INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency, impressions, clicks)
			VALUES ('2026-03-01', 'Paid Social', 'fb', 'meta', 1000, 'USD', 0, 0), ('2026-03-02', 'Paid Social', 'fb', 'meta', 1000, 'JPY', 0, 0)`)
		svc := NewService(db)
		q := ROIQuery{From: jt0, To: jt0.AddDate(0, 0, 2)}
		rep, err := svc.ROI(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		social := func(p ROIPeriod) int64 {
			for _, r := range p.Channels {
				if r.Channel == "Paid Social" {
					return r.SpendMinor
				}
			}
			return -1
		}
		if got := social(rep.Current); got != 5000 || !strings.Contains(strings.Join(rep.Current.Notes, "\n"), "spend in USD (10.00) is left out") {
			t.Errorf("without rates: Paid Social spend %d, notes %q", got, rep.Current.Notes)
		}
		// 1 EUR = 1.25 USD: 10.00 USD is 8.00 EUR. 1 EUR = 160 JPY: ¥1000 is 6.25 EUR.
		f.exec(`INSERT INTO fx_rates (base, quote, day, rate) VALUES ('EUR', 'USD', '2026-02-27', '1.25'), ('EUR', 'JPY', '2026-03-02', '160')`)
		rep, err = svc.ROI(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := social(rep.Current); got != 5000+800+625 || rep.Current.SpendMinor != 8500+800+625 {
			t.Errorf("with rates: Paid Social spend %d, total %d, notes %q", got, rep.Current.SpendMinor, rep.Current.Notes)
		}
		if n := strings.Join(rep.Current.Notes, "\n"); !strings.Contains(n, "spend in USD (10.00) is converted to EUR") || strings.Contains(n, "left out") {
			t.Errorf("notes %q", rep.Current.Notes)
		}
	})
}
