package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// MaxMinor bounds one amount: ±10^15 minor units (ten trillion euros). No real order,
// refund or day of spend comes near it; anything beyond is refused where it enters, so
// that sums of real amounts stay far from int64's limit (9.2 × 10^18).
const MaxMinor int64 = 1_000_000_000_000_000

// ErrOutOfRange is returned (wrapped) for an amount beyond ±MaxMinor.
var ErrOutOfRange = errors.New("beyond ±10^15 minor units")

// CheckRange returns an error wrapping ErrOutOfRange when |v| > MaxMinor.
func CheckRange(v int64) error {
	if v > MaxMinor || v < -MaxMinor {
		return fmt.Errorf("amount %d minor units is %w", v, ErrOutOfRange)
	}
	return nil
}

// Add returns a + b and whether it fits in an int64 (no overflow).
func Add(a, b int64) (int64, bool) {
	s := a + b
	// Overflow when both operands have the sign the sum lacks.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return s, false
	}
	return s, true
}

// Sub returns a - b and whether it fits in an int64.
func Sub(a, b int64) (int64, bool) {
	if b == math.MinInt64 {
		if a >= 0 {
			return 0, false
		}
		return a - b, true
	}
	return Add(a, -b)
}

// Mul returns a × b and whether it fits in an int64.
func Mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2^63 fits
	}
	if hi != 0 || lo > limit {
		return 0, false
	}
	if neg {
		return -int64(lo), true
	}
	return int64(lo), true
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// SatAdd is a + b, held at math.MaxInt64 or math.MinInt64 instead of wrapping around:
// report totals use it, so that no sum of positive amounts turns negative.
func SatAdd(a, b int64) int64 {
	s, ok := Add(a, b)
	if ok {
		return s
	}
	if a > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// SatSub is a - b, saturating like SatAdd.
func SatSub(a, b int64) int64 {
	s, ok := Sub(a, b)
	if ok {
		return s
	}
	if a >= 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// SatMul is a × b, saturating like SatAdd.
func SatMul(a, b int64) int64 {
	p, ok := Mul(a, b)
	if ok {
		return p
	}
	if (a < 0) != (b < 0) {
		return math.MinInt64
	}
	return math.MaxInt64
}

// Sum adds amounts with SatAdd.
func Sum(vs ...int64) int64 {
	var s int64
	for _, v := range vs {
		s = SatAdd(s, v)
	}
	return s
}

// CheckDecimal reads a decimal amount as ParseDecimal does and tells whether it is a
// number at all (numeric) and, if so, whether it lies within ±MaxMinor (err == nil).
// Text that is not a number is not money: numeric is false and err nil.
func CheckDecimal(s, currency string) (minor int64, numeric bool, err error) {
	v, perr := ParseDecimal(s, currency)
	if perr == nil {
		return v, true, CheckRange(v)
	}
	t := strings.TrimPrefix(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), "+")
	if f, ferr := strconv.ParseFloat(t, 64); ferr == nil || errors.Is(ferr, strconv.ErrRange) {
		if math.IsNaN(f) {
			return 0, false, nil
		}
		return 0, true, fmt.Errorf("amount %s is %w", s, ErrOutOfRange)
	}
	return 0, false, nil
}
