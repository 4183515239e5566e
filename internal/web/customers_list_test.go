package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/value"
)

// listFixture is a shop of 130 customers written straight into the derived tables: each
// with a last-seen time and 0 to 6 orders over the year before testNow, from a few
// channels. It returns what it wrote, for the test to compute the expected lists.
type listFixtureCustomer struct {
	id                        int64
	lastSeen, lastOrder, nOrd int64
}

func listFixture(t *testing.T, db *store.DB) map[int64]*listFixtureCustomer {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 13))
	channels := []string{"Paid Search", "Email", "Direct", "Organic Social"}
	out := map[int64]*listFixtureCustomer{}
	now := testNow.UnixMilli()
	day := int64(24 * 3600 * 1000)
	seq := int64(0)
	for id := int64(1); id <= 130; id++ {
		c := &listFixtureCustomer{id: id, lastSeen: now - rng.Int64N(360*day) - id}
		n := rng.Int64N(7)
		if id%10 == 0 {
			n = 0 // some never ordered: no prediction, no segment
		}
		for k := int64(0); k < n; k++ {
			seq++
			ts := now - rng.Int64N(360*day) - 1000*seq
			if _, err := db.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', ?, 1, ?)`,
				fmt.Sprintf("o-%d", seq), id, ts, 1000+rng.Int64N(20000), channels[rng.IntN(len(channels))], seq); err != nil {
				t.Fatal(err)
			}
			c.nOrd++
			c.lastOrder = max(c.lastOrder, ts)
		}
		if _, err := db.Exec(ctx, `INSERT INTO customers (id, first_seen, last_seen, name, email) VALUES (?, ?, ?, ?, ?)`,
			id, c.lastSeen-day, c.lastSeen, fmt.Sprintf("Customer %d", id), fmt.Sprintf("c%d@example.com", id)); err != nil {
			t.Fatal(err)
		}
		out[id] = c
	}
	return out
}

// TestCustomerListFilters checks the customer list's filters (segment, churn band,
// acquisition channel), sorts (last seen, predicted value, last order, orders, churn
// risk; both directions) and pages against lists the test computes from the data it
// wrote and the value snapshot (value.Service), for every combination of filters, and
// every order under each filter; the CSV export carries every matching customer.
func TestCustomerListFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		data := listFixture(t, db)
		// One value service for the test and the dashboard, as serve shares one between
		// the dashboard and the API: the models are fitted once (the fit is most of this
		// test's time).
		vs := value.NewService(db)
		ts := newTestServer(t, db, Options{Value: vs})
		c, _ := ts.loggedIn(t)
		snap, err := vs.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		type facts struct {
			segment, band, channel string
			clv, pAlive            float64
			hasValue               bool
		}
		info := map[int64]facts{}
		segs, chans := map[string]bool{}, map[string]bool{}
		for id := range data {
			k := strconv.FormatInt(id, 10)
			var f facts
			if pr, _, ok := snap.Prediction(k); ok {
				f.hasValue, f.clv, f.band = true, pr.CLV, pr.ChurnBand
				f.pAlive = pr.PAliveBGNBD
				if pr.PAlivePareto >= 0 {
					f.pAlive = pr.PAlivePareto
				}
			}
			if sc, ok := snap.RFM(k); ok {
				f.segment = sc.Segment
				segs[sc.Segment] = true
			}
			if data[id].nOrd > 0 {
				f.channel = snap.Channels[k]
				if f.channel == "" {
					f.channel = value.UnknownChannel
				}
				chans[f.channel] = true
			}
			info[id] = f
		}
		if len(segs) < 3 || len(chans) < 3 {
			t.Fatalf("the fixture should spread customers over segments and channels: %v %v", segs, chans)
		}
		// expected is the list the page should show, computed here from the fixture.
		expected := func(segment, band, channel, sortKey string, asc bool) []int64 {
			var ids []int64
			for id, f := range info {
				if (segment == "" || f.segment == segment) && (band == "" || f.band == band) && (channel == "" || f.channel == channel) {
					ids = append(ids, id)
				}
			}
			key := func(id int64) (float64, bool) {
				d, f := data[id], info[id]
				switch sortKey {
				case "value":
					return f.clv, f.hasValue
				case "churn":
					return -f.pAlive, f.hasValue
				case "last_order":
					return float64(d.lastOrder), d.nOrd > 0
				case "orders":
					return float64(d.nOrd), true
				}
				return float64(d.lastSeen), true
			}
			slices.SortFunc(ids, func(a, b int64) int {
				ka, oka := key(a)
				kb, okb := key(b)
				switch {
				case oka && !okb:
					return -1
				case okb && !oka:
					return 1
				case ka != kb && asc == (ka < kb):
					return -1
				case ka != kb:
					return 1
				}
				return int(a - b)
			})
			return ids
		}
		type listJSON struct {
			Tables    map[string][]map[string]string `json:"tables"`
			Customers struct{ Matching, Page, Pages int }
		}
		fetch := func(q url.Values) listJSON {
			t.Helper()
			q.Set("format", "json")
			q.Set("range", "all")
			resp, body := get(t, c, ts.URL+"/customers?"+q.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %.300s", q.Encode(), resp.StatusCode, body)
			}
			var lj listJSON
			if err := json.Unmarshal([]byte(body), &lj); err != nil {
				t.Fatal(err)
			}
			return lj
		}
		ids := func(rows []map[string]string) []int64 {
			var out []int64
			for _, r := range rows {
				n, _ := strconv.ParseInt(r["Customer"], 10, 64)
				out = append(out, n)
			}
			return out
		}
		check := func(segment, band, channel, sortKey, dir string, allPages bool) {
			t.Helper()
			want := expected(segment, band, channel, sortKey, dir == "asc")
			q := url.Values{"segment": {segment}, "band": {band}, "channel": {channel}, "sort": {sortKey}, "dir": {dir}}
			lj := fetch(q)
			label := q.Encode()
			pages := max(1, (len(want)+49)/50)
			if lj.Customers.Matching != len(want) || lj.Customers.Pages != pages || lj.Customers.Page != 1 {
				t.Errorf("%s: %d matching in %d pages (page %d), want %d in %d", label, lj.Customers.Matching, lj.Customers.Pages, lj.Customers.Page, len(want), pages)
			}
			got := ids(lj.Tables["customers"])
			if !allPages {
				if first := want[:min(50, len(want))]; !slices.Equal(got, first) {
					t.Errorf("%s: first page %v, want %v", label, got, first)
				}
				return
			}
			for p := 2; p <= pages; p++ {
				q.Set("page", strconv.Itoa(p))
				lj := fetch(q)
				if lj.Customers.Page != p {
					t.Errorf("%s: page %d answered as %d", label, p, lj.Customers.Page)
				}
				got = append(got, ids(lj.Tables["customers"])...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: pages hold %v, want %v", label, got, want)
			}
		}
		bands := []string{"", value.BandActive, value.BandCooling, value.BandAtRisk, value.BandLost}
		segList := append([]string{""}, slices.Sorted(maps.Keys(segs))...)
		chanList := append([]string{""}, slices.Sorted(maps.Keys(chans))...)
		// Every combination of filters, in the default order (a combination narrowing
		// an empty list is empty too: checked once). Under -short (a developer's quick run)
		// each filter alone is checked, below; CI checks every combination.
		crossSegs := segList
		if testing.Short() {
			crossSegs = segList[:1]
		}
		for _, sg := range crossSegs {
			for _, b := range bands {
				if len(expected(sg, b, "", "last_seen", false)) == 0 {
					check(sg, b, "", "last_seen", "desc", false)
					continue
				}
				for _, ch := range chanList {
					check(sg, b, ch, "last_seen", "desc", false)
				}
			}
		}
		// Every order, both ways, under no filter (walking every page) and each filter.
		for _, so := range customerSorts {
			for _, dir := range []string{"desc", "asc"} {
				check("", "", "", so.Key, dir, true)
				if testing.Short() && dir == "asc" {
					continue // each filter under each order one way; CI checks both ways
				}
				for _, sg := range segList[1:] {
					check(sg, "", "", so.Key, dir, false)
				}
				for _, b := range bands[1:] {
					check("", b, "", so.Key, dir, false)
				}
				for _, ch := range chanList[1:] {
					check("", "", ch, so.Key, dir, false)
				}
			}
		}

		// The page says where it is and links its neighbours with the filters kept.
		ch := chanList[1]
		all := expected("", "", ch, "orders", false)
		_, body := get(t, c, ts.URL+"/customers?range=all&sort=orders&channel="+url.QueryEscape(ch))
		if want := fmt.Sprintf("%d of 130 customers shown by these filters · page 1 of %d.", len(all), max(1, (len(all)+49)/50)); !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
		_, body = get(t, c, ts.URL+"/customers?range=all&page=2")
		if !strings.Contains(body, "page 2 of 3") || !strings.Contains(body, `rel="prev"`) || !strings.Contains(body, `rel="next"`) {
			t.Errorf("page 2 of the unfiltered list lacks its position or links")
		}
		// The CSV export of a filtered list holds every matching customer in order.
		resp, csvBody := get(t, c, ts.URL+"/customers?range=all&sort=value&format=csv&table=customers&channel="+url.QueryEscape(ch))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("csv: %d", resp.StatusCode)
		}
		recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var csvIDs []int64
		for _, r := range recs[1:] {
			n, _ := strconv.ParseInt(r[0], 10, 64)
			csvIDs = append(csvIDs, n)
		}
		if want := expected("", "", ch, "value", false); !slices.Equal(csvIDs, want) {
			t.Errorf("csv of channel %s: %v, want %v", ch, csvIDs, want)
		}
		// The CSV link on the page keeps the filters.
		if _, body := get(t, c, ts.URL+"/customers?range=all&band=lost&sort=churn"); !strings.Contains(body, "band=lost") || !strings.Contains(body, "format=csv") {
			t.Error("the CSV link drops the filters")
		}
	})
}
