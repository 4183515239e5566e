package commerce

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/omniroi/omniroi/internal/money"
)

// TestOrderAmountsBounded: events stored before the API refused absurd amounts still
// yield no order on a rebuild, and a products sum cannot wrap around into a plausible
// (or negative) total.
func TestOrderAmountsBounded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		props string
	}{
		{"revenue", `{"order_id":"1","revenue":"92233720368547758.07"}`},
		{"total", `{"order_id":"1","total":1e17}`},
		{"products overflow", `{"order_id":"1","products":[{"price":"92233720368547758","quantity":1000}]}`},
		{"products wrap to negative", `{"order_id":"1","products":[{"price":"46116860184273879","quantity":1},{"price":"46116860184273879","quantity":1}]}`},
	} {
		var p Props
		if err := json.Unmarshal([]byte(c.props), &p); err != nil {
			t.Fatal(err)
		}
		o, err := ParseOrder(&p, "x", "EUR", Web)
		if !errors.Is(err, money.ErrOutOfRange) && err == nil {
			t.Errorf("%s: order of %d accepted", c.name, o.RevenueMinor)
		}
	}
	var p Props
	_ = json.Unmarshal([]byte(`{"order_id":"1","amount":"1e17"}`), &p)
	if _, err := ParseRefund(&p, "EUR"); err == nil {
		t.Error("refund of 10^17 cents accepted")
	}
	o := Order{RevenueMinor: money.MaxMinor, RefundedMinor: -math.MaxInt64} // a refund row an older version stored
	if n := o.NetMinor(); n < 0 {
		t.Errorf("net of a positive order is %d", n)
	}
}
