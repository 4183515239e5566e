package identity

import (
	"strings"
	"unicode"
)

// Identifier kinds.
const (
	KindUserID      = "user_id"
	KindAnonymousID = "anonymous_id"
	KindEmail       = "email"
	KindPhone       = "phone"
)

// placeholders are values SDKs and tills send when they have no identifier. They must
// never link two people: a "null" userId would merge every visitor into one customer.
var placeholders = map[string]bool{
	"": true, "null": true, "nil": true, "undefined": true, "none": true, "n/a": true, "na": true,
	"unknown": true, "anonymous": true, "anon": true, "guest": true, "0": true, "-1": true,
	"nan": true, "[object object]": true, "false": true, "true": true, "{}": true, "[]": true,
	"-": true, "--": true, "?": true, "test": true, "user": true, "default": true, "(none)": true,
	"(not set)": true, "not set": true, "notset": true, "empty": true, "blank": true, "x": true,
	"00000000-0000-0000-0000-000000000000": true,
}

// placeholderEmails are addresses people type into forms to get past them.
var placeholderEmails = map[string]bool{
	"test@test.com": true, "test@example.com": true, "noreply@example.com": true, "no@email.com": true,
	"none@none.com": true, "na@na.com": true, "email@email.com": true, "a@a.com": true, "x@x.com": true,
	"asdf@asdf.com": true, "example@example.com": true, "user@example.com": true, "no-reply@example.com": true,
	"noemail@noemail.com": true, "nomail@nomail.com": true, "test@test.de": true, "info@example.com": true,
}

// IsPlaceholder reports whether v is a value that only looks like an identifier.
func IsPlaceholder(v string) bool {
	t := strings.ToLower(strings.TrimSpace(v))
	if placeholders[t] {
		return true
	}
	// "0000", "-----": one repeated character is not an identifier.
	if len(t) > 0 {
		same := true
		for i := 1; i < len(t); i++ {
			if t[i] != t[0] {
				same = false
				break
			}
		}
		if same && (t[0] == '0' || t[0] == '-' || t[0] == 'x' || t[0] == '*' || t[0] == '.') {
			return true
		}
	}
	return false
}

// NormalizeID trims an id and returns "" for placeholders.
func NormalizeID(v string) string {
	v = strings.TrimSpace(v)
	if IsPlaceholder(v) {
		return ""
	}
	return v
}

// NormalizeEmail lower-cases and trims an address and returns "" when it is not a
// plausible email (one @, a dot in the domain, no spaces) or a known placeholder.
func NormalizeEmail(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	v = strings.TrimPrefix(v, "mailto:")
	if len(v) < 6 || len(v) > 254 || IsPlaceholder(v) || placeholderEmails[v] {
		return ""
	}
	at := strings.IndexByte(v, '@')
	if at <= 0 || at != strings.LastIndexByte(v, '@') {
		return ""
	}
	local, domain := v[:at], v[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot >= len(domain)-2 || strings.Contains(domain, "..") || strings.HasPrefix(domain, "-") {
		return ""
	}
	for _, r := range v {
		if unicode.IsSpace(r) || r == ',' || r == ';' || r == '<' || r == '>' || r == '"' {
			return ""
		}
	}
	if IsPlaceholder(local) && (domain == "example.com" || domain == "test.com" || domain == "email.com") {
		return ""
	}
	return v
}

// NormalizePhone turns a phone number into "+" and digits (E.164-like): separators are
// dropped, a leading 00 becomes +. Numbers without a country code keep their digits
// (the business is usually in one country, so they still match each other). Fewer than
// 6 or more than 15 digits, or all one digit, is not a phone number.
func NormalizePhone(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	plus := strings.HasPrefix(v, "+")
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/' || r == '+':
		default:
			return "" // letters, extensions: not something we can match reliably
		}
	}
	d := b.String()
	if !plus && strings.HasPrefix(d, "00") {
		d, plus = d[2:], true
	}
	if len(d) < 6 || len(d) > 15 {
		return ""
	}
	same := true
	for i := 1; i < len(d); i++ {
		if d[i] != d[0] {
			same = false
			break
		}
	}
	if same || d == "123456" || d == "1234567" || d == "12345678" || d == "123456789" || d == "1234567890" {
		return ""
	}
	if plus {
		return "+" + d
	}
	return d
}
