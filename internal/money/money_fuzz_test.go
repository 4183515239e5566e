package money

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
)

var fuzzCurrencies = []string{"EUR", "JPY", "KWD", "usd", "X", ""}

// exactMinor is s in minor units of cur, rounded half away from zero, computed with
// big.Rat: the reference for ParseDecimal's plain decimals. ok is false when s is not
// one ("+", commas and exponents are ParseDecimal's own conveniences).
func exactMinor(s, cur string) (v *big.Int, ok bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits == "." || strings.Count(digits, ".") > 1 ||
		strings.IndexFunc(digits, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) >= 0 {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(digits)
	if !ok {
		return nil, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(Exponent(cur))), nil)))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Mul(m, big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q, true
}

// FuzzParseDecimal: an accepted amount is exactly the decimal rounded to the currency's
// minor unit, formats back to a decimal that parses to the same amount, and reads the
// same from JSON; an amount beyond int64 is refused, never wrapped.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"12.50", "-3", "1,234.56", "0.005", "0.004", "1500", "1.2345", ".5", "1e2", "+7", "-0.00",
		"92233720368547758.07", "92233720368547758.075", "-92233720368547758.08", "9223372036854775807", "1e400", "-", "1.2.3", "12a"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, c uint8) {
		cur := fuzzCurrencies[int(c)%len(fuzzCurrencies)]
		v, err := ParseDecimal(s, cur)
		want, exact := exactMinor(s, cur)
		if err != nil {
			if exact && want.IsInt64() {
				t.Fatalf("ParseDecimal(%q, %q) refused %v: %v", s, cur, want, err)
			}
			return
		}
		if exact && (!want.IsInt64() || want.Int64() != v) {
			t.Fatalf("ParseDecimal(%q, %q) = %d, exactly %v", s, cur, v, want)
		}
		out := Format(v, cur)
		back, err := ParseDecimal(out, cur)
		if err != nil || back != v {
			t.Fatalf("ParseDecimal(%q, %q) = %d formats as %q, which reads back as %d (%v)", s, cur, v, out, back, err)
		}
		if js, err := FromJSON(json.RawMessage(`"`+out+`"`), cur); err != nil || js != v {
			t.Fatalf("FromJSON(%q) = %d, %v; want %d", out, js, err, v)
		}
	})
}

// FuzzFormat: every amount formats to a decimal that reads back as the same amount, as a
// JSON number too.
func FuzzFormat(f *testing.F) {
	for _, v := range []int64{0, 1, -1, 1250, -5, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 999999999999999} {
		f.Add(v, uint8(0))
		f.Add(v, uint8(1))
		f.Add(v, uint8(2))
	}
	f.Fuzz(func(t *testing.T, v int64, c uint8) {
		cur := fuzzCurrencies[int(c)%len(fuzzCurrencies)]
		out := Format(v, cur)
		if !json.Valid([]byte(out)) {
			t.Fatalf("Format(%d, %q) = %q, not a JSON number", v, cur, out)
		}
		back, err := FromJSON(json.RawMessage(out), cur)
		if err != nil || back != v {
			t.Fatalf("Format(%d, %q) = %q reads back as %d (%v)", v, cur, out, back, err)
		}
	})
}
