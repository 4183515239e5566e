package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Set-at-a-time helpers: many rows (or many keys) go to the database as one argument,
// so a statement costs one round trip however many rows it touches. PostgreSQL gets
// arrays (unnest, = ANY), SQLite a JSON array read with json_each. The SQL text does not
// depend on the number of rows, so a prepared statement is reused.

// InInt64 returns the condition "col is one of vals" and its single argument.
func InInt64(d Dialect, col string, vals []int64) (string, any) {
	if d == Postgres {
		if vals == nil {
			vals = []int64{}
		}
		return col + " = ANY(?::bigint[])", vals
	}
	return col + " IN (SELECT value FROM json_each(?))", jsonArg(vals)
}

// InText is InInt64 for text values.
func InText(d Dialect, col string, vals []string) (string, any) {
	if d == Postgres {
		if vals == nil {
			vals = []string{}
		}
		return col + " = ANY(?::text[])", vals
	}
	return col + " IN (SELECT value FROM json_each(?))", jsonArg(vals)
}

func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // slices of int64 and string always marshal
	}
	return string(b)
}

// RowSet is a table of rows built in Go and passed to one statement, e.g.
//
//	rs := NewRowSet(d, "id bigint", "step bigint", "reason text")
//	rs.Add(id, step, reason)
//	from, args := rs.Table("v")
//	tx.Exec(ctx, "UPDATE t SET step = v.step FROM "+from+" WHERE t.id = v.id", args...)
//
// Columns are bigint or text; bigint values are int or int64, text values strings.
type RowSet struct {
	d     Dialect
	names []string
	text  []bool
	ints  [][]int64  // by column, for bigint columns
	strs  [][]string // by column, for text columns
	rows  [][]any    // SQLite: rows as JSON arrays
	n     int
}

// NewRowSet declares the columns as "name type", type bigint or text.
func NewRowSet(d Dialect, cols ...string) *RowSet {
	rs := &RowSet{d: d}
	for _, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		switch typ {
		case "bigint":
			rs.text = append(rs.text, false)
		case "text":
			rs.text = append(rs.text, true)
		default:
			panic("store.RowSet: column " + c + ": type must be bigint or text")
		}
		rs.names = append(rs.names, name)
	}
	rs.ints = make([][]int64, len(cols))
	rs.strs = make([][]string, len(cols))
	return rs
}

// Add appends a row; it panics on a wrong count or type (a programming error).
func (rs *RowSet) Add(vals ...any) {
	if len(vals) != len(rs.names) {
		panic(fmt.Sprintf("store.RowSet: %d values for %d columns", len(vals), len(rs.names)))
	}
	for i, v := range vals {
		if rs.text[i] {
			s, ok := v.(string)
			if !ok {
				panic(fmt.Sprintf("store.RowSet: column %s wants a string, got %T", rs.names[i], v))
			}
			// PostgreSQL refuses invalid UTF-8 and JSON would rewrite it: store what both keep.
			s = strings.ToValidUTF8(s, "\uFFFD")
			if rs.d == Postgres {
				rs.strs[i] = append(rs.strs[i], s)
			} else {
				vals[i] = s
			}
			continue
		}
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		default:
			panic(fmt.Sprintf("store.RowSet: column %s wants an integer, got %T", rs.names[i], v))
		}
		if rs.d == Postgres {
			rs.ints[i] = append(rs.ints[i], n)
		} else {
			vals[i] = n
		}
	}
	if rs.d != Postgres {
		rs.rows = append(rs.rows, append([]any(nil), vals...))
	}
	rs.n++
}

// Len is the number of rows added.
func (rs *RowSet) Len() int { return rs.n }

// Table returns a FROM item named alias with the declared columns, and its arguments.
func (rs *RowSet) Table(alias string) (string, []any) {
	var b strings.Builder
	var args []any
	if rs.d == Postgres {
		b.WriteString("unnest(")
		for i := range rs.names {
			if i > 0 {
				b.WriteString(", ")
			}
			if rs.text[i] {
				b.WriteString("?::text[]")
				s := rs.strs[i]
				if s == nil {
					s = []string{}
				}
				args = append(args, s)
			} else {
				b.WriteString("?::bigint[]")
				n := rs.ints[i]
				if n == nil {
					n = []int64{}
				}
				args = append(args, n)
			}
		}
		b.WriteString(") AS " + alias + "(" + strings.Join(rs.names, ", ") + ")")
		return b.String(), args
	}
	b.WriteString("(SELECT ")
	for i, name := range rs.names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("json_extract(value, '$[" + strconv.Itoa(i) + "]') AS " + name)
	}
	b.WriteString(" FROM json_each(?)) AS " + alias)
	rows := rs.rows
	if rows == nil {
		rows = [][]any{}
	}
	return b.String(), []any{jsonArg(rows)}
}

// Rows returns the rows added so far, in order (SQLite only; nil on PostgreSQL). On
// SQLite a prepared statement run once per row costs no round trip, and measured
// faster than json_each: 20,000 plain inserts took 80 ms against 140 ms, and UPDATE ...
// FROM json_each is planned as a scan of the target table per row.
func (rs *RowSet) Rows() [][]any { return rs.rows }
