package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
)

// KindFX is a daily exchange rates file (`omniroi import fx FILE`).
const KindFX = "fx"

// Exchange rate files come in two layouts, told apart by the header:
//
//   - wide, the ECB's reference rates (eurofxref-hist.csv, eurofxref.csv): a Date column
//     and one column per currency, each cell the units of that currency per 1 of the base
//     (EUR, or Options.Currency); "N/A" or an empty cell is a day without a rate;
//   - long: date, base, quote, rate (1 base = rate quote), one rate per row.
//
// Dates are YYYY-MM-DD, or "5 March 2024" as the ECB's daily file writes them.

// ImportFXFile imports the rates file at path.
func ImportFXFile(ctx context.Context, db *store.DB, path string, opt Options) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{Kind: KindFX}, fmt.Errorf("open input: %w", err)
	}
	defer f.Close()
	return ImportFX(ctx, db, f, filepath.Base(path), opt)
}

// ImportFX imports a rates file from r (CSV, gzip read through). All rows or none, unless
// opt.SkipBad; importing the same file again changes nothing.
func ImportFX(ctx context.Context, db *store.DB, r io.Reader, name string, opt Options) (Report, error) {
	rates, rep, err := parseFX(ctx, r, name, opt)
	if err != nil {
		return rep, err
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		changed, same, err := commerce.UpsertRates(ctx, tx, rates, name)
		rep.Imported, rep.Duplicates = changed, same
		return err
	})
	if err != nil {
		rep.Imported, rep.Duplicates = 0, 0
		return rep, fmt.Errorf("import %s: %w", name, err)
	}
	return rep, nil
}

// parseFX reads a rates file into checked rates, without the database: the rows it refuses
// are in the report, and an error refuses the whole file.
func parseFX(ctx context.Context, r io.Reader, name string, opt Options) ([]commerce.Rate, Report, error) {
	rep := Report{Kind: KindFX}
	base := "EUR"
	if opt.Currency != "" {
		c, err := normCurrency(opt.Currency)
		if err != nil {
			return nil, rep, fmt.Errorf("--base: %w", err)
		}
		base = c
	}
	src, long, err := openFXSource(r, name)
	if err != nil {
		return nil, rep, err
	}
	var cols []fxColumn
	if !long {
		if cols, err = fxColumns(src, name); err != nil {
			return nil, rep, err
		}
	}
	var rates []commerce.Rate
	reject := func(e *RowError) {
		rep.Rejected++
		if len(rep.Errors) < maxErrors {
			rep.Errors = append(rep.Errors, *e)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, rep, err
		}
		row, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, rep, fmt.Errorf("%s: %w", name, err)
		}
		rep.Rows++
		var rs []commerce.Rate
		var e *RowError
		if long {
			rs, e = longFXRow(row)
		} else {
			rs, e = wideFXRow(row, cols, base)
		}
		rates = append(rates, rs...)
		if e != nil {
			reject(e)
		}
	}
	if rep.Rows == 0 {
		return nil, rep, fmt.Errorf("%s: no rates after the header", name)
	}
	if rep.Rejected > 0 && !opt.SkipBad {
		return nil, rep, fmt.Errorf("%w in %s: %d, nothing imported (--skip-bad imports the good ones); first: %v",
			ErrBadRows, name, rep.Rejected, rep.Errors[0])
	}
	return rates, rep, nil
}

// openFXSource reads a rates file's header (a Date or Day column) and says whether the
// file is long (date, base, quote, rate) rather than wide (a column per currency).
func openFXSource(r io.Reader, name string) (*csvSource, bool, error) {
	br, err := decode(r)
	if err != nil {
		return nil, false, err
	}
	src, err := newCSVSource(br, func(keys map[string]int) bool {
		_, d := keys["date"]
		_, d2 := keys["day"]
		return d || d2
	})
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w (an exchange rates file has a Date column)", name, err)
	}
	_, hasBase := src.hdr.index["base"]
	_, hasQuote := src.hdr.index["quote"]
	_, hasRate := src.hdr.index["rate"]
	long := hasBase || hasQuote || hasRate
	if long && !(hasBase && hasQuote && hasRate) {
		return nil, false, fmt.Errorf("%s: a rates file with base, quote or rate columns needs all three (date, base, quote, rate)", name)
	}
	return src, long, nil
}

// fxColumn is a currency column of a wide rates file.
type fxColumn struct {
	i    int
	name string
	code string
}

// fxColumns are a wide file's currency columns, checked once from the header: every
// column after the date must be a currency code.
func fxColumns(src *csvSource, name string) ([]fxColumn, error) {
	dateCol := src.hdr.index["date"]
	if _, ok := src.hdr.index["date"]; !ok {
		dateCol = src.hdr.index["day"]
	}
	var cols []fxColumn
	for i, n := range src.hdr.names {
		if i == dateCol || strings.TrimSpace(n) == "" {
			continue
		}
		code, err := normCurrency(strings.TrimSpace(n))
		if err != nil {
			return nil, fmt.Errorf("%s: column %q is not a currency code: %v", name, n, err)
		}
		cols = append(cols, fxColumn{i: i, name: n, code: code})
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s: no currency columns after the date (want Date,USD,JPY,... or date,base,quote,rate)", name)
	}
	return cols, nil
}

// fxRowDay reads a row's date (or day) column.
func fxRowDay(row *row) (string, *RowError) {
	dayRaw, dcol := row.get("date", "day")
	day, err := fxDay(dayRaw)
	if err != nil {
		if dcol == "" {
			dcol = "date"
		}
		return "", rowErr(row, dcol, "%v", err)
	}
	return day, nil
}

// longFXRow reads a row of a long file: one rate, or why it is refused (naming the
// column at fault).
func longFXRow(row *row) ([]commerce.Rate, *RowError) {
	if e := extraFields(row); e != nil {
		return nil, e
	}
	day, e := fxRowDay(row)
	if e != nil {
		return nil, e
	}
	b, _ := row.get("base")
	q, _ := row.get("quote")
	v, vcol := row.get("rate")
	rt, _, err := commerce.ParseRate(b, q, day, v)
	if err != nil {
		c := "rate"
		switch {
		case strings.HasPrefix(err.Error(), "base"):
			c = "base"
		case strings.HasPrefix(err.Error(), "quote"), strings.HasPrefix(err.Error(), "base and quote"):
			c = "quote"
		case vcol != "":
			c = vcol
		}
		return nil, rowErr(row, c, "%v", err)
	}
	return []commerce.Rate{rt}, nil
}

// wideFXRow reads a row of a wide file: a rate from base to each currency with a value
// that day (empty, N/A and - are none). The first bad value refuses the row, keeping
// the rates read before it.
func wideFXRow(row *row, cols []fxColumn, base string) ([]commerce.Rate, *RowError) {
	day, e := fxRowDay(row)
	if e != nil {
		return nil, e
	}
	var rates []commerce.Rate
	for _, c := range cols {
		v := ""
		if c.i < len(row.vals) {
			v = strings.TrimSpace(row.vals[c.i])
		}
		if v == "" || strings.EqualFold(v, "N/A") || v == "-" {
			continue // no rate that day
		}
		if c.code == base {
			continue
		}
		rt, _, err := commerce.ParseRate(base, c.code, day, v)
		if err != nil {
			return rates, rowErr(row, strings.TrimSpace(c.name), "%v", err)
		}
		rates = append(rates, rt)
	}
	return rates, nil
}

// fxDay reads a rates file's date: ISO, or the ECB daily file's "05 March 2024".
func fxDay(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.DateOnly, "02 January 2006", "2 January 2006", "2006/01/02", "02.01.2006"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.Format(time.DateOnly), nil
		}
	}
	if s == "" {
		return "", errors.New("the date is empty")
	}
	return "", fmt.Errorf("%q is not a date (use YYYY-MM-DD)", s)
}
