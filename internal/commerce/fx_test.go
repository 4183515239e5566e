package commerce_test

import (
	"errors"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFXConvert(t *testing.T) {
	t.Parallel()
	fx, err := commerce.NewFX([]commerce.Rate{
		{Base: "EUR", Quote: "USD", Day: "2024-03-08", Rate: "1.0939"},
		{Base: "EUR", Quote: "USD", Day: "2024-03-04", Rate: "1.0854"},
		{Base: "EUR", Quote: "JPY", Day: "2024-03-08", Rate: "160.56"},
		{Base: "EUR", Quote: "GBP", Day: "2024-03-08", Rate: "0.85105"},
		{Base: "USD", Quote: "CAD", Day: "2024-03-08", Rate: "1.3469"},
	}, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		amount    money.Amount
		day, to   string
		want      int64
		rateDay   string
		via       string
		converted bool
	}{
		{"same currency", money.Amount{Minor: 12345, Currency: "EUR"}, "2024-03-08", "EUR", 12345, "", "", false},
		// 100 EUR × 1.0939 = 109.39 USD
		{"direct", money.Amount{Minor: 10000, Currency: "EUR"}, "2024-03-08", "USD", 10939, "2024-03-08", "", true},
		// 100 USD / 1.0939 = 91.4160... EUR → 91.42
		{"inverse", money.Amount{Minor: 10000, Currency: "USD"}, "2024-03-08", "EUR", 9142, "2024-03-08", "", true},
		// a Sunday uses Friday's rate; the Wednesday before uses Monday's
		{"weekend", money.Amount{Minor: 10000, Currency: "USD"}, "2024-03-10", "EUR", 9142, "2024-03-08", "", true},
		{"midweek gap", money.Amount{Minor: 10000, Currency: "USD"}, "2024-03-06", "EUR", 9213, "2024-03-04", "", true},
		// 100 USD → GBP across EUR: 100 × 0.85105 / 1.0939 = 77.7996 → 77.80
		{"cross", money.Amount{Minor: 10000, Currency: "USD"}, "2024-03-08", "GBP", 7780, "2024-03-08", "EUR", true},
		// JPY has no minor unit: 10 EUR × 160.56 = 1605.6 → 1606 yen
		{"to zero-decimal currency", money.Amount{Minor: 1000, Currency: "EUR"}, "2024-03-08", "JPY", 1606, "2024-03-08", "", true},
		// 1606 yen / 160.56 = 10.0025 EUR → 10.00
		{"from zero-decimal currency", money.Amount{Minor: 1606, Currency: "JPY"}, "2024-03-08", "EUR", 1000, "2024-03-08", "", true},
		// a file with another base: CAD per USD
		{"other base", money.Amount{Minor: 10000, Currency: "USD"}, "2024-03-08", "CAD", 13469, "2024-03-08", "", true},
		// CAD → EUR goes across USD: 100 / 1.3469 / 1.0939 = 67.87
		{"cross through second base", money.Amount{Minor: 10000, Currency: "CAD"}, "2024-03-08", "EUR", 6787, "2024-03-08", "USD", true},
		{"negative (refund)", money.Amount{Minor: -10000, Currency: "USD"}, "2024-03-08", "EUR", -9142, "2024-03-08", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := fx.Convert(c.amount, day(c.day), c.to)
			if err != nil {
				t.Fatal(err)
			}
			if got.Amount.Minor != c.want || got.Amount.Currency != c.to || got.RateDay != c.rateDay || got.Via != c.via || got.Converted != c.converted {
				t.Fatalf("got %+v, want %d %s on %s via %q", got, c.want, c.to, c.rateDay, c.via)
			}
		})
	}

	for _, c := range []struct {
		name   string
		amount money.Amount
		day    string
		to     string
		reason string
	}{
		{"unknown currency", money.Amount{Minor: 100, Currency: "CHF"}, "2024-03-08", "EUR", "the stored rates do not include CHF"},
		{"before the first rate", money.Amount{Minor: 100, Currency: "USD"}, "2024-02-01", "EUR", "the rates for USD start on 2024-03-04"},
		{"past the gap", money.Amount{Minor: 100, Currency: "USD"}, "2024-03-16", "EUR", "the latest rate for USD is of 2024-03-08, more than 7 days earlier (setting fx.max_gap_days)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := fx.Convert(c.amount, day(c.day), c.to)
			var nr *commerce.NoRateError
			if !errors.As(err, &nr) || !errors.Is(err, commerce.ErrNoRate) || nr.Reason != c.reason {
				t.Fatalf("err = %v, want reason %q", err, c.reason)
			}
		})
	}
	empty, _ := commerce.NewFX(nil, 7)
	if _, err := empty.Convert(money.Amount{Minor: 1, Currency: "USD"}, day("2024-03-08"), "EUR"); !errors.Is(err, commerce.ErrNoRate) {
		t.Fatalf("empty table: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	if _, _, err := commerce.ParseRate("eur", "usd", "2024-03-08", " 1.0939 "); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][4]string{
		{"EUR", "EUR", "2024-03-08", "1"},
		{"EUR", "USD", "2024-03-08", "0"},
		{"EUR", "USD", "2024-03-08", "1e3"},
		{"EUR", "USD", "08/03/2024", "1.1"},
		{"EURO", "USD", "2024-03-08", "1.1"},
	} {
		if _, _, err := commerce.ParseRate(bad[0], bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("ParseRate%v: no error", bad)
		}
	}
}

// BenchmarkFXConvert: one conversion across EUR (a cross rate) with 250 days of rates.
func BenchmarkFXConvert(b *testing.B) {
	var rates []commerce.Rate
	start := day("2024-01-01")
	for i := range 250 {
		d := start.AddDate(0, 0, i).Format(time.DateOnly)
		rates = append(rates, commerce.Rate{Base: "EUR", Quote: "USD", Day: d, Rate: "1.0939"}, commerce.Rate{Base: "EUR", Quote: "GBP", Day: d, Rate: "0.85105"})
	}
	fx, err := commerce.NewFX(rates, 7)
	if err != nil {
		b.Fatal(err)
	}
	at := day("2024-06-01")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fx.Convert(money.Amount{Minor: 12345, Currency: "USD"}, at, "GBP"); err != nil {
			b.Fatal(err)
		}
	}
}
