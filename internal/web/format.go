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

// formatMoney prints minor units with thousands separators: 123456 EUR → "€1,234.56".
func formatMoney(minor int64, currency string) string { return money.Display(minor, currency) }

// formatMoneyShort rounds to whole units for cards: "€12,346".
func formatMoneyShort(minor int64, currency string) string {
	return money.DisplayWhole(minor, currency)
}

// formatInt prints a count with thousands separators.
func formatInt(n int64) string {
	if n < 0 {
		return money.Minus + money.GroupDigits(strconv.FormatUint(uint64(-n), 10))
	}
	return money.Count(n)
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
