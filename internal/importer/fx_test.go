package importer

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestImportFX(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		imp := func(file string, opt Options) (Report, error) {
			return ImportFXFile(ctx, db, filepath.Join("testdata", "fx", file), opt)
		}
		// The ECB's history file: 6 days; 41 currency columns of which 8 are N/A (CYP,
		// EEK, LTL, LVL, MTL, ROL, SIT, SKK, HRK, RUB, TRL: discontinued) → 30 rates a day.
		rep, err := imp("eurofxref-hist.csv", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 6 || rep.Imported != 6*30 || rep.Duplicates != 0 || rep.Rejected != 0 {
			t.Fatalf("first import: %+v", rep)
		}
		// The daily file repeats 2024-03-08 in its own layout: nothing changes.
		if rep, err = imp("eurofxref.csv", Options{}); err != nil || rep.Imported != 0 || rep.Duplicates != 30 {
			t.Fatalf("daily file: %+v, %v", rep, err)
		}
		if rep, err = imp("eurofxref-hist.csv", Options{}); err != nil || rep.Imported != 0 || rep.Duplicates != 180 {
			t.Fatalf("again: %+v, %v", rep, err)
		}
		if rep, err = imp("rates-long.csv", Options{}); err != nil || rep.Imported != 3 {
			t.Fatalf("long layout: %+v, %v", rep, err)
		}
		// All or nothing: one bad row, nothing stored, every bad row named by line and column.
		rep, err = imp("rates-bad.csv", Options{})
		if !errors.Is(err, ErrBadRows) || rep.Rejected != 3 || rep.Imported != 0 {
			t.Fatalf("bad file: %+v, %v", rep, err)
		}
		want := []RowError{
			{Line: 3, Column: "date", Reason: `"2024-03-32" is not a date (use YYYY-MM-DD)`},
			{Line: 4, Column: "quote", Reason: `quote currency: currency "XX" is not a 3-letter ISO 4217 code`},
			{Line: 5, Column: "rate", Reason: "rate -1 is not above zero"},
		}
		for i, w := range want {
			if i >= len(rep.Errors) || rep.Errors[i] != w {
				t.Errorf("error %d: got %+v, want %+v", i, rep.Errors, w)
			}
		}
		sum, err := commerce.RateSummary(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum) != 32 {
			t.Fatalf("%d pairs: %+v", len(sum), sum)
		}
		for _, p := range sum {
			if p.Base == "EUR" && p.Quote == "USD" && (p.Days != 6 || p.First != "2024-03-01" || p.Last != "2024-03-08" || p.Latest != "1.0939") {
				t.Fatalf("EUR/USD: %+v", p)
			}
		}
		// --skip-bad stores the good row.
		if rep, err = imp("rates-bad.csv", Options{SkipBad: true}); err != nil || rep.Imported != 0 || rep.Duplicates != 1 || rep.Rejected != 3 {
			t.Fatalf("skip bad: %+v, %v", rep, err)
		}

		fx, err := commerce.LoadFX(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		// 250 USD on Saturday 2024-03-09 → Friday's 1.0939: 228.54 EUR
		c, err := fx.Convert(money.Amount{Minor: 25000, Currency: "USD"}, day(t, "2024-03-09"), "EUR")
		if err != nil || c.Amount.Minor != 22854 || c.RateDay != "2024-03-08" {
			t.Fatalf("convert: %+v, %v", c, err)
		}
	})
}

func TestImportFXHeaderErrors(t *testing.T) {
	db := storetest.SQLite(t)
	for _, c := range []struct{ in, want string }{
		{"Date,USD,EURO\n2024-03-08,1.1,1\n", `column "EURO" is not a currency code`},
		{"date,base,rate\n2024-03-08,EUR,1.1\n", "needs all three"},
		{"Date,USD\n", "no rates after the header"},
		{"when,USD\n2024-03-08,1.1\n", "Date column"},
	} {
		_, err := ImportFX(context.Background(), db, stringsReader(c.in), "x.csv", Options{})
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.in, err, c.want)
		}
	}
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
