// Package money holds exact amounts: integer minor units plus an ISO 4217 currency code.
// Sums of money never go through float64.
package money

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Amount is an exact amount of one currency.
type Amount struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// exponents lists currencies whose minor unit is not 1/100 (ISO 4217).
var exponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// Exponent is the number of decimal places of a currency's minor unit.
func Exponent(currency string) int {
	if e, ok := exponents[strings.ToUpper(currency)]; ok {
		return e
	}
	return 2
}

// NormalizeCurrency upper-cases and checks a 3-letter code.
func NormalizeCurrency(c string) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if len(c) != 3 {
		return "", fmt.Errorf("currency %q is not a 3-letter ISO 4217 code", c)
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return "", fmt.Errorf("currency %q is not a 3-letter ISO 4217 code", c)
		}
	}
	return c, nil
}

// ParseDecimal turns a decimal string ("12.5", "-3", "1,234.50", "1e2") into minor units of
// currency. Digits beyond the minor unit are rounded half away from zero.
func ParseDecimal(s, currency string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, ",", "")
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return 0, fmt.Errorf("amount is empty")
	}
	if strings.ContainsAny(s, "eE") {
		// Scientific notation from JSON numbers: rare, exact enough through float64 at this scale.
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("amount %q is not a number", orig)
		}
		return FromFloat(f, currency)
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("amount %q is not a number", orig)
	}
	for _, p := range []string{intPart, frac} {
		for _, r := range p {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("amount %q is not a number", orig)
			}
		}
	}
	exp := Exponent(currency)
	if intPart == "" {
		intPart = "0"
	}
	roundUp := false
	if len(frac) > exp {
		roundUp = frac[exp] >= '5'
		frac = frac[:exp]
	}
	frac += strings.Repeat("0", exp-len(frac))
	// The magnitude as uint64, so that rounding up cannot wrap and -2^63 still fits.
	u, err := strconv.ParseUint(intPart+frac, 10, 64)
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if roundUp && err == nil && u < limit {
		u++
	} else if roundUp {
		err = strconv.ErrRange
	}
	if err != nil || u > limit {
		return 0, fmt.Errorf("amount %q is out of range", orig)
	}
	v := int64(u) // -2^63 when neg and u is 2^63: negating keeps it
	if neg {
		v = -v
	}
	return v, nil
}

// FromFloat converts a float amount to minor units, rounding half away from zero.
func FromFloat(f float64, currency string) (int64, error) {
	scaled := f * math.Pow10(Exponent(currency))
	if math.IsNaN(scaled) || math.Abs(scaled) > 9e15 {
		return 0, fmt.Errorf("amount %v is out of range", f)
	}
	return int64(math.Round(scaled)), nil
}

// FromJSON reads an amount from a JSON value that is a number or a numeric string.
func FromJSON(raw json.RawMessage, currency string) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, fmt.Errorf("amount is missing")
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, fmt.Errorf("amount %s is not a number", s)
		}
		s = str
	}
	return ParseDecimal(s, currency)
}

// Format prints minor units as a plain decimal: 1250 EUR → "12.50".
func Format(minor int64, currency string) string {
	exp := Exponent(currency)
	if exp == 0 {
		return strconv.FormatInt(minor, 10)
	}
	sign := ""
	u := uint64(minor) // the magnitude, as uint64 so that -2^63 has one
	if minor < 0 {
		sign = "-"
		u = -u
	}
	p := uint64(1)
	for range exp {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, u/p, exp, u%p)
}

// Major converts an amount in minor units to major units of the currency as a number:
// 1250 EUR → 12.5, 1250 JPY → 1250, 1250 KWD → 1.25. It is how every JSON answer, CSV
// cell and chart shows money (Format is for text). A fractional amount (a prediction
// such as a CLV, in minor units) is first rounded to whole minor units, so a value
// never shows more digits than its currency has.
func Major[T ~int64 | ~float64](minor T, currency string) float64 {
	v := float64(minor)
	if v != math.Trunc(v) {
		v = math.Round(v)
	}
	return v / math.Pow10(Exponent(currency))
}

func (a Amount) String() string { return Format(a.Minor, a.Currency) + " " + a.Currency }
