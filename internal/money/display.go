package money

import (
	"strconv"
	"strings"
)

// symbols are written before amounts; other currencies get their code after the number.
var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}

// Minus is the sign Display writes before a negative amount (U+2212, as typeset text has it).
const Minus = "−"

// GroupDigits puts thousands separators into a run of decimal digits: "1234567" → "1,234,567".
func GroupDigits(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	pre := len(digits) % 3
	if pre > 0 {
		b.WriteString(digits[:pre])
	}
	for i := pre; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// Count writes a whole number with thousands separators and an ASCII minus: 1234567 → "1,234,567".
func Count(n int64) string {
	if n < 0 {
		u := uint64(-n) // -2^63 has its magnitude as uint64
		return "-" + GroupDigits(strconv.FormatUint(u, 10))
	}
	return GroupDigits(strconv.FormatInt(n, 10))
}

// WithCurrency puts a currency's symbol before a formatted number, or its code after it,
// and Minus in front when neg: ("1,234.50", false, "EUR") → "€1,234.50"; ("5", true,
// "CHF") → "−5 CHF". An empty currency leaves the number bare.
func WithCurrency(num string, neg bool, currency string) string {
	if sym, ok := symbols[currency]; ok {
		num = sym + num
	} else if currency != "" {
		num += " " + currency
	}
	if neg {
		num = Minus + num
	}
	return num
}

// Display writes minor units for people, with the currency's own decimals, thousands
// separators and its symbol or code: 123456 EUR → "€1,234.56", 1235 JPY → "¥1,235",
// 1234500 KWD → "1,234.500 KWD", -500 EUR → "−€5.00".
func Display(minor int64, currency string) string {
	s := Format(minor, currency)
	neg := strings.HasPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	out := GroupDigits(intPart)
	if hasFrac {
		out += "." + frac
	}
	return WithCurrency(out, neg, currency)
}

// DisplayWhole rounds minor units to whole units of the currency (half away from zero)
// and writes them as Display does: 1234567 EUR → "€12,346".
func DisplayWhole(minor int64, currency string) string {
	p := uint64(1)
	for range Exponent(currency) {
		p *= 10
	}
	u := uint64(minor)
	neg := minor < 0
	if neg {
		u = -u
	}
	whole := (u + p/2) / p
	return WithCurrency(GroupDigits(strconv.FormatUint(whole, 10)), neg && whole != 0, currency)
}
