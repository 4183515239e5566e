package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/money"
)

// Table is a server-rendered table; the same rows are served as CSV (?format=csv&table=ID)
// and JSON (?format=json).
type Table struct {
	ID      string
	Caption string
	Cols    []Col
	Rows    [][]Cell
	Empty   string // shown instead of an empty table
	CSVHref string // set by the page when the table is registered
	Hidden  bool   // a chart's fallback: visually collapsed under the chart, still read by screen readers
}

// Col is a column heading; Num right-aligns it.
type Col struct {
	Label string
	Num   bool
}

// Cell is what a table cell shows (Text, a link when Href is set) and what CSV and JSON
// carry (Raw when set: plain numbers without separators or currency symbols).
type Cell struct {
	Text string
	Raw  string
	Href string
}

func txt(s string) Cell { return Cell{Text: s} }
func num(n int64) Cell  { return Cell{Text: formatInt(n), Raw: fmt.Sprint(n)} }
func amount(minor int64, currency string) Cell {
	return Cell{Text: formatMoney(minor, currency), Raw: money.Format(minor, currency)}
}

func (c Cell) raw() string {
	if c.Raw != "" {
		return c.Raw
	}
	if c.Text == "–" { // no value: an empty spreadsheet cell
		return ""
	}
	return c.Text
}

// writeCSV writes t as CSV with a header row.
func writeCSV(w http.ResponseWriter, t *Table, filename string) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	cw := csv.NewWriter(w)
	head := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		head[i] = c.Label
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(t.Cols))
	for _, row := range t.Rows {
		for i := range rec {
			rec[i] = ""
			if i < len(row) {
				rec[i] = csvSafe(row[i].raw())
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas in text that came from events (a customer named
// "=HYPERLINK(...)"), leaving plain negative numbers alone.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '@', '\t', '\r':
		return "'" + s
	case '-':
		if strings.Trim(s[1:], "0123456789.") != "" {
			return "'" + s
		}
	}
	return s
}

// jsonRows turns t into objects keyed by column label, for ?format=json.
func (t *Table) jsonRows() []map[string]string {
	out := make([]map[string]string, 0, len(t.Rows))
	for _, row := range t.Rows {
		m := make(map[string]string, len(t.Cols))
		for i, c := range t.Cols {
			if i < len(row) {
				m[c.Label] = row[i].raw()
			}
		}
		out = append(out, m)
	}
	return out
}

// Chart is drawn by static/app.js from a JSON island; Table holds the same numbers.
type Chart struct {
	ID       string       `json:"id"`
	Kind     string       `json:"kind"` // bar, line, sankey, funnel, heatmap, curve
	Title    string       `json:"title"`
	Money    bool         `json:"money,omitempty"` // values are major units of Currency
	Currency string       `json:"currency,omitempty"`
	Stacked  bool         `json:"stacked,omitempty"`
	X        []string     `json:"x,omitempty"`
	Labels   []string     `json:"labels,omitempty"` // funnel: each stage's label with its numbers
	Series   []Series     `json:"series,omitempty"`
	Nodes    []string     `json:"nodes,omitempty"`  // sankey
	Links    []Link       `json:"links,omitempty"`  // sankey
	Y        []string     `json:"y,omitempty"`      // heatmap rows
	Cells    [][3]float64 `json:"cells,omitempty"`  // heatmap [x, y, value]
	Height   int          `json:"height,omitempty"` // px, for charts with many rows (set by app.js, so no-JS pages stay compact)
	// curve: Series are the estimate, its low and its high; Mark is the [x index, y]
	// point to mark (the current spend), named MarkName.
	Mark     []float64 `json:"mark,omitempty"`
	MarkName string    `json:"markname,omitempty"`
	Table    *Table    `json:"-"`
}

// Series is one line or set of bars (or funnel stages, with X as stage names).
type Series struct {
	Name string    `json:"name"`
	Data []float64 `json:"data"`
}

// Link is a sankey flow.
type Link struct {
	Source string  `json:"source"`
	Target string  `json:"target"`
	Value  float64 `json:"value"`
}

// island renders the chart's data as a JSON script element; json.Marshal escapes <, >
// and &, so the content cannot close the element.
func (c *Chart) Island() (template.HTML, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return template.HTML(`<script type="application/json" id="` + template.HTMLEscapeString(c.ID) + `-data">` + string(b) + `</script>`), nil
}
