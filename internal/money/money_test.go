package money

import "testing"

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in, cur string
		want    int64
		bad     bool
	}{
		{"12.50", "EUR", 1250, false},
		{"12.5", "usd", 1250, false},
		{"-3", "EUR", -300, false},
		{"1,234.56", "GBP", 123456, false},
		{"0.005", "EUR", 1, false},
		{"0.004", "EUR", 0, false},
		{"1500", "JPY", 1500, false},
		{"1.2345", "KWD", 1235, false},
		{".5", "EUR", 50, false},
		{"1e2", "EUR", 10000, false},
		{"", "EUR", 0, true},
		{"12a", "EUR", 0, true},
		{"1.2.3", "EUR", 0, true},
		{"-", "EUR", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDecimal(c.in, c.cur)
		if c.bad {
			if err == nil {
				t.Errorf("ParseDecimal(%q) = %d, want error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDecimal(%q, %s) = %d, %v; want %d", c.in, c.cur, got, err, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		minor int64
		cur   string
		want  string
	}{{1250, "EUR", "12.50"}, {-5, "EUR", "-0.05"}, {1500, "JPY", "1500"}, {1235, "KWD", "1.235"}} {
		if got := Format(c.minor, c.cur); got != c.want {
			t.Errorf("Format(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
	}
}

func TestFromJSON(t *testing.T) {
	if v, err := FromJSON([]byte(`"19.99"`), "EUR"); err != nil || v != 1999 {
		t.Fatalf("string: %d %v", v, err)
	}
	if v, err := FromJSON([]byte(`19.99`), "EUR"); err != nil || v != 1999 {
		t.Fatalf("number: %d %v", v, err)
	}
	if _, err := FromJSON([]byte(`null`), "EUR"); err == nil {
		t.Fatal("null must be an error")
	}
	if _, err := NormalizeCurrency("eu"); err == nil {
		t.Fatal("2-letter currency must be an error")
	}
}

func TestMajor(t *testing.T) {
	for _, c := range []struct {
		minor float64
		cur   string
		want  float64
	}{
		{1250, "EUR", 12.5}, {1999, "EUR", 19.99}, {-5, "EUR", -0.05}, {1250, "JPY", 1250}, {1235, "KWD", 1.235},
		{1234.5678, "EUR", 12.35}, {1234.4, "JPY", 1234}, {1234.5, "KWD", 1.235}, {0.4, "EUR", 0},
	} {
		if got := Major(c.minor, c.cur); got != c.want {
			t.Errorf("Major(%v, %s) = %v, want %v", c.minor, c.cur, got, c.want)
		}
	}
	if got := Major(int64(541), "EUR"); got != 5.41 {
		t.Errorf("Major(541 EUR) = %v", got)
	}
}
