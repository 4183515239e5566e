package importer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// countingReader counts the bytes read from the file itself (compressed bytes for .gz),
// which is what the progress bar compares with the file size.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// formatOf picks csv or jsonl from a file name (a .gz suffix is looked through).
func formatOf(name string) (string, error) {
	base := strings.ToLower(filepath.Base(name))
	base = strings.TrimSuffix(base, ".gz")
	switch filepath.Ext(base) {
	case ".csv", ".tsv", ".txt":
		return "csv", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension; pass --format csv or --format jsonl", filepath.Base(name))
}

// decode unwraps gzip (by its magic bytes, not the name) and UTF-16 (by its BOM: Google
// Ads' "Excel CSV" export is UTF-16LE), and drops a UTF-8 BOM.
func decode(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	bom, _ := br.Peek(3)
	switch {
	case len(bom) >= 2 && (bom[0] == 0xff && bom[1] == 0xfe || bom[0] == 0xfe && bom[1] == 0xff):
		dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
		br = bufio.NewReaderSize(transform.NewReader(br, dec), 256<<10)
	case len(bom) == 3 && bom[0] == 0xef && bom[1] == 0xbb && bom[2] == 0xbf:
		_, _ = br.Discard(3)
	}
	return br, nil
}

// normKey turns a column name into its lookup key: "Order ID" → "order_id",
// "metrics.cost_micros" → "metrics_cost_micros", "Amount spent (EUR)" → "amount_spent_eur".
func normKey(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	return b.String()
}

// header is a CSV header row: original names and the index of each normalised key.
type header struct {
	names []string
	index map[string]int
}

func newHeader(names []string) *header {
	h := &header{names: append([]string(nil), names...), index: make(map[string]int, len(names))}
	for i, n := range names {
		k := normKey(n)
		if _, dup := h.index[k]; !dup && k != "" {
			h.index[k] = i
		}
	}
	return h
}

// row is one input record: a CSV row (hdr+vals) or a JSONL line (raw, and obj once parsed).
type row struct {
	line int
	hdr  *header
	vals []string
	raw  []byte
	obj  map[string]json.RawMessage // keys normalised
}

// get returns the first non-empty value among keys and the column it came from.
func (r *row) get(keys ...string) (val, col string) {
	for _, k := range keys {
		if v, c, ok := r.lookup(k); ok && v != "" {
			return v, c
		}
	}
	return "", ""
}

func (r *row) lookup(k string) (val, col string, ok bool) {
	if r.hdr != nil {
		i, ok := r.hdr.index[k]
		if !ok {
			return "", "", false
		}
		if i < len(r.vals) {
			return strings.TrimSpace(r.vals[i]), r.hdr.names[i], true
		}
		return "", r.hdr.names[i], true
	}
	v, ok := r.obj[k]
	if !ok {
		return "", "", false
	}
	return jsonText(v), k, true
}

// each calls fn for every column with its original name and value.
func (r *row) each(fn func(name, key, val string)) {
	if r.hdr != nil {
		for i, n := range r.hdr.names {
			v := ""
			if i < len(r.vals) {
				v = strings.TrimSpace(r.vals[i])
			}
			fn(n, normKey(n), v)
		}
		return
	}
	for k, v := range r.obj {
		fn(k, k, jsonText(v))
	}
}

// text is the row as it appeared in the input, for rejected_events.
func (r *row) text() string {
	if r.hdr == nil {
		return string(r.raw)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(r.vals)
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// jsonText is a JSON value as a cell: strings unquoted, null empty, others verbatim.
func jsonText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return strings.TrimSpace(s)
		}
	}
	return string(v)
}

// source yields rows; next returns io.EOF at the end.
type source interface {
	next() (*row, error)
}

// csvSource reads CSV (comma, semicolon or tab, sniffed) whose header is the first record
// isHeader accepts among the first 30: exports often open with title lines.
type csvSource struct {
	cr  *csv.Reader
	hdr *header
}

func newCSVSource(br *bufio.Reader, isHeader func(keys map[string]int) bool) (*csvSource, error) {
	peek, _ := br.Peek(64 << 10)
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(peek)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	s := &csvSource{cr: cr}
	var first []string
	for i := 0; i < 30; i++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read header: %w", err)
		}
		if first == nil {
			first = rec
		}
		h := newHeader(rec)
		if isHeader == nil || isHeader(h.index) {
			s.hdr = h
			return s, nil
		}
	}
	if first == nil {
		return nil, errors.New("the file is empty")
	}
	return nil, fmt.Errorf("no header row found (first line: %q); see docs/import.md for the expected columns", strings.Join(first, ","))
}

func (s *csvSource) next() (*row, error) {
	for {
		rec, err := s.cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("line %d: %w", pe.StartLine, err)
			}
			return nil, err
		}
		line, _ := s.cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		return &row{line: line, hdr: s.hdr, vals: rec}, nil
	}
}

func sniffDelimiter(peek []byte) rune {
	// Judge by the lines after a possible title line: take the line with the most separators.
	best, bestN := ',', 0
	for _, line := range bytes.SplitN(peek, []byte("\n"), 12) {
		for _, d := range []rune{',', '\t', ';'} {
			if n := bytes.Count(line, []byte(string(d))); n > bestN {
				best, bestN = d, n
			}
		}
	}
	return best
}

// jsonlSource reads one JSON value per line; parse says whether to decode objects into row.obj.
type jsonlSource struct {
	br    *bufio.Reader
	line  int
	parse bool
}

func (s *jsonlSource) next() (*row, error) {
	for {
		b, err := s.br.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			return nil, err
		}
		s.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		r := &row{line: s.line, raw: b}
		if s.parse {
			var m map[string]json.RawMessage
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil || m == nil {
				r.obj = nil
				return r, nil // the converter reports the bad line
			}
			r.obj = make(map[string]json.RawMessage, len(m))
			for k, v := range m {
				r.obj[normKey(k)] = v
			}
		}
		return r, nil
	}
}
