package experiment

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Data is the per-unit input of an analysis read from a file: the arms in the order
// they first appear.
type Data struct {
	Arms   []Arm
	Type   MetricType
	HasPre bool // the file has a pre_value column (CUPED)
	Units  int
}

// maxCSVErrors is how many bad rows ReadCSV lists before it stops reading.
const maxCSVErrors = 20

// ReadCSV reads one row per unit: columns unit, variant, value and optionally pre_value
// (in any order, named in a header line; other columns are ignored). typ "" takes
// Proportion when every value is 0 or 1 and Mean otherwise; Proportion insists on 0/1.
// Every bad row is reported with its line number.
func ReadCSV(r io.Reader, typ MetricType) (Data, error) {
	if typ != "" && typ != Mean && typ != Proportion {
		return Data{}, fmt.Errorf("metric type %q: want mean or proportion", typ)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return Data{}, errors.New("the file is empty: want a header line unit,variant,value[,pre_value] and one row per unit")
	}
	if err != nil {
		return Data{}, fmt.Errorf("line 1: %w", err)
	}
	col := map[string]int{"unit": -1, "variant": -1, "value": -1, "pre_value": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := col[h]; ok {
			if j >= 0 {
				return Data{}, fmt.Errorf("line 1: column %q appears twice", h)
			}
			col[h] = i
		}
	}
	var missing []string
	for _, c := range []string{"unit", "variant", "value"} {
		if col[c] < 0 {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return Data{}, fmt.Errorf("line 1: the header lacks %s (want unit,variant,value and optionally pre_value; got %q)", strings.Join(missing, ", "), strings.Join(header, ","))
	}
	d := Data{HasPre: col["pre_value"] >= 0}
	type row struct {
		arm  int
		y, x float64
	}
	var rows []row
	armIdx := map[string]int{}
	unitLine := map[string]int{}
	binary := true
	var errs []string
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("line %d: %s", line, fmt.Sprintf(format, args...)))
	}
	for len(errs) < maxCSVErrors {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad(pe.Line, "%v", pe.Err)
				continue
			}
			return Data{}, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		field := func(name string) (string, bool) {
			i := col[name]
			if i >= len(rec) {
				return "", false
			}
			return strings.TrimSpace(rec[i]), true
		}
		unit, ok1 := field("unit")
		variant, ok2 := field("variant")
		vs, ok3 := field("value")
		if !ok1 || !ok2 || !ok3 {
			bad(line, "%d fields where the header has %d", len(rec), len(header))
			continue
		}
		if unit == "" {
			bad(line, "unit is empty")
			continue
		}
		if variant == "" {
			bad(line, "variant is empty")
			continue
		}
		if prev, dup := unitLine[unit]; dup {
			bad(line, "unit %q is already on line %d (one row per unit)", unit, prev)
			continue
		}
		y, err := parseNumber(vs)
		if err != nil {
			bad(line, "value %q %v", vs, err)
			continue
		}
		if y != 0 && y != 1 {
			binary = false
			if typ == Proportion {
				bad(line, "value %q: a proportion metric takes 0 or 1 per unit", vs)
				continue
			}
		}
		var x float64
		if d.HasPre {
			ps, ok := field("pre_value")
			if !ok {
				bad(line, "%d fields where the header has %d", len(rec), len(header))
				continue
			}
			if x, err = parseNumber(ps); err != nil {
				bad(line, "pre_value %q %v (use 0 for a unit with no pre-period activity)", ps, err)
				continue
			}
		}
		unitLine[unit] = line
		a, ok := armIdx[variant]
		if !ok {
			a = len(d.Arms)
			armIdx[variant] = a
			d.Arms = append(d.Arms, Arm{Name: variant})
		}
		rows = append(rows, row{a, y, x})
	}
	if len(errs) > 0 {
		msg := strings.Join(errs, "\n")
		if len(errs) >= maxCSVErrors {
			msg += "\n(stopped after " + strconv.Itoa(maxCSVErrors) + " bad rows)"
		}
		return Data{}, errors.New(msg)
	}
	if len(rows) == 0 {
		return Data{}, errors.New("no rows after the header: want one row per unit")
	}
	d.Type = typ
	if d.Type == "" {
		d.Type = Mean
		if binary {
			d.Type = Proportion
		}
	}
	for _, r := range rows {
		d.Arms[r.arm].Moments.Add(r.y, r.x)
	}
	d.Units = len(rows)
	return d, nil
}

func parseNumber(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("is empty")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("is not a number")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("is not a finite number")
	}
	return f, nil
}
