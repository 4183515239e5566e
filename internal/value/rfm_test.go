package value

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestQuintileTies(t *testing.T) {
	t.Parallel()
	got := quintile([]int{1, 1, 1, 1, 1, 1, 2, 2, 3, 10}, true)
	want := []int{1, 1, 1, 1, 1, 1, 4, 4, 5, 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("F scores %v, want %v", got, want)
	}
	// recency: fewer days is better
	got = quintile([]int{0, 5, 10, 20, 40}, false)
	if fmt.Sprint(got) != "[5 4 3 2 1]" {
		t.Errorf("R scores %v", got)
	}
}

func TestDefaultRulesCoverGrid(t *testing.T) {
	t.Parallel()
	if err := ValidateRules(DefaultSegmentRules); err != nil {
		t.Fatal(err)
	}
	// each R/F cell maps to exactly one default rule
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			n := 0
			for _, rule := range DefaultSegmentRules {
				if rule.match(RFMScore{R: r, F: f, M: 3}) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("R=%d F=%d matched by %d rules", r, f, n)
			}
		}
	}
	if err := ValidateRules(DefaultSegmentRules[1:]); err == nil || !strings.Contains(err.Error(), "R=5 F=4") {
		t.Errorf("missing Champions not caught: %v", err)
	}
	if err := ValidateRules([]SegmentRule{{Name: "x", RMin: 0, RMax: 5, FMin: 1, FMax: 5}}); err == nil {
		t.Error("range 0..5 accepted")
	}
}

func TestRFMSegmentsAndTransitions(t *testing.T) {
	t.Parallel()
	asOf := day("2024-06-30")
	var txs []Transaction
	// 100 customers: customer i buys (i%5)+1 times, the last time i days before asOf.
	for i := range 100 {
		id := fmt.Sprint(i)
		n := i%5 + 1
		for k := range n {
			txs = append(txs, Transaction{id, asOf.AddDate(0, 0, -i-7*k), int64(1000 * (i%7 + 1))})
		}
	}
	rep, err := Segments(txs, asOf, asOf.AddDate(0, 0, -30), nil, DefaultSmallSegment)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scores) != 100 {
		t.Fatalf("%d scores", len(rep.Scores))
	}
	s0 := rep.Scores[0] // most recent, 1 purchase
	if s0.R != 5 || s0.F != 1 || s0.Segment != "New Customers" {
		t.Errorf("customer 0: %+v", s0)
	}
	s99 := rep.Scores[99] // 99 days ago, 5 purchases
	if s99.R != 1 || s99.F != 5 || s99.Segment != "Can't Lose Them" {
		t.Errorf("customer 99: %+v", s99)
	}
	total, share := 0, 0.0
	for _, st := range rep.Segments {
		total += st.Customers
		share += st.RevenueShare
		if st.Customers > 0 && st.Customers < 30 && !strings.Contains(st.Warning, "too few") {
			t.Errorf("segment %s with %d customers has no warning", st.Segment, st.Customers)
		}
	}
	if total != 100 || share < 0.999999 || share > 1.000001 {
		t.Errorf("segments hold %d customers, revenue share %g", total, share)
	}
	// transitions: customers 0..29 had no purchase 30 days before (their only
	// purchases within the last 30 days for the one-purchase ones) -> some are new.
	tm := rep.Transitions
	rows := 0
	for _, r := range tm.Counts {
		for _, c := range r {
			rows += c
		}
	}
	if rows != 100 {
		t.Errorf("transition matrix counts %d customers, want 100", rows)
	}
	newRow := tm.Counts[len(tm.From)-1]
	newCount := 0
	for _, c := range newRow {
		newCount += c
	}
	prev, _ := RFM(txs, asOf.AddDate(0, 0, -30), nil)
	if newCount != 100-len(prev) {
		t.Errorf("new row has %d, want %d", newCount, 100-len(prev))
	}
	if _, err := Segments(txs, asOf, asOf, nil, DefaultSmallSegment); err == nil {
		t.Error("previous == asOf accepted")
	}
}

func TestCustomRulesWithMonetary(t *testing.T) {
	t.Parallel()
	rules := []SegmentRule{
		{Name: "Big", RMin: 1, RMax: 5, FMin: 1, FMax: 5, MMin: 5, MMax: 5},
		{Name: "Rest", RMin: 1, RMax: 5, FMin: 1, FMax: 5},
	}
	var txs []Transaction
	for i := range 10 {
		txs = append(txs, Transaction{fmt.Sprint(i), day("2024-01-01"), int64(100 * (i + 1))})
	}
	s, err := RFM(txs, day("2024-02-01"), rules)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range s {
		want := "Rest"
		if i >= 8 { // top fifth by spend
			want = "Big"
		}
		if c.Segment != want || c.R != 1 {
			t.Errorf("customer %d: %+v, want %s", i, c, want)
		}
	}
}

func TestCohorts(t *testing.T) {
	t.Parallel()
	txs := []Transaction{
		{"a", day("2024-01-05"), 1000}, {"a", day("2024-01-20"), 500}, {"a", day("2024-03-02"), 700},
		{"b", day("2024-01-31"), 2000}, {"b", day("2024-02-10"), -2000},
		{"c", day("2024-02-14"), 300}, {"c", day("2024-02-14"), 300},
	}
	rep := Cohorts(txs, day("2024-03-15"), map[string]string{"a": "ads", "b": "ads"})
	if len(rep.Cohorts) != 2 {
		t.Fatalf("%+v", rep.Cohorts)
	}
	jan := rep.Cohorts[0]
	if jan.Start != "2024-01" || jan.Customers != 2 || jan.Repeaters != 1 || jan.RepeatRate != 0.5 || len(jan.Months) != 3 {
		t.Errorf("jan %+v", jan)
	}
	if m := jan.Months; m[0].Active != 2 || m[0].Revenue != 3500 || m[1].Active != 0 || m[1].Revenue != -2000 || m[2].Active != 1 || m[2].Retention != 0.5 || !m[2].Partial {
		t.Errorf("jan months %+v", m)
	}
	feb := rep.Cohorts[1]
	if feb.Customers != 1 || feb.Repeaters != 0 || feb.Months[0].Revenue != 600 {
		t.Errorf("feb %+v", feb)
	}
	if len(rep.ByChannel) != 2 || rep.ByChannel[0].Channel != "ads" || rep.ByChannel[1].Channel != UnknownChannel || rep.ByChannel[1].Start != "2024-02" {
		t.Errorf("by channel %+v", rep.ByChannel)
	}
}

func TestCDNOWCohortsAndSegments(t *testing.T) {
	t.Parallel()
	txs := cdnowTransactions(t)
	rep := Cohorts(txs, cdnowEnd, nil)
	if m := rep.Cohorts[0].Months; m[len(m)-1].Partial {
		t.Error("June 1998 is complete as of 1998-06-30")
	}
	// The sample is the Q1 1997 acquisition cohort.
	n := 0
	for _, c := range rep.Cohorts {
		n += c.Customers
		if c.Start < "1997-01" || c.Start > "1997-03" {
			t.Errorf("cohort %s outside Q1 1997", c.Start)
		}
		if c.Months[0].Retention != 1 {
			t.Errorf("cohort %s month 0 retention %g", c.Start, c.Months[0].Retention)
		}
	}
	if n != 2357 {
		t.Errorf("cohorts hold %d customers", n)
	}
	seg, err := Segments(txs, cdnowEnd, cdnowCalEnd, nil, DefaultSmallSegment)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seg.Segments {
		t.Logf("%-20s %5d %5.1f%% revenue %5.1f%% %s", s.Segment, s.Customers, 100*s.Share, 100*s.RevenueShare, s.Warning)
	}
	_ = time.UTC
}

// TestCohortCensored: only the data's first month is marked as holding customers from
// before the data (the split by channel too).
func TestCohortCensored(t *testing.T) {
	t.Parallel()
	at := func(m, d int) time.Time { return time.Date(2026, time.Month(m), d, 12, 0, 0, 0, time.UTC) }
	txs := []Transaction{
		{CustomerID: "a", Time: at(1, 5), Amount: 1000}, {CustomerID: "a", Time: at(2, 5), Amount: 1000},
		{CustomerID: "b", Time: at(2, 9), Amount: 500},
		{CustomerID: "c", Time: at(3, 1), Amount: 700},
	}
	rep := Cohorts(txs, at(3, 31), map[string]string{"a": "Email", "b": "Direct", "c": "Email"})
	for _, cs := range [][]Cohort{rep.Cohorts, rep.ByChannel} {
		for _, c := range cs {
			if c.Censored != (c.Start == "2026-01") {
				t.Errorf("cohort %s %s: censored %v", c.Channel, c.Start, c.Censored)
			}
		}
	}
	if len(rep.Cohorts) != 3 {
		t.Fatalf("%d cohorts, want 3", len(rep.Cohorts))
	}
}
