// Package value holds the customer-value models of omniroi: buy-till-you-die
// models (BG/NBD, Pareto/NBD), Gamma-Gamma spend, CLV, churn bands, RFM
// segments, cohorts and unit economics per acquisition channel. The models are
// pure: they work on []Transaction. store.go, acquisition.go and http.go read
// the store (orders, refunds, activity, spend) and serve the results.
package value

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Transaction is one order (or refund, when Amount < 0) of one customer.
type Transaction struct {
	CustomerID string
	Time       time.Time
	Amount     int64 // minor units (cents)
}

// dayNumber is the civil date of t in t's own location, as days since 1970-01-01.
// Purchases are counted per calendar day as the shop sees it, not per UTC day.
func dayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func dayTime(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }

// ParseAmount parses a decimal amount in major units ("12.34", "-5", "7.5")
// into minor units, assuming two decimals (cents). More than two decimals is an error
// rather than a silent rounding.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty amount")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("invalid amount %q", s)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("amount %q has more than 2 decimals", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	var w int64
	if whole != "" {
		v, err := strconv.ParseUint(whole, 10, 62)
		if err != nil {
			return 0, fmt.Errorf("invalid amount %q", s)
		}
		w = int64(v)
	}
	f, err := strconv.ParseUint(frac, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("invalid amount %q", s)
	}
	v := w*100 + int64(f)
	if neg {
		v = -v
	}
	return v, nil
}

// dateLayouts are tried in order for the date column of a transactions CSV.
var dateLayouts = []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "20060102"}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q (want YYYY-MM-DD, RFC 3339 or YYYYMMDD)", s)
}

// ReadTransactionsCSV reads a CSV with a header naming the columns
// customer_id, date and amount (any order, extra columns ignored). amount is in
// major units with at most two decimals; negative amounts are refunds.
func ReadTransactionsCSV(r io.Reader) ([]Transaction, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("transactions csv: reading header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	need := []string{"customer_id", "date", "amount"}
	idx := make([]int, len(need))
	for i, n := range need {
		j, ok := col[n]
		if !ok {
			return nil, fmt.Errorf("transactions csv: header lacks column %q (have %v)", n, header)
		}
		idx[i] = j
	}
	var out []Transaction
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("transactions csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		for i, j := range idx {
			if j >= len(rec) {
				return nil, fmt.Errorf("transactions csv: line %d: missing column %q", line, need[i])
			}
		}
		id := strings.TrimSpace(rec[idx[0]])
		if id == "" {
			return nil, fmt.Errorf("transactions csv: line %d: column customer_id: empty", line)
		}
		t, err := parseDate(rec[idx[1]])
		if err != nil {
			return nil, fmt.Errorf("transactions csv: line %d: column date: %w", line, err)
		}
		a, err := ParseAmount(rec[idx[2]])
		if err != nil {
			return nil, fmt.Errorf("transactions csv: line %d: column amount: %w", line, err)
		}
		out = append(out, Transaction{CustomerID: id, Time: t, Amount: a})
	}
	return out, nil
}

// CDNOWMaster and CDNOWSample are the layouts of the two raw CDNOW files:
// master has customer_id, date, cds, dollars (with a header line); the 1/10
// sample has master id, sample id, date, cds, dollars (no header). For the
// sample the sample id (1..2357) becomes the CustomerID, as in the published summaries.
const (
	CDNOWMaster = "master"
	CDNOWSample = "sample"
)

// ReadCDNOW reads a raw whitespace-separated CDNOW file with the given layout.
func ReadCDNOW(r io.Reader, layout string) ([]Transaction, error) {
	var ncol, idCol, dateCol, amtCol int
	switch layout {
	case CDNOWMaster:
		ncol, idCol, dateCol, amtCol = 4, 0, 1, 3
	case CDNOWSample:
		ncol, idCol, dateCol, amtCol = 5, 1, 2, 4
	default:
		return nil, fmt.Errorf("cdnow: unknown layout %q (want %q or %q)", layout, CDNOWMaster, CDNOWSample)
	}
	sc := bufio.NewScanner(r)
	var out []Transaction
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if line == 1 && f[0] == "customer_id" {
			continue
		}
		if len(f) != ncol {
			return nil, fmt.Errorf("cdnow: line %d: want %d columns, got %d", line, ncol, len(f))
		}
		id := strings.TrimLeft(f[idCol], "0")
		if id == "" {
			id = "0"
		}
		t, err := time.Parse("20060102", f[dateCol])
		if err != nil {
			return nil, fmt.Errorf("cdnow: line %d: column %d (date): %w", line, dateCol+1, err)
		}
		a, err := ParseAmount(f[amtCol])
		if err != nil {
			return nil, fmt.Errorf("cdnow: line %d: column %d (amount): %w", line, amtCol+1, err)
		}
		out = append(out, Transaction{CustomerID: id, Time: t, Amount: a})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cdnow: line %d: %w", line, err)
	}
	return out, nil
}
