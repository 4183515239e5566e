package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
)

// unit is what a converter makes of one input row, or of the rows of one order: the
// events to store, or the error that rejects all of its rows.
type unit struct {
	rows    []*row
	events  []event.Event
	err     *RowError
	skipped bool
}

// converter turns rows into units. add reports whether r was a data row (footers and
// repeated headers are not); grouping converters emit a unit when its group ends.
type converter interface {
	isHeader(keys map[string]int) bool
	wantsObjects() bool
	setup(sourceID int64, now time.Time)
	add(r *row, emit func(*unit)) bool
	flush(emit func(*unit))
}

func newConverter(opt Options) (converter, error) {
	switch opt.Kind {
	case KindEvents:
		if opt.Preset != "" {
			return nil, fmt.Errorf("--preset %s does not apply to events", opt.Preset)
		}
		return &eventsConverter{base: base{opt: opt}}, nil
	case KindCustomers:
		if opt.Preset != "" {
			return nil, fmt.Errorf("--preset %s does not apply to customers", opt.Preset)
		}
		return &customersConverter{base: base{opt: opt}}, nil
	case KindOrders:
		return newOrdersConverter(opt)
	case KindSpend:
		return newSpendConverter(opt)
	case "":
		return nil, errors.New("say what the file holds: events, orders, spend or customers")
	}
	return nil, fmt.Errorf("unknown import kind %q: want events, orders, spend or customers", opt.Kind)
}

// base holds what every event-making converter shares.
type base struct {
	opt      Options
	sourceID int64
	now      time.Time
}

func (b *base) setup(id int64, now time.Time) { b.sourceID, b.now = id, now }

// normalize runs a payload through the API's validation. Imported events keep the time
// they were first received when the payload says so (a Segment archive), else its
// sentAt, so that the clock-skew correction does not shift historical events to today.
func (b *base) normalize(payload []byte, receivedAt time.Time) (event.Event, error) {
	if receivedAt.IsZero() {
		receivedAt = b.now
	}
	in := event.Input{ReceivedAt: receivedAt, Now: b.now, MaxFuture: b.opt.MaxFuture}
	ev, err := in.Normalize(payload)
	if err != nil {
		return ev, err
	}
	ev.SourceID = b.sourceID
	return ev, nil
}

func rowErr(r *row, col, format string, args ...any) *RowError {
	return &RowError{Line: r.line, Column: col, Reason: fmt.Sprintf(format, args...)}
}

// hashID is a deterministic message id from content, so a re-import finds its events.
func hashID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:32]
}

// rowHash hashes a row's columns by name, so reordering columns keeps the id.
func rowHash(r *row) string {
	var parts []string
	r.each(func(_, key, val string) {
		if val != "" {
			parts = append(parts, key+"="+val)
		}
	})
	sort.Strings(parts)
	return hashID("", parts...)
}

// idFor makes "import-order-<id>", hashing ids too long for a messageId.
func idFor(prefix, id string) string {
	if len(prefix)+len(id) <= event.MaxMessageIDChars {
		return prefix + id
	}
	return hashID(prefix, id)
}

// anonFor gives a customer known only by email or phone one stable anonymous id.
func anonFor(kind, v string) string {
	return hashID("import-"+kind+"-", strings.ToLower(strings.TrimSpace(v)))[:len("import-"+kind+"-")+24]
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05 -0700", // Shopify
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04 -0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02 15:04:05",
	"2006/01/02",
	"02.01.2006 15:04:05", // German-style exports
	"02.01.2006",
	"Jan 2, 2006",
	"January 2, 2006",
	"20060102",
}

// parseTime reads the date-times exports use; times without a zone are UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) >= 10 {
		if n > 1e12 {
			return time.UnixMilli(n).UTC(), nil // unix milliseconds
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time (use ISO 8601, e.g. 2024-03-05T14:30:00Z)", s)
}

func normCurrency(c string) (string, error) { return money.NormalizeCurrency(c) }

// parseAmount reads a money cell into minor units. Currency symbols and a trailing code
// ("€12.50", "12.50 EUR") are accepted; "12,3x" is not.
func parseAmount(s, currency string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, " "+currency)
	s = strings.TrimLeft(s, "$€£¥")
	v, err := money.ParseDecimal(decimalPoint(s), currency)
	if err != nil {
		if _, numeric, _ := money.CheckDecimal(decimalPoint(s), currency); numeric {
			return 0, fmt.Errorf("%q is beyond ±10^15 minor units: no real amount is that large", orig)
		}
		return 0, fmt.Errorf("%q is not a number", orig)
	}
	if money.CheckRange(v) != nil {
		return 0, fmt.Errorf("%q is beyond ±10^15 minor units: no real amount is that large", orig)
	}
	return v, nil
}

var groupSpaces = strings.NewReplacer("\u00a0", "", "\u202f", "", " ", "", "'", "")

// decimalPoint rewrites a number to use "." as its decimal separator and no grouping.
// "1,234.50" and "1.234,50" are both 1234.50; "12,5" (a European decimal comma) is 12.5;
// "1,234" (one comma before three digits) is read as a thousands separator, as Google Ads
// and Meta write it.
func decimalPoint(s string) string {
	if strings.IndexAny(s, ",. '\u00a0\u202f") < 0 {
		return s
	}
	s = groupSpaces.Replace(s)
	dot, comma := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ',')
	switch {
	case dot >= 0 && comma >= 0 && comma > dot: // 1.234,50
		return strings.Replace(strings.ReplaceAll(s, ".", ""), ",", ".", 1)
	case dot >= 0 && comma >= 0: // 1,234.50
		return strings.ReplaceAll(s, ",", "")
	case comma >= 0 && strings.Count(s, ",") == 1 && len(s)-comma-1 != 3: // 12,5
		return strings.Replace(s, ",", ".", 1)
	}
	return strings.ReplaceAll(s, ",", "")
}

// parseCount reads an integer cell; "1,234" and Google Ads' "--" (no data) are accepted.
func parseCount(s string) (int64, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	if t == "" || t == "--" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return n, nil
	}
	// "3.0" from spreadsheets
	if f, err := strconv.ParseFloat(t, 64); err == nil && f == float64(int64(f)) {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%q is not a whole number", s)
}

// decimalNumber formats minor units as a JSON number in major units, exactly.
func decimalNumber(minor int64, currency string) json.Number {
	return json.Number(money.Format(minor, currency))
}

// mulPrice is quantity × unit price in minor units, exact, rounded half away from zero
// (unit prices may carry more decimals than the currency).
func mulPrice(qty int64, price, currency string) (int64, error) {
	p, ok := new(big.Rat).SetString(decimalPoint(strings.TrimLeft(strings.TrimSpace(price), "$€£¥")))
	if !ok {
		return 0, fmt.Errorf("%q is not a number", price)
	}
	exp := money.Exponent(currency)
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
	v := new(big.Rat).Mul(p, new(big.Rat).SetInt64(qty))
	v.Mul(v, scale)
	// round half away from zero
	num, den := v.Num(), v.Denom()
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	r.Abs(r).Mul(r, big.NewInt(2))
	if r.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() || money.CheckRange(q.Int64()) != nil {
		return 0, fmt.Errorf("%q × %d is beyond ±10^15 minor units", price, qty)
	}
	return q.Int64(), nil
}
