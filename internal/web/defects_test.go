package web

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestDailyRevenueWithTimeZone: with a time zone set, "Revenue per day" sums to the
// Revenue card on the first load and on every repeat load (served from the cache, whose
// days carried the first request's *time.Location and so matched no bucket of the next).
func TestDailyRevenueWithTimeZone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		for _, tz := range []string{"America/New_York", "Europe/Paris"} {
			if _, err := workspace.Set(context.Background(), db, "test", workspace.TimeZoneKey.Name, tz); err != nil {
				t.Fatal(err)
			}
			loc, _ := time.LoadLocation(tz)
			to := time.Date(2026, 4, 1, 0, 0, 0, 0, loc)
			_, want := sumOrders(to.AddDate(0, 0, -30), to)
			for load := 1; load <= 3; load++ {
				_, body := get(t, c, ts.URL+"/?format=json")
				var ov struct {
					Tables map[string][]map[string]string `json:"tables"`
				}
				if err := json.Unmarshal([]byte(body), &ov); err != nil {
					t.Fatalf("%s: %v\n%.300s", tz, err, body)
				}
				var got int64
				for _, row := range ov.Tables["revenue-over-time"] {
					f, err := strconv.ParseFloat(row["Revenue"], 64)
					if err != nil {
						t.Fatalf("%s: revenue %q: %v", tz, row["Revenue"], err)
					}
					got += int64(f*100 + 0.5)
				}
				if got != want {
					t.Fatalf("%s, load %d: revenue per day sums to %d, want %d (the orders of the period)", tz, load, got, want)
				}
			}
		}
	})
}

// TestDefaultPeriodEndsAtData: when the data stops days before today (an export imported
// once, the demo), the rolling periods end on the last day with data and say so, so the
// cards compare full days with full days; custom dates stay as chosen.
func TestDefaultPeriodEndsAtData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		period := func(q string) (string, string, string) {
			t.Helper()
			_, body := get(t, c, ts.URL+"/?format=json&"+q)
			var ov struct {
				Period struct{ From, To string }      `json:"period"`
				Tables map[string][]map[string]string `json:"tables"`
			}
			if err := json.Unmarshal([]byte(body), &ov); err != nil {
				t.Fatalf("%v\n%.300s", err, body)
			}
			var sum float64
			for _, row := range ov.Tables["revenue-over-time"] {
				f, _ := strconv.ParseFloat(row["Revenue"], 64)
				sum += f
			}
			return ov.Period.From, ov.Period.To, strconv.FormatFloat(sum, 'f', 2, 64)
		}
		// The fixture's last data is a refund on 30 March; "now" is 31 March: data is current.
		if from, to, _ := period(""); from != "2026-03-02" || to != "2026-03-31" {
			t.Fatalf("with current data the default period is %s..%s, want 2026-03-02..2026-03-31", from, to)
		}
		ts.advance(10 * 24 * time.Hour) // 10 April: nothing since 30 March
		from, to, rev := period("")
		_, want := sumOrders(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC))
		if from != "2026-03-01" || to != "2026-03-30" || rev != strconv.FormatFloat(float64(want)/100, 'f', 2, 64) {
			t.Fatalf("default period %s..%s with revenue %s; want 2026-03-01..2026-03-30 (the last 30 days with data) with %d", from, to, rev, want)
		}
		if from, to, _ := period("range=7d"); from != "2026-03-24" || to != "2026-03-30" {
			t.Fatalf("last 7 days: %s..%s, want 2026-03-24..2026-03-30", from, to)
		}
		if from, to, rev := period("range=all"); from != "" || to != "2026-03-30" || rev != strconv.FormatFloat(float64(fixtureTotal())/100, 'f', 2, 64) {
			t.Fatalf("all time: %s..%s with %s, want until 2026-03-30 (the last day with data) with every order", from, to, rev)
		}
		if from, to, _ := period("from=2026-04-01&to=2026-04-09"); from != "2026-04-01" || to != "2026-04-09" {
			t.Fatalf("custom dates moved: %s..%s", from, to)
		}
		_, body := get(t, c, ts.URL+"/")
		if !strings.Contains(body, "1 Mar 2026 – 30 Mar 2026, the last 30 days with data") || !strings.Contains(body, "recorded after 30 Mar 2026") {
			t.Fatalf("the page does not say the period ends at the data:\n%s", body)
		}
	})
}

// TestCountsWithoutDecimals: attributed orders are counts; on the Overview's ROI table
// and the Attribution page a whole count shows (and downloads) without ".0" or ".00".
func TestCountsWithoutDecimals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		seen := 0
		check := func(path, table string) {
			t.Helper()
			_, body := get(t, c, ts.URL+path+"?format=json")
			var js struct {
				Tables map[string][]map[string]string `json:"tables"`
			}
			if err := json.Unmarshal([]byte(body), &js); err != nil {
				t.Fatalf("%s: %v\n%.300s", path, err, body)
			}
			for _, row := range js.Tables[table] {
				for col, v := range row {
					if col != "Attributed orders" && table != "conversions-by-model" || col == "Channel" {
						continue
					}
					seen++
					if strings.HasSuffix(v, ".0") || strings.HasSuffix(v, ".00") {
						t.Errorf("%s %s: %s printed %q", path, table, col, v)
					}
				}
			}
			_, page := get(t, c, ts.URL+path)
			for _, bad := range []string{`class="num">1.0<`, `class="num">0.0<`, `class="num">2.0<`} {
				if strings.Contains(page, bad) {
					t.Errorf("%s shows a count as %s", path, bad)
				}
			}
		}
		check("/", "channel-roi")
		check("/attribution", "conversions-by-model")
		if seen == 0 {
			t.Fatal("no attributed orders on the pages: the test checked nothing")
		}
	})
}

// TestConsentTable: the customer page shows consent as rows (category, state, source,
// when), one per permission, not the traits' JSON; omniroi's own decisions (an
// unsubscribe link) are rows too.
func TestConsentTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ctx := context.Background()
		identitytest.Load(t, db, "web shop", testNow, M{"type": "identify", "userId": "u-anna", "messageId": "consent-1",
			"timestamp": "2026-03-12T10:00:00Z", "traits": M{"consent": M{"email": M{"marketing": true}, "sms": M{"marketing": false}}}})
		var id int64
		if err := db.QueryRow(ctx, `SELECT id FROM customers WHERE user_id = 'u-anna'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO journey_consent (customer_id, channel, purpose, granted, updated_at, source) VALUES (?, 'email', 'marketing', 0, ?, 'unsubscribe link')`,
			id, time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		_, body := get(t, c, ts.URL+"/customers/"+strconv.FormatInt(id, 10)+"?format=json")
		var js struct {
			Tables map[string][]map[string]string `json:"tables"`
		}
		if err := json.Unmarshal([]byte(body), &js); err != nil {
			t.Fatalf("%v\n%.300s", err, body)
		}
		var got []string
		for _, r := range js.Tables["consent"] {
			got = append(got, r["Category"]+" | "+r["State"]+" | "+r["Source"]+" | "+r["When"])
		}
		want := []string{
			"email marketing | granted | source web shop | 2026-03-12 10:00",
			"sms marketing | refused | source web shop | 2026-03-12 10:00",
			"email marketing consent | granted | source web shop | 2026-03-09 11:00",
			"email marketing (journeys follow this first) | refused | unsubscribe link | 2026-03-20 09:00",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("consent rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		_, page := get(t, c, ts.URL+"/customers/"+strconv.FormatInt(id, 10))
		card := page[strings.Index(page, `id="consent-h"`):]
		card = card[:strings.Index(card, "<details>")] // "All traits" lists the raw values
		if !strings.Contains(card, "<th scope=\"col\">Category</th>") || strings.Contains(card, "{&#34;") || strings.Contains(card, `{"email"`) {
			t.Fatalf("the consent card is not a table of words:\n%s", card)
		}
	})
}

// TestChartsOfferTheirNumbers: every chart on every page comes with its table (the
// "Show table" toggle), and the funnel labels each stage with its count and the share
// going on to the next stage.
func TestChartsOfferTheirNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		var id int64
		if err := db.QueryRow(context.Background(), `SELECT id FROM customers WHERE user_id = 'u-anna'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		charts := 0
		for _, path := range []string{"/", "/attribution", "/paths", "/segments", "/spend", "/automations", "/budget", "/experiments", "/goals", "/customers/" + strconv.FormatInt(id, 10)} {
			resp, page := get(t, c, ts.URL+path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			boxes := strings.Split(page, `<figure class="chart-box">`)[1:]
			for _, b := range boxes {
				b = b[:strings.Index(b, "</figure>")]
				charts++
				if !strings.Contains(b, `class="table-block`) {
					t.Errorf("%s: a chart without its table:\n%.300s", path, b)
				}
			}
		}
		if charts < 5 {
			t.Fatalf("only %d charts on the pages: the test checked too little", charts)
		}
		// The funnel's labels, against its table.
		_, page := get(t, c, ts.URL+"/paths")
		i := strings.Index(page, `id="funnel-data"`)
		if i < 0 {
			t.Fatal("no funnel on /paths")
		}
		island := page[strings.Index(page[i:], ">")+i+1:]
		island = island[:strings.Index(island, "</script>")]
		var spec struct {
			X      []string                   `json:"x"`
			Labels []string                   `json:"labels"`
			Series []struct{ Data []float64 } `json:"series"`
		}
		if err := json.Unmarshal([]byte(island), &spec); err != nil {
			t.Fatalf("%v: %s", err, island)
		}
		if len(spec.Labels) != len(spec.X) || len(spec.X) < 2 {
			t.Fatalf("funnel labels %q for stages %q", spec.Labels, spec.X)
		}
		for k, st := range spec.X {
			n := int64(spec.Series[0].Data[k])
			want := st + ": " + formatInt(n)
			if k+1 < len(spec.X) && n > 0 {
				want += " · " + fmtPct(spec.Series[0].Data[k+1]/spec.Series[0].Data[k]) + " on to the next stage"
			}
			if spec.Labels[k] != want {
				t.Errorf("stage %d label %q, want %q", k, spec.Labels[k], want)
			}
		}
	})
}

func fixtureTotal() (minor int64) {
	for _, o := range fixtureOrders {
		minor += o.minor
	}
	return minor
}
