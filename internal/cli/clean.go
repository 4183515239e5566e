package cli

import (
	"strconv"
	"strings"
	"unicode"
)

// Clean makes a stored value safe to print on a terminal: control characters (escape
// sequences that could rewrite the screen or the title, carriage returns, bells) are shown
// as \xNN or \u{NNNN} instead of being sent to the terminal. Tabs and newlines are escaped
// too, since they would break table columns.
func Clean(s string) string {
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 && unicode.IsControl(r):
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			b.WriteString(`\u{`)
			b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
			b.WriteString(`}`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
