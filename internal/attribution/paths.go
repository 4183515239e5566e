package attribution

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// pathColumns is ChannelAttribution's layout.
var pathColumns = []string{"path", "total_conversions", "total_conversion_value", "total_null"}

// ReadPaths reads a path file in ChannelAttribution's layout: a header
// path;total_conversions;total_conversion_value;total_null (";" or "," separated, detected
// from the header; total_conversion_value and total_null may be absent) and one row per
// path, "A > B > C", split on ">" with spaces trimmed. Rows repeating a path are summed
// into one journey (first-seen order). Touches have no times.
func ReadPaths(r io.Reader) ([]Journey, error) {
	br := bufio.NewReader(r)
	header, err := br.ReadString('\n')
	if err != nil && (err != io.EOF || header == "") {
		if err == io.EOF {
			return nil, errors.New("path file is empty")
		}
		return nil, fmt.Errorf("read path file header: %w", err)
	}
	header = strings.TrimPrefix(header, "\ufeff")
	sep := ';'
	if !strings.ContainsRune(header, ';') && strings.ContainsRune(header, ',') {
		sep = ','
	}
	cr := csv.NewReader(io.MultiReader(strings.NewReader(header), br))
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true
	rec, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read path file header: %w", err)
	}
	col := map[string]int{}
	for i, name := range rec {
		col[strings.ToLower(strings.TrimSpace(name))] = i
	}
	for _, need := range pathColumns[:2] {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("path file header %q: missing column %q (want %s)", strings.TrimSpace(header), need, strings.Join(pathColumns, string(sep)))
		}
	}
	var out []Journey
	index := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("path file: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		field := func(name string) (string, bool) {
			i, ok := col[name]
			if !ok {
				return "", false
			}
			if i >= len(rec) {
				return "", true
			}
			return strings.TrimSpace(rec[i]), true
		}
		number := func(name string) (float64, error) {
			s, ok := field(name)
			if !ok {
				return 0, nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return 0, fmt.Errorf("path file line %d, column %s: %q is not a number >= 0", line, name, s)
			}
			return v, nil
		}
		path, _ := field("path")
		var touches []Touch
		for part := range strings.SplitSeq(path, ">") {
			if ch := strings.TrimSpace(part); ch != "" {
				touches = append(touches, Touch{Channel: ch})
			}
		}
		if len(touches) == 0 {
			return nil, fmt.Errorf("path file line %d, column path: empty path", line)
		}
		var j Journey
		if j.Conversions, err = number("total_conversions"); err != nil {
			return nil, err
		}
		if j.Value, err = number("total_conversion_value"); err != nil {
			return nil, err
		}
		if j.Nulls, err = number("total_null"); err != nil {
			return nil, err
		}
		var key strings.Builder
		for i, t := range touches {
			if i > 0 {
				key.WriteByte('>')
			}
			key.WriteString(t.Channel)
		}
		if i, ok := index[key.String()]; ok {
			out[i].Conversions += j.Conversions
			out[i].Value += j.Value
			out[i].Nulls += j.Nulls
			continue
		}
		j.Touches = touches
		index[key.String()] = len(out)
		out = append(out, j)
	}
	if len(out) == 0 {
		return nil, errors.New("path file has no rows")
	}
	return out, nil
}
