package value

import (
	"math"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	good := map[string]int64{"12.34": 1234, "-5": -500, "7.5": 750, "0": 0, ".5": 50, "+3.00": 300, " 29.33 ": 2933}
	for in, want := range good {
		got, err := ParseAmount(in)
		if err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.234", "abc", "1,5", "-", "1.2.3", "."} {
		if _, err := ParseAmount(in); err == nil {
			t.Errorf("ParseAmount(%q) accepted", in)
		}
	}
}

func TestReadTransactionsCSV(t *testing.T) {
	t.Parallel()
	in := "date,customer_id,amount,note\n2024-01-02,a,10.00,x\n2024-01-03T10:00:00Z,b,-2.5,\n\n20240104,a,0,\n"
	txs, err := ReadTransactionsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 3 || txs[1].Amount != -250 || txs[2].CustomerID != "a" || !txs[2].Time.Equal(day("2024-01-04")) {
		t.Fatalf("got %+v", txs)
	}
	for _, c := range []struct{ in, want string }{
		{"customer_id,date,amount\na,2024-01-02,1\nb,2024-13-02,1\n", "line 3: column date"},
		{"customer_id,date,amount\na,2024-01-02,1.234\n", "line 2: column amount"},
		{"customer_id,date,amount\n,2024-01-02,1\n", "line 2: column customer_id"},
		{"customer_id,date\na,2024-01-02\n", `lacks column "amount"`},
		{"customer_id,date,amount\na,2024-01-02\n", `line 2: missing column "amount"`},
	} {
		_, err := ReadTransactionsCSV(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q: error %v, want it to mention %q", c.in, err, c.want)
		}
	}
}

func TestReadCDNOWErrors(t *testing.T) {
	t.Parallel()
	if _, err := ReadCDNOW(strings.NewReader(" 00001 19970101  1   11.77\n 00002 1997011  1   12.00\n"), CDNOWMaster); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad date: %v", err)
	}
	if _, err := ReadCDNOW(strings.NewReader(" 00001 19970101  1   11.77\n"), CDNOWSample); err == nil || !strings.Contains(err.Error(), "want 5 columns") {
		t.Errorf("wrong layout: %v", err)
	}
	txs, err := ReadCDNOW(strings.NewReader(" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n"), CDNOWMaster)
	if err != nil || len(txs) != 1 || txs[0].CustomerID != "1" || txs[0].Amount != 1177 {
		t.Errorf("master: %+v %v", txs, err)
	}
}

func TestSummarizeQuirks(t *testing.T) {
	t.Parallel()
	end := day("2024-03-31")
	txs := []Transaction{
		// a: two orders on day one (one purchase), a zero-value repeat, a refund-only day,
		// a repeat day partly refunded, and an order after the calibration end.
		{"a", day("2024-01-01"), 1000}, {"a", day("2024-01-01").Add(5 * time.Hour), 500},
		{"a", day("2024-01-08"), 0},
		{"a", day("2024-01-10"), -300},
		{"a", day("2024-01-15"), 2000}, {"a", day("2024-01-15"), -2500},
		{"a", day("2024-01-22"), 600},
		{"a", day("2024-04-01"), 999},
		// b: only purchase on the last day (T = 0).
		{"b", end.Add(23 * time.Hour), 700},
		// c: only refunds: not a customer.
		{"c", day("2024-02-01"), -100},
		// d: purchase late in the evening in UTC-5 belongs to that local day.
		{"d", time.Date(2024, 3, 30, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)), 100},
	}
	s, err := Summarize(txs, end, Day)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 3 {
		t.Fatalf("got %d customers, want 3 (a, b, d): %+v", len(s), s)
	}
	a, b, d := s[0], s[1], s[2]
	// a: purchase days 01-01, 01-08 (zero), 01-15 (net -500 -> 0), 01-22 -> x = 3.
	if a.Frequency != 3 || a.RecencyDays != 21 || a.AgeDays != 90 || a.ZeroValueRepeats != 2 {
		t.Errorf("a = %+v", a)
	}
	if math.Abs(a.Monetary-200) > 1e-9 { // (0 + 0 + 600) / 3
		t.Errorf("a.Monetary = %g, want 200", a.Monetary)
	}
	if a.Revenue != 1500+0-300+2000-2500+600 {
		t.Errorf("a.Revenue = %d", a.Revenue)
	}
	if b.Frequency != 0 || b.T != 0 || b.Monetary != 0 {
		t.Errorf("b = %+v", b)
	}
	if d.AgeDays != 1 {
		t.Errorf("d.AgeDays = %d, want 1 (local day 03-30)", d.AgeDays)
	}
	obs := GroupHistories(s)
	if len(obs) != 2 {
		t.Errorf("T = 0 customer should be left out of the fit: %+v", obs)
	}
	w, err := Summarize(txs, end, Week)
	if err != nil || math.Abs(w[0].T-90.0/7) > 1e-12 {
		t.Errorf("weeks: %+v %v", w[0], err)
	}
	if sp := SpendHistories(s); len(sp) != 1 || sp[0].M != 200 {
		t.Errorf("spend histories %+v", sp)
	}
}

func TestGroupHistories(t *testing.T) {
	t.Parallel()
	s := []CustomerSummary{
		{ID: "1", Frequency: 1, Recency: 2, T: 5}, {ID: "2", Frequency: 1, Recency: 2, T: 5},
		{ID: "3", Frequency: 0, T: 5}, {ID: "4", Frequency: 1, Recency: 3, T: 5},
	}
	g := GroupHistories(s)
	if len(g) != 3 || g[0].W != 2 || g[1].W != 1 {
		t.Errorf("got %+v", g)
	}
	if err := checkObs([]Obs{{X: 1, Tx: 6, T: 5, W: 1}}); err == nil {
		t.Error("t_x > T accepted")
	}
}
