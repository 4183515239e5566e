package money

import (
	"math"
	"testing"
)

func TestDisplay(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
		whole    string
	}{
		{123456, "EUR", "€1,234.56", "€1,235"},
		{1235, "JPY", "¥1,235", "¥1,235"},
		{1234500, "KWD", "1,234.500 KWD", "1,235 KWD"},
		{-500, "EUR", "−€5.00", "−€5"},
		{-49, "EUR", "−€0.49", "€0"},
		{0, "USD", "$0.00", "$0"},
		{123456789012, "USD", "$1,234,567,890.12", "$1,234,567,890"},
		{100, "CHF", "1.00 CHF", "1 CHF"},
		{math.MinInt64, "JPY", "−¥9,223,372,036,854,775,808", "−¥9,223,372,036,854,775,808"},
	} {
		if got := Display(c.minor, c.currency); got != c.want {
			t.Errorf("Display(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
		if got := DisplayWhole(c.minor, c.currency); got != c.whole {
			t.Errorf("DisplayWhole(%d, %s) = %q, want %q", c.minor, c.currency, got, c.whole)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", math.MinInt64: "-9,223,372,036,854,775,808"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
