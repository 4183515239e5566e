package web

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestCustomerTimelineByDay checks that a profile's timeline shows 50 events a page,
// newest first, under a heading per day, with links to older and newer pages, while
// the CSV keeps every event.
func TestCustomerTimelineByDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const events = 120
		now := testNow.UnixMilli()
		if _, err := db.Exec(ctx, `INSERT INTO customers (id, first_seen, last_seen, name) VALUES (1, ?, ?, 'Tess Lin')`, now-int64(events)*5*3600_000, now); err != nil {
			t.Fatal(err)
		}
		times := make([]time.Time, events) // newest first
		for k := range events {
			times[k] = testNow.Add(-time.Duration(k) * 5 * time.Hour)
			if _, err := db.Exec(ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, 1, ?, 'page', ?, 'Direct', 1)`,
				1000-k, times[k].UnixMilli(), fmt.Sprintf("Page %d", k)); err != nil {
				t.Fatal(err)
			}
		}
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		heading := regexp.MustCompile(`<h4 class="day">([^<]+)</h4>`)
		row := regexp.MustCompile(`<tr><td>(\d\d:\d\d)</td><td[^>]*>page: Page (\d+)</td>`)
		for page, lo := range []int{0, 50, 100} {
			u := ts.URL + "/customers/1"
			if page > 0 {
				u += fmt.Sprintf("?events=%d", page+1)
			}
			_, body := get(t, c, u)
			sec := body[strings.Index(body, `id="timeline"`):]
			sec = sec[:strings.Index(sec, "</section>")]
			hi := min(lo+50, events)
			var wantDays []string
			for _, tm := range times[lo:hi] {
				if d := tm.Format("Monday 2 January 2006"); !slices.Contains(wantDays, d) {
					wantDays = append(wantDays, d)
				}
			}
			var gotDays []string
			for _, m := range heading.FindAllStringSubmatch(sec, -1) {
				gotDays = append(gotDays, html.UnescapeString(m[1]))
			}
			if !slices.Equal(gotDays, wantDays) {
				t.Errorf("page %d: day headings %v, want %v", page+1, gotDays, wantDays)
			}
			rows := row.FindAllStringSubmatch(sec, -1)
			if len(rows) != hi-lo {
				t.Fatalf("page %d: %d events, want %d", page+1, len(rows), hi-lo)
			}
			for i, m := range rows {
				if want := fmt.Sprint(lo + i); m[2] != want || m[1] != times[lo+i].Format("15:04") {
					t.Errorf("page %d row %d: %s at %s, want Page %s at %s", page+1, i, m[2], m[1], want, times[lo+i].Format("15:04"))
				}
			}
			if want := fmt.Sprintf("Page %d of 3 (120 events, 50 a page)", page+1); !strings.Contains(sec, want) {
				t.Errorf("page %d lacks %q", page+1, want)
			}
			if older := strings.Contains(sec, `rel="next">Older events`); older != (page < 2) {
				t.Errorf("page %d: link to older events %v", page+1, older)
			}
			if newer := strings.Contains(sec, `rel="prev">‹ Newer events`); newer != (page > 0) {
				t.Errorf("page %d: link to newer events %v", page+1, newer)
			}
		}
		_, csvBody := get(t, c, ts.URL+"/customers/1?format=csv&table=timeline")
		if n := strings.Count(csvBody, "page: Page "); n != events {
			t.Errorf("timeline CSV holds %d events, want %d", n, events)
		}
	})
}
