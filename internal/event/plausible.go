package event

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
)

// What cannot be true is refused where it enters (the API, imports), so that no stored
// event can make a report loop over centuries or a sum overflow. The reading code bounds
// itself the same way for events stored before these checks existed (MinTime, ...).
const (
	// DefaultMaxFuture is how far ahead of the server's clock a timestamp may be
	// (setting limits.max_future): device clocks drift, a day covers every time zone.
	DefaultMaxFuture = 24 * time.Hour
	// MaxTraitKeys bounds the keys of one traits object (traits, context.traits); the
	// rest are dropped and the reply says so.
	MaxTraitKeys = 256
	// MaxProfileBytes bounds a customer's merged traits; the identity processor drops
	// keys that would grow a profile past it.
	MaxProfileBytes = 64 << 10
)

// MinTime is the earliest event time accepted: 1990-01-01 UTC, before any web shop or
// till that could send an event.
var MinTime = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// Plausible reports whether t is an event time that could be true at now: not before
// MinTime, not more than maxFuture ahead (maxFuture 0: DefaultMaxFuture).
func Plausible(t, now time.Time, maxFuture time.Duration) bool {
	if maxFuture <= 0 {
		maxFuture = DefaultMaxFuture
	}
	return !t.Before(MinTime) && !t.After(now.Add(maxFuture))
}

// checkTime refuses an event time that cannot be true.
func (in *Input) checkTime(ts time.Time, field string) error {
	now := in.Now
	if now.IsZero() {
		now = in.ReceivedAt
	}
	maxFuture := in.MaxFuture
	if maxFuture <= 0 {
		maxFuture = DefaultMaxFuture
	}
	switch {
	case ts.Before(MinTime):
		return reject(field, "%s is before 1990-01-01: no event can be that old", FormatTime(ts))
	case ts.After(now.Add(maxFuture)):
		return reject(field, "%s is more than %s ahead of the server's clock (%s): the sender's clock or data is wrong (setting limits.max_future)",
			FormatTime(ts), formatDuration(maxFuture), FormatTime(now))
	}
	return nil
}

func formatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))*24) + " h"
	}
	return d.String()
}

// moneyKeys are the properties that hold amounts in the Segment e-commerce spec.
var moneyKeys = [...]string{"revenue", "total", "value", "amount", "price", "subtotal", "shipping", "tax", "discount"}

// quotedMoneyKeys are moneyKeys as they appear in JSON, for a cheap first test.
var quotedMoneyKeys = func() [][]byte {
	out := make([][]byte, len(moneyKeys))
	for i, k := range moneyKeys {
		out[i] = []byte(`"` + k + `"`)
	}
	return out
}()

// checkMoney refuses amounts beyond ±money.MaxMinor in a track call's properties: the
// order-level amounts, each product's price, price × quantity and their sum. Values that
// are not numbers are left to the processor (which skips such orders, counted).
func checkMoney(props []byte) error {
	if len(props) == 0 || props[0] != '{' {
		return nil
	}
	// Cheap test first: most events carry none of these keys.
	found := bytes.Contains(props, []byte(`"products"`))
	for _, k := range quotedMoneyKeys {
		if found {
			break
		}
		found = bytes.Contains(props, k)
	}
	if !found {
		return nil
	}
	mp := getMembers()
	defer putMembers(mp)
	ms, _, err := scanObject(props, 0, *mp)
	*mp = ms
	if err != nil {
		return nil // validated before; cannot happen
	}
	cur := ""
	for _, m := range ms {
		if m.keyIs(props, "currency") {
			if v := props[m.vs:m.ve]; len(v) > 1 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
				cur = unsafeString(v[1 : len(v)-1]) // read, not kept
			} else {
				cur, _ = strField(v, "currency")
			}
		}
	}
	for _, m := range ms {
		v := props[m.vs:m.ve]
		k := ""
		if m.escaped {
			k = m.key(props)
		} else {
			k = unsafeString(props[m.ks+1 : m.ke-1]) // compared only, or cloned
		}
		switch {
		case k == "products":
			if err := checkProducts(v, cur); err != nil {
				return err
			}
		case isMoneyKey(k):
			if _, _, err := amount(v, cur); err != nil {
				return reject("properties."+strings.Clone(k), "%v", err)
			}
		}
	}
	return nil
}

// smallNumber reports whether s is a plain decimal with at most 12 integer digits: within
// ±10^15 minor units in every currency (three decimals at most), no parsing needed.
func smallNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if digits > 12 {
		return false
	}
	for ; i < len(s); i++ {
		if !isDigit(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

func isMoneyKey(k string) bool {
	for _, m := range moneyKeys {
		if k == m {
			return true
		}
	}
	return false
}

// amount reads a JSON number or numeric string as minor units of cur.
func amount(v []byte, cur string) (minor int64, numeric bool, err error) {
	var s string
	switch {
	case len(v) > 1 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0:
		s = unsafeString(v[1 : len(v)-1]) // parsed, not kept
	case len(v) > 0 && v[0] == '"':
		if s, err = decodeString(v, "amount"); err != nil {
			return 0, false, nil
		}
	case len(v) > 0 && (v[0] == '-' || isDigit(v[0])):
		s = unsafeString(v)
	default:
		return 0, false, nil
	}
	if smallNumber(s) {
		return 0, true, nil // in range; the value itself is not needed
	}
	minor, numeric, err = money.CheckDecimal(s, cur)
	if err != nil {
		limit := money.Format(money.MaxMinor, cur)
		if cur != "" {
			limit += " " + strings.ToUpper(cur)
		}
		return 0, true, fmt.Errorf("%s is beyond ±10^15 minor units (±%s): no real amount is that large", strings.TrimSpace(s), limit)
	}
	return minor, numeric, nil
}

// checkProducts checks each product's price, price × quantity and the sum of them.
func checkProducts(v []byte, cur string) error {
	if len(v) == 0 || v[0] != '[' {
		return nil
	}
	sum := 0.0
	idx := 0
	err := eachItem(v, func(item []byte) error {
		defer func() { idx++ }()
		if len(item) == 0 || item[0] != '{' {
			return nil
		}
		mp := getMembers()
		defer putMembers(mp)
		ms, _, err := scanObject(item, 0, *mp)
		*mp = ms
		if err != nil {
			return nil
		}
		price, qty := 0.0, 1.0
		for _, m := range ms {
			val := item[m.vs:m.ve]
			switch {
			case m.keyIs(item, "price"):
				if _, _, err := amount(val, cur); err != nil {
					return reject(fmt.Sprintf("properties.products[%d].price", idx), "%v", err)
				}
				s := strings.Trim(unsafeString(val), `"`)
				if p, err := strconv.ParseFloat(s, 64); err == nil {
					price = p * math.Pow10(money.Exponent(cur)) // minor units, near enough for a bound
				}
			case m.keyIs(item, "quantity"):
				s := strings.Trim(unsafeString(val), `"`)
				if q, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
					qty = q
				}
			}
		}
		line := math.Abs(price * qty)
		if line > float64(money.MaxMinor) || math.IsNaN(line) {
			return reject(fmt.Sprintf("properties.products[%d]", idx), "price × quantity is beyond ±10^15 minor units: no real order line is that large")
		}
		sum += line
		return nil
	})
	if err != nil {
		return err
	}
	if sum > float64(money.MaxMinor) {
		return reject("properties.products", "the products add up to more than 10^15 minor units: no real order is that large")
	}
	return nil
}

// eachItem calls fn with each element of the JSON array v (validated before).
func eachItem(v []byte, fn func([]byte) error) error {
	i := skipWS(v, 1)
	if i < len(v) && v[i] == ']' {
		return nil
	}
	for i < len(v) {
		end, err := scanValue(v, i, 1)
		if err != nil {
			return nil
		}
		if err := fn(v[i:end]); err != nil {
			return err
		}
		i = skipWS(v, end)
		if i >= len(v) || v[i] != ',' {
			return nil
		}
		i = skipWS(v, i+1)
	}
	return nil
}

// capTraits keeps the first max members of the traits object obj. It returns obj itself
// when it is within the limit (or not an object), else a new object and how many keys
// were dropped.
func capTraits(obj []byte, max int) ([]byte, int) {
	// Every member has a colon: with no more colons than max it cannot be over.
	if len(obj) == 0 || obj[0] != '{' || bytes.Count(obj, []byte{':'}) <= max {
		return obj, 0
	}
	mp := getMembers()
	defer putMembers(mp)
	ms, _, err := scanObject(obj, 0, *mp)
	*mp = ms
	if err != nil || len(ms) <= max {
		return obj, 0
	}
	out := make([]byte, 0, ms[max-1].ve+1)
	out = append(out, '{')
	for i, m := range ms[:max] {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, obj[m.ks:m.ve]...)
	}
	return append(out, '}'), len(ms) - max
}

// capContextTraits applies capTraits to context.traits inside the context object ctx.
func capContextTraits(ctx []byte, max int) ([]byte, int) {
	if len(ctx) == 0 || ctx[0] != '{' || !bytes.Contains(ctx, []byte(`"traits"`)) {
		return ctx, 0
	}
	mp := getMembers()
	defer putMembers(mp)
	ms, _, err := scanObject(ctx, 0, *mp)
	*mp = ms
	if err != nil {
		return ctx, 0
	}
	var out []byte
	last, total := 0, 0
	for _, m := range ms {
		if !m.keyIs(ctx, "traits") {
			continue
		}
		capped, dropped := capTraits(ctx[m.vs:m.ve], max)
		if dropped == 0 {
			continue
		}
		out = append(out, ctx[last:m.vs]...)
		out = append(out, capped...)
		last, total = m.ve, total+dropped
	}
	if total == 0 {
		return ctx, 0
	}
	return append(out, ctx[last:]...), total
}
