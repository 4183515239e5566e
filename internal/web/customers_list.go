package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

// The customer list pages and sorts in SQL: the customers of the period (or of a search)
// joined to their order totals (commerce.CustomerTotalsSQL, kept by the processor), in
// the order of the sort link, LIMIT and OFFSET. Predicted value, churn risk, segment and
// acquisition channel are the value snapshot's, in memory: when the list is filtered or
// sorted by them, SQL gives the matching customers' numbers in order and the snapshot
// filters and orders them; only the page's rows are then read. Ties go by customer number
// either way.

// customerList is one reading of the list: what to show and in which order.
type customerList struct {
	query, cur string
	loc        *time.Location // the business time zone (whether the order totals are kept for it)
	from, to   int64
	sort       string
	asc        bool
	// snap and the filters, when the list needs the value snapshot to filter or sort.
	snap                   *value.Snapshot
	segment, band, channel string
}

// needsSnapshot reports whether the snapshot filters or orders the list.
func (l *customerList) needsSnapshot() bool {
	return l.segment != "" || l.band != "" || l.channel != "" || l.sort == "value" || l.sort == "churn"
}

// from is the list's FROM and WHERE clauses with their arguments; withTotals joins the
// order totals (alias o).
func (s *server) customerListFrom(ctx context.Context, l *customerList, withTotals bool) (string, []any, error) {
	where, args := `c.last_seen >= ? AND c.last_seen < ?`, []any{l.from, l.to}
	if l.query != "" {
		// Substring search over 20k customers is a scan of a few ms; exact identifiers
		// (user ids, anonymous ids, emails) go through the identities primary key.
		where, args = customerMatch(l.query)
	}
	if !withTotals {
		return ` FROM customers c WHERE ` + where, args, nil
	}
	totals, targs, err := commerce.CustomerTotalsSQL(ctx, s.db, l.loc, l.cur)
	if err != nil {
		return "", nil, fmt.Errorf("list customers: %w", err)
	}
	return ` FROM customers c LEFT JOIN (` + totals + `) o ON o.customer_id = c.id WHERE ` + where, append(targs, args...), nil
}

// orderBy is the SQL order of the list's stored sorts (the snapshot's sorts read the
// customers by number and order them in memory).
func (l *customerList) orderBy() string {
	dir := " DESC"
	if l.asc {
		dir = " ASC"
	}
	switch l.sort {
	case "orders":
		return `COALESCE(o.orders, 0)` + dir + `, c.id`
	case "last_order": // customers without orders last either way
		return `CASE WHEN COALESCE(o.last, 0) = 0 THEN 1 ELSE 0 END, COALESCE(o.last, 0)` + dir + `, c.id`
	case "value", "churn":
		return `c.id`
	}
	return `c.last_seen` + dir + `, c.id`
}

const customerListColumns = `c.id, c.name, c.email, c.phone, c.last_seen, COALESCE(o.orders, 0), COALESCE(o.last, 0), COALESCE(o.revenue, 0)`

func scanListed(rows interface{ Scan(...any) error }) (listedCustomer, error) {
	var c listedCustomer
	err := rows.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.LastSeen, &c.Orders, &c.LastOrder, &c.Revenue)
	return c, err
}

// customerIDs returns the numbers of every customer the list shows, in its order: SQL
// orders the stored sorts, the snapshot filters and orders its own.
func (s *server) customerIDs(ctx context.Context, l *customerList) ([]int64, error) {
	join := l.sort == "orders" || l.sort == "last_order"
	from, args, err := s.customerListFrom(ctx, l, join)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT c.id`+from+` ORDER BY `+l.orderBy(), args...)
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	type keyed struct {
		id  int64
		val float64
		ok  bool
	}
	var out []keyed
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list customers: %w", err)
		}
		c := listedCustomer{ID: id}
		fillValue(l.snap, &c)
		if l.segment != "" && c.Segment != l.segment || l.band != "" && c.Band != l.band || l.channel != "" && c.Channel != l.channel {
			continue
		}
		k := keyed{id: id, ok: c.HasValue}
		switch l.sort {
		case "value":
			k.val = c.CLV
		case "churn": // risk: the lower the chance of still being a customer, the higher
			k.val = -c.PAlive
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	if l.sort == "value" || l.sort == "churn" {
		// Read by customer number, so a stable sort leaves ties in that order.
		slices.SortStableFunc(out, func(a, b keyed) int {
			if a.ok != b.ok {
				if a.ok {
					return -1
				}
				return 1
			}
			if l.asc {
				return cmp.Compare(a.val, b.val)
			}
			return cmp.Compare(b.val, a.val)
		})
	}
	ids := make([]int64, len(out))
	for i, k := range out {
		ids[i] = k.id
	}
	return ids, nil
}

// customersByID reads the customers' rows, in the order of ids.
func (s *server) customersByID(ctx context.Context, l *customerList, ids []int64) ([]listedCustomer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, arg := store.InInt64(s.db.Dialect, "c.id", ids)
	list, err := s.customersWithTotals(ctx, l, `SELECT c.id, c.name, c.email, c.phone, c.last_seen FROM customers c WHERE `+in, arg)
	if err != nil {
		return nil, err
	}
	at := make(map[int64]int, len(ids))
	for i, id := range ids {
		at[id] = i
	}
	out := make([]listedCustomer, len(ids))
	for _, c := range list {
		out[at[c.ID]] = c
	}
	return out, nil
}

// customersWithTotals reads a few customers (q selects id, name, email, phone and last
// seen) and adds their order totals.
func (s *server) customersWithTotals(ctx context.Context, l *customerList, q string, args ...any) ([]listedCustomer, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	var list []listedCustomer
	var ids []int64
	for rows.Next() {
		var c listedCustomer
		if err := rows.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.LastSeen); err != nil {
			return nil, fmt.Errorf("list customers: %w", err)
		}
		list = append(list, c)
		ids = append(ids, c.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	totals, err := commerce.CustomerTotalsOf(ctx, s.db, l.loc, l.cur, ids)
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	for i := range list {
		t := totals[list[i].ID]
		list[i].Orders, list[i].LastOrder, list[i].Revenue = t.Orders, t.LastMS, t.RevenueMinor
	}
	return list, nil
}

// customerRows calls fn with the list's rows in its order, at most limit of them (all when
// limit < 0), from the offset countFirst returns when told how many customers match.
func (s *server) customerRows(ctx context.Context, l *customerList, limit int, countFirst func(matching int64) (offset int), fn func(listedCustomer) error) error {
	if l.needsSnapshot() {
		ids, err := s.customerIDs(ctx, l)
		if err != nil {
			return err
		}
		offset := countFirst(int64(len(ids)))
		ids = ids[min(offset, len(ids)):]
		if limit >= 0 {
			ids = ids[:min(limit, len(ids))]
		}
		for chunk := range slices.Chunk(ids, 500) {
			list, err := s.customersByID(ctx, l, chunk)
			if err != nil {
				return err
			}
			for _, c := range list {
				fillValue(l.snap, &c)
				if err := fn(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	from, args, err := s.customerListFrom(ctx, l, false)
	if err != nil {
		return err
	}
	var matching int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*)`+from, args...).Scan(&matching); err != nil {
		return fmt.Errorf("count customers: %w", err)
	}
	offset := countFirst(matching)
	if limit >= 0 && l.sort == "last_seen" {
		// One page in the default order: the customers by the last-seen index, then
		// the order totals of those on the page.
		list, err := s.customersWithTotals(ctx, l, `SELECT c.id, c.name, c.email, c.phone, c.last_seen`+from+
			` ORDER BY `+l.orderBy()+` LIMIT `+strconv.Itoa(limit)+` OFFSET `+strconv.Itoa(offset), args...)
		if err != nil {
			return err
		}
		for _, c := range list {
			fillValue(l.snap, &c)
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	from, args, err = s.customerListFrom(ctx, l, true)
	if err != nil {
		return err
	}
	q := `SELECT ` + customerListColumns + from + ` ORDER BY ` + l.orderBy()
	if limit >= 0 {
		q += ` LIMIT ` + strconv.Itoa(limit) + ` OFFSET ` + strconv.Itoa(offset)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanListed(rows)
		if err != nil {
			return fmt.Errorf("list customers: %w", err)
		}
		fillValue(l.snap, &c)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// fillValue sets the snapshot's figures of c (none when snap is nil).
func fillValue(snap *value.Snapshot, c *listedCustomer) {
	if snap == nil {
		return
	}
	id := strconv.FormatInt(c.ID, 10)
	if pr, _, ok := snap.Prediction(id); ok {
		c.HasValue, c.CLV, c.PAlive, c.Band = true, pr.CLV, pAlive(pr), pr.ChurnBand
	}
	sc, rfm := snap.RFM(id)
	if rfm {
		c.Segment = sc.Segment
	}
	if rfm || c.HasValue {
		c.Channel = cmp.Or(snap.Channels[id], value.UnknownChannel)
	}
}

// csvStream writes a table's header, then rows as they come, as writeCSV does.
type csvStream struct {
	cw  *csv.Writer
	rec []string
}

func newCSVStream(w http.ResponseWriter, t *Table, filename string) (*csvStream, error) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	cs := &csvStream{cw: csv.NewWriter(w), rec: make([]string, len(t.Cols))}
	head := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		head[i] = c.Label
	}
	return cs, cs.cw.Write(head)
}

func (cs *csvStream) row(row []Cell) error {
	for i := range cs.rec {
		cs.rec[i] = ""
		if i < len(row) {
			cs.rec[i] = csvSafe(row[i].raw())
		}
	}
	return cs.cw.Write(cs.rec)
}

func (cs *csvStream) close() error {
	cs.cw.Flush()
	return cs.cw.Error()
}

// csvWanted reports whether the request asks for the customers table as CSV.
func csvWanted(r *http.Request, table string) bool {
	q := r.URL.Query()
	return q.Get("format") == "csv" && (q.Get("table") == "" || q.Get("table") == table)
}
