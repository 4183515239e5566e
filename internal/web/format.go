package web

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/workspace"
)

// symbols are shown before amounts; other currencies get their code after the number.
var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}

// formatMoney prints minor units with thousands separators: 123456 EUR → "€1,234.56".
func formatMoney(minor int64, currency string) string {
	s := money.Format(minor, currency)
	neg := strings.HasPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	out := groupThousands(intPart)
	if hasFrac {
		out += "." + frac
	}
	return withCurrency(out, neg, currency)
}

// formatMoneyShort rounds to whole units for cards: "€12,346".
func formatMoneyShort(minor int64, currency string) string {
	p := int64(math.Pow10(money.Exponent(currency)))
	neg := minor < 0
	if neg {
		minor = -minor
	}
	whole := (minor + p/2) / p
	return withCurrency(groupThousands(strconv.FormatInt(whole, 10)), neg && whole != 0, currency)
}

func withCurrency(num string, neg bool, currency string) string {
	if sym, ok := symbols[currency]; ok {
		num = sym + num
	} else {
		num += " " + currency
	}
	if neg {
		num = "−" + num
	}
	return num
}

func groupThousands(digits string) string {
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

// formatInt prints a count with thousands separators.
func formatInt(n int64) string {
	if n < 0 {
		return "−" + groupThousands(strconv.FormatInt(-n, 10))
	}
	return groupThousands(strconv.FormatInt(n, 10))
}

// change describes a value against the previous period: "+12.5%", or "" when there is
// nothing to compare with.
func change(cur, prev int64) (text string, up bool) {
	if prev == 0 {
		if cur == 0 {
			return "no change", true
		}
		return "new", true
	}
	pct := float64(cur-prev) / math.Abs(float64(prev)) * 100
	sign := "+"
	if pct < 0 {
		sign = "−"
	}
	return fmt.Sprintf("%s%.1f%%", sign, math.Abs(pct)), pct >= 0
}

func formatTime(ms int64, loc *time.Location) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).In(loc).Format("2006-01-02 15:04")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// The business settings the dashboard reads on every request (cheap primary-key
// lookups), through the workspace accessor like every other surface.
func (s *server) businessCurrency(ctx context.Context) (string, error) {
	return workspace.Currency(ctx, s.db)
}

// location is the business time zone, UTC when it cannot be read.
func (s *server) location(ctx context.Context) *time.Location {
	loc, err := workspace.Location(ctx, s.db)
	if err != nil {
		return time.UTC
	}
	return loc
}

func formatDate(ms int64, loc *time.Location) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).In(loc).Format("2 Jan 2006")
}

// oneWord reports whether a table cell's text is short (a date and time, an id, a
// slug): such cells never wrap, not even at a hyphen ("2026-03-" over "09"); longer
// text is marked class="text" by the table template and wraps between words.
func oneWord(s string) bool {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "":
		return false
	case n <= 16, n <= 24 && s[0] >= '0' && s[0] <= '9': // a date and time, an amount
		return true
	}
	return n <= 32 && !strings.ContainsAny(s, " \t\n")
}
