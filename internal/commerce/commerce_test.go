package commerce

import (
	"encoding/json"
	"testing"
)

func props(t *testing.T, s string) *Props {
	t.Helper()
	var p Props
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestParseOrder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in        string
		id        string
		minor     int64
		cur, loc  string
		wantError bool
	}{
		{`{"order_id":"A1","revenue":10.1,"total":12}`, "A1", 1010, "EUR", "web", false},
		{`{"orderId":77,"total":"0.3"}`, "77", 30, "EUR", "web", false},
		{`{"order_id":"B","revenue":"1,000.005","currency":"usd","location":"In Store"}`, "B", 100001, "USD", "store", false},
		{`{"order_id":"C","currency":"KWD","revenue":1.2345}`, "C", 1235, "KWD", "web", false},
		{`{"products":[{"price":"2.10","quantity":3},{"price":1}]}`, "fallback", 730, "EUR", "web", false},
		{`{"order_id":"D","revenue":0.1,"total":0.2,"value":9}`, "D", 10, "EUR", "web", false},
		{`{"order_id":"E","revenue":"abc"}`, "E", 0, "EUR", "web", true},
		{`{"order_id":"F","currency":"euro","revenue":1}`, "F", 0, "", "web", true},
	} {
		o, err := ParseOrder(props(t, c.in), "fallback", "EUR", "web")
		if (err != nil) != c.wantError {
			t.Errorf("%s: err = %v", c.in, err)
			continue
		}
		if err != nil {
			continue
		}
		if o.OrderID != c.id || o.RevenueMinor != c.minor || o.Currency != c.cur || o.Location != c.loc {
			t.Errorf("%s = %+v, want id %s %d %s at %s", c.in, o, c.id, c.minor, c.cur, c.loc)
		}
	}
}

func TestParseRefund(t *testing.T) {
	t.Parallel()
	r, err := ParseRefund(props(t, `{"order_id":"A","amount":-4.5}`), "EUR")
	if err != nil || r.AmountMinor != 450 || r.Full || r.Currency != "EUR" {
		t.Errorf("partial refund = %+v, %v", r, err)
	}
	r, err = ParseRefund(props(t, `{"order_id":"A"}`), "EUR")
	if err != nil || !r.Full {
		t.Errorf("full refund = %+v, %v", r, err)
	}
	if _, err := ParseRefund(props(t, `{"amount":1}`), "EUR"); err == nil {
		t.Error("refund without order id accepted")
	}
}

func TestNormalizeLocation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "POS": Store, "in-store": Store, "Online": Web, "call center": Phone, "iOS": App, "kiosk": Other} {
		if got := NormalizeLocation(in); got != want {
			t.Errorf("NormalizeLocation(%q) = %q, want %q", in, got, want)
		}
	}
}
