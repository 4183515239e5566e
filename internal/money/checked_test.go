package money

import (
	"errors"
	"math"
	"testing"
)

func TestCheckedArithmetic(t *testing.T) {
	for _, c := range []struct {
		a, b    int64
		add     int64
		addOK   bool
		mul     int64
		mulOK   bool
		satAdd  int64
		satSub  int64
		subOK   bool
		satMult int64
	}{
		{2, 3, 5, true, 6, true, 5, -1, true, 6},
		{math.MaxInt64, 1, math.MinInt64, false, math.MaxInt64, true, math.MaxInt64, math.MaxInt64 - 1, true, math.MaxInt64},
		{math.MinInt64, -1, math.MaxInt64, false, 0, false, math.MinInt64, math.MinInt64 + 1, true, math.MaxInt64},
		{MaxMinor, 9300, MaxMinor + 9300, true, 0, false, MaxMinor + 9300, MaxMinor - 9300, true, math.MaxInt64},
		{-MaxMinor, 9300, -MaxMinor + 9300, true, 0, false, -MaxMinor + 9300, -MaxMinor - 9300, true, math.MinInt64},
		{0, math.MinInt64, math.MinInt64, true, 0, true, math.MinInt64, math.MaxInt64, false, 0},
		{-1, math.MinInt64, math.MaxInt64, false, 0, false, math.MinInt64, math.MaxInt64, true, math.MaxInt64},
		{math.MinInt64, 1, math.MinInt64 + 1, true, math.MinInt64, true, math.MinInt64 + 1, math.MinInt64, false, math.MinInt64},
	} {
		if s, ok := Add(c.a, c.b); ok != c.addOK || (ok && s != c.add) {
			t.Errorf("Add(%d, %d) = %d, %v", c.a, c.b, s, ok)
		}
		if p, ok := Mul(c.a, c.b); ok != c.mulOK || (ok && p != c.mul) {
			t.Errorf("Mul(%d, %d) = %d, %v", c.a, c.b, p, ok)
		}
		if s := SatAdd(c.a, c.b); s != c.satAdd {
			t.Errorf("SatAdd(%d, %d) = %d, want %d", c.a, c.b, s, c.satAdd)
		}
		if s := SatSub(c.a, c.b); s != c.satSub {
			t.Errorf("SatSub(%d, %d) = %d, want %d", c.a, c.b, s, c.satSub)
		}
		if _, ok := Sub(c.a, c.b); ok != c.subOK {
			t.Errorf("Sub(%d, %d) ok = %v", c.a, c.b, ok)
		}
		if p := SatMul(c.a, c.b); p != c.satMult {
			t.Errorf("SatMul(%d, %d) = %d, want %d", c.a, c.b, p, c.satMult)
		}
	}
	// 10,000 orders at the limit: the sum saturates, it never turns negative.
	var s int64
	for range 10_000 {
		s = SatAdd(s, MaxMinor)
	}
	if s != math.MaxInt64 {
		t.Fatalf("sum of 10,000 × 10^15 = %d", s)
	}
}

func TestCheckDecimal(t *testing.T) {
	for _, c := range []struct {
		in      string
		numeric bool
		inRange bool
	}{
		{"12.50", true, true},
		{"10000000000000.00", true, true}, // 10^15 cents
		{"10000000000000.01", true, false},
		{"-10000000000000.01", true, false},
		{"99999999999999999999", true, false},
		{"1e300", true, false},
		{"1e400", true, false},
		{"hello", false, true},
		{"", false, true},
	} {
		_, numeric, err := CheckDecimal(c.in, "EUR")
		if numeric != c.numeric || (err == nil) != c.inRange || (err != nil && !errors.Is(err, ErrOutOfRange)) {
			t.Errorf("CheckDecimal(%q) numeric %v err %v; want numeric %v in range %v", c.in, numeric, err, c.numeric, c.inRange)
		}
	}
}
