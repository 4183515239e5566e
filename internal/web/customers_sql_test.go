package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/workspace"
)

// fullCustomerList is how the customer list was computed before it paged in SQL: every
// customer of the period (or of the search) read with their orders summed from the
// orders table, the snapshot's figures added and filtered in memory, then sorted in Go
// (ties by customer number).
func fullCustomerList(t *testing.T, db *store.DB, snap *value.Snapshot, query, cur string, from, to int64,
	segment, band, channel, sortKey string, asc bool) []listedCustomer {
	t.Helper()
	ctx := context.Background()
	where, args := `c.last_seen >= ? AND c.last_seen < ?`, []any{from, to}
	if query != "" {
		where, args = customerMatch(query)
	}
	rows, err := db.Query(ctx, `SELECT c.id, c.name, c.email, c.phone, c.last_seen,
			COALESCE(o.n, 0), COALESCE(o.last, 0), COALESCE(o.revenue, 0)
		FROM customers c LEFT JOIN (SELECT customer_id, COUNT(*) AS n, MAX(ts) AS last,
			`+db.SumMinor("CASE WHEN currency = ? THEN revenue_minor ELSE 0 END")+` AS revenue
			FROM orders GROUP BY customer_id) o ON o.customer_id = c.id
		WHERE `+where, append([]any{cur}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var list []listedCustomer
	for rows.Next() {
		c, err := scanListed(rows)
		if err != nil {
			t.Fatal(err)
		}
		fillValue(snap, &c)
		if segment != "" && c.Segment != segment || band != "" && c.Band != band || channel != "" && c.Channel != channel {
			continue
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	val := func(c listedCustomer) (float64, bool) {
		switch sortKey {
		case "value":
			return c.CLV, c.HasValue
		case "churn":
			return -c.PAlive, c.HasValue
		case "last_order":
			return float64(c.LastOrder), c.LastOrder != 0
		case "orders":
			return float64(c.Orders), true
		}
		return float64(c.LastSeen), true
	}
	slices.SortFunc(list, func(x, y listedCustomer) int {
		a, aok := val(x)
		b, bok := val(y)
		switch {
		case aok != bok && aok:
			return -1
		case aok != bok:
			return 1
		case a != b && asc:
			return cmp.Compare(a, b)
		case a != b:
			return cmp.Compare(b, a)
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return list
}

// TestCustomerListSQLMatchesFullList: on a demo shop, where the processor keeps the
// per-customer order totals, the list paged and sorted in SQL shows the same customers,
// with the same orders, last order and revenue, in the same order as the full computation
// it replaced, for every sort in both directions, with and without the snapshot's
// filters, and for searches: in the CSV export (every row) and page by page in JSON.
func TestCustomerListSQLMatchesFullList(t *testing.T) {
	testenv.Slow(t, "loads a demo shop")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: 5, Customers: 300, End: end}, Dir: t.TempDir(),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
			t.Fatal(err)
		}
		loc, err := workspace.Location(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := workspace.Currency(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := commerce.SummariesCurrent(ctx, db, loc); err != nil || !ok {
			t.Fatalf("the processor does not keep the order totals (%v): the test would not read them", err)
		}
		var totals int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM customer_orders`).Scan(&totals); err != nil || totals < 100 {
			t.Fatalf("%d order totals (%v)", totals, err)
		}
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		snap, err := value.NewService(db).Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		segments, channels := valueFilterChoices(snap)
		if len(segments) < 2 || len(channels) < 2 {
			t.Fatalf("the demo should spread customers over segments and channels: %v %v", segments, channels)
		}
		// Ties: many customers share an order count, so the customer number decides.
		var tied int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM customers c JOIN customer_orders o ON o.customer_id = c.id WHERE o.orders = 1`).Scan(&tied); err != nil || tied < 10 {
			t.Fatalf("%d customers with one order (%v): the test needs ties", tied, err)
		}
		from, to := event.MinTime.UnixMilli(), int64(math.MaxInt64)

		type filter struct{ q, segment, band, channel string }
		filters := []filter{{}, {segment: segments[0]}, {band: value.BandActive}, {channel: channels[len(channels)-1]}, {q: "example"}, {q: "a"}}
		compared := 0
		for _, f := range filters {
			for _, so := range customerSorts {
				for _, dir := range []string{"desc", "asc"} {
					want := fullCustomerList(t, db, snap, f.q, cur, from, to, f.segment, f.band, f.channel, so.Key, dir == "asc")
					q := url.Values{"range": {"all"}, "q": {f.q}, "segment": {f.segment}, "band": {f.band}, "channel": {f.channel}, "sort": {so.Key}, "dir": {dir}}
					label := q.Encode()
					line := func(c listedCustomer) string {
						return fmt.Sprintf("%d %s %s %d %s", c.ID, c.Name, c.Email, c.Orders, money.Format(c.Revenue, cur))
					}
					var wantLines []string
					for _, c := range want {
						wantLines = append(wantLines, line(c))
					}
					// The CSV export: every row.
					q.Set("format", "csv")
					resp, body := get(t, c, ts.URL+"/customers?"+q.Encode())
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: %d %.300s", label, resp.StatusCode, body)
					}
					recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, r := range recs[1:] {
						got = append(got, strings.Join([]string{r[0], strings.TrimPrefix(r[1], "'"), r[2], r[4], r[6]}, " "))
					}
					if !slices.Equal(got, wantLines) {
						t.Errorf("%s: CSV has %d rows, the full list %d; first difference at %d", label, len(got), len(wantLines), firstDiff(got, wantLines))
					}
					// The JSON pages: the first two, and the last.
					q.Set("format", "json")
					pages := max(1, (len(want)+customerListLimit-1)/customerListLimit)
					for _, page := range slices.Compact([]int{1, min(2, pages), pages}) {
						q.Set("page", strconv.Itoa(page))
						_, body := get(t, c, ts.URL+"/customers?"+q.Encode())
						var lj struct {
							Tables    map[string][]map[string]string `json:"tables"`
							Customers struct{ Matching, Page, Pages int }
						}
						if err := json.Unmarshal([]byte(body), &lj); err != nil {
							t.Fatalf("%s: %v", label, err)
						}
						if lj.Customers.Matching != len(want) || lj.Customers.Pages != pages || lj.Customers.Page != page {
							t.Errorf("%s page %d: %+v, want %d matching in %d pages", label, page, lj.Customers, len(want), pages)
						}
						lo := (page - 1) * customerListLimit
						var got []string
						for _, r := range lj.Tables["customers"] {
							got = append(got, strings.Join([]string{r["Customer"], r["Name"], r["Email"], r["Orders"], r["Revenue"]}, " "))
						}
						if w := wantLines[min(lo, len(wantLines)):min(lo+customerListLimit, len(wantLines))]; !slices.Equal(got, w) {
							t.Errorf("%s page %d: %v, want %v", label, page, got, w)
						}
					}
					compared += len(want)
				}
			}
		}
		if compared < 1000 {
			t.Errorf("only %d rows compared", compared)
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
