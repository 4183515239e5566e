package mix

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CSVColumns name the columns of a model input file.
type CSVColumns struct {
	Date     string
	Target   string
	Spend    []string // one column per channel; the column name is the channel's name
	Controls []string
}

// ReadCSV reads a model input file: a header row, then one row per day (or per week)
// with the date (YYYY-MM-DD), the target and each channel's spend, as plain numbers
// ("1234.5"; an empty spend cell is 0). Rows may come in any order; a date twice, a
// missing column or a cell that is not a number is an error naming the line.
func ReadCSV(r io.Reader, cols CSVColumns) (Data, error) {
	if cols.Date == "" || cols.Target == "" || len(cols.Spend) == 0 {
		return Data{}, errors.New("an input file needs --date, --target and --spend columns")
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return Data{}, fmt.Errorf("read header: %w", err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	find := func(name string) (int, error) {
		for i, h := range head {
			if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(name)) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("no column %q in the header (have %s)", name, strings.Join(head, ", "))
	}
	di, err := find(cols.Date)
	if err != nil {
		return Data{}, err
	}
	ti, err := find(cols.Target)
	if err != nil {
		return Data{}, err
	}
	var si, ci []int
	for _, s := range cols.Spend {
		i, err := find(s)
		if err != nil {
			return Data{}, err
		}
		si = append(si, i)
	}
	for _, s := range cols.Controls {
		i, err := find(s)
		if err != nil {
			return Data{}, err
		}
		ci = append(ci, i)
	}
	type row struct {
		date     time.Time
		line     int
		target   float64
		spend    []float64
		controls []float64
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return Data{}, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		cell := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		num := func(i int, name string, emptyZero bool) (float64, error) {
			s := cell(i)
			if s == "" && emptyZero {
				return 0, nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("line %d: %s %q is not a number", line, name, s)
			}
			return v, nil
		}
		d, err := parseDay(cell(di))
		if err != nil {
			return Data{}, fmt.Errorf("line %d: %w", line, err)
		}
		rw := row{date: d, line: line}
		if rw.target, err = num(ti, cols.Target, false); err != nil {
			return Data{}, err
		}
		for k, i := range si {
			v, err := num(i, cols.Spend[k], true)
			if err != nil {
				return Data{}, err
			}
			rw.spend = append(rw.spend, v)
		}
		for k, i := range ci {
			v, err := num(i, cols.Controls[k], true)
			if err != nil {
				return Data{}, err
			}
			rw.controls = append(rw.controls, v)
		}
		rows = append(rows, rw)
	}
	if len(rows) == 0 {
		return Data{}, errors.New("the file has no data rows")
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.date.Compare(b.date) })
	d := Data{Channels: cols.Spend, Controls: cols.Controls,
		Spend: make([][]float64, len(cols.Spend)), ControlValues: make([][]float64, len(cols.Controls))}
	for i, rw := range rows {
		if i > 0 && rw.date.Equal(rows[i-1].date) {
			return Data{}, fmt.Errorf("line %d: date %s also on line %d: one row per date", rw.line, civil(rw.date), rows[i-1].line)
		}
		d.Dates = append(d.Dates, rw.date)
		d.Target = append(d.Target, rw.target)
		for c, v := range rw.spend {
			d.Spend[c] = append(d.Spend[c], v)
		}
		for k, v := range rw.controls {
			d.ControlValues[k] = append(d.ControlValues[k], v)
		}
	}
	return d, nil
}

// parseDay reads YYYY-MM-DD (also with slashes, or an RFC 3339 time's date).
func parseDay(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.DateOnly, "2006/01/02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return civilDay(t), nil
		}
	}
	if len(s) > 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return civilDay(t), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
}
