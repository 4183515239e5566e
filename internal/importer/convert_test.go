package importer

import "testing"

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		cur  string
		want int64
		bad  bool
	}{
		{"12.40", "EUR", 1240, false},
		{"1,013.55", "EUR", 101355, false},
		{"1.013,55", "EUR", 101355, false},
		{"12,5", "EUR", 1250, false},
		{"1,234", "EUR", 123400, false},
		{"€ 9.99", "EUR", 999, false},
		{"9.99 EUR", "EUR", 999, false},
		{"1 234,50", "EUR", 123450, false},
		{"-3.10", "EUR", -310, false},
		{"1500", "JPY", 1500, false},
		{"0.125", "KWD", 125, false},
		{"12,3x", "EUR", 0, true},
		{"abc", "EUR", 0, true},
		{"", "EUR", 0, true},
	} {
		got, err := parseAmount(c.in, c.cur)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseAmount(%q, %s) = %d, %v; want %d (bad %v)", c.in, c.cur, got, err, c.want, c.bad)
		}
	}
}

func TestMulPriceAndMicros(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		qty   int64
		price string
		want  int64
	}{{3, "0.85", 255}, {12, "0.125", 150}, {-2, "1.005", -201}, {1, "1.234,5", 123450}} {
		if got, err := mulPrice(c.qty, c.price, "EUR"); err != nil || got != c.want {
			t.Errorf("mulPrice(%d, %q) = %d, %v; want %d", c.qty, c.price, got, err, c.want)
		}
	}
	for _, c := range []struct {
		micros int64
		cur    string
		want   int64
	}{{12470000, "EUR", 1247}, {31104999, "EUR", 3110}, {5000, "EUR", 1}, {4999, "EUR", 0}, {1500000000, "JPY", 1500}} {
		if got := microsToMinor(c.micros, c.cur); got != c.want {
			t.Errorf("microsToMinor(%d, %s) = %d, want %d", c.micros, c.cur, got, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2024-03-02 10:14:22 +0100": "2024-03-02T09:14:22Z",
		"2024-03-02T10:14:22Z":      "2024-03-02T10:14:22Z",
		"2024-03-02":                "2024-03-02T00:00:00Z",
		"02.03.2024":                "2024-03-02T00:00:00Z",
		"March 2, 2024":             "2024-03-02T00:00:00Z",
		"1709374462":                "2024-03-02T10:14:22Z",
		"1709374462000":             "2024-03-02T10:14:22Z",
	} {
		got, err := parseTime(in)
		if err != nil || got.Format("2006-01-02T15:04:05Z07:00") != want {
			t.Errorf("parseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseTime("yesterday"); err == nil {
		t.Error("yesterday parsed")
	}
}

func TestNormKeyAndDelimiter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Order ID": "order_id", "metrics.cost_micros": "metrics_cost_micros",
		"Amount spent (EUR)": "amount_spent_eur", " Lineitem quantity ": "lineitem_quantity", "Impr.": "impr"} {
		if got := normKey(in); got != want {
			t.Errorf("normKey(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]rune{"a,b,c\n1,2,3\n": ',', "a;b;c\n1;2,5;3\n": ';', "Report\na\tb\tc\n": '\t'} {
		if got := sniffDelimiter([]byte(in)); got != want {
			t.Errorf("sniffDelimiter(%q) = %q, want %q", in, got, want)
		}
	}
}
