package web

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestStoredImpossibleEventsBounded: events an older version stored without the API's
// checks (an order dated 9999, one in year 1, one of 10^17 minor units, an order row
// of math.MaxInt64) must not make any page use much more memory or output than the
// same page over the real data. One such event used to turn the Segments page (its
// cohort table) into 50 MB of HTML.
func TestStoredImpossibleEventsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		pages := []string{"/segments", "/?range=all", "/spend?range=all", "/attribution?range=all", "/customers?range=all", "/sources?range=all"}
		type cost struct {
			bytes int
			alloc uint64
		}
		first := true
		measure := func() map[string]cost {
			// A fresh dashboard each time: nothing cached.
			ts := &testServer{db: db, now: testNow}
			h, err := NewHandler(db, Options{Now: ts.Now, computeWait: time.Minute, noWarm: true})
			if err != nil {
				t.Fatal(err)
			}
			ts.Server = httptest.NewServer(h)
			defer ts.Close()
			if first {
				if _, err := auth.CreateUser(context.Background(), db, testEmail, testPassword); err != nil {
					t.Fatal(err)
				}
				first = false
			}
			c, _ := ts.loggedIn(t)
			out := map[string]cost{}
			for _, p := range pages {
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				resp, body := get(t, c, ts.URL+p)
				runtime.ReadMemStats(&m1)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s: %d\n%.400s", p, resp.StatusCode, body)
				}
				out[p] = cost{len(body), m1.TotalAlloc - m0.TotalAlloc}
			}
			return out
		}
		before := measure()

		ctx := context.Background()
		src, err := db.EnsureSource(ctx, "web shop")
		if err != nil {
			t.Fatal(err)
		}
		var evs []event.Event
		for i, x := range []struct {
			at      time.Time
			revenue string
		}{
			{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "10"},
			{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "10"},
			{time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), "1e15"},
			{time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC), "92233720368547758.07"}, // math.MaxInt64 cents
		} {
			body := fmt.Sprintf(`{"type":"track","event":"Order Completed","userId":"u-evil-%d","messageId":"old-%d","properties":{"order_id":"EVIL-%d","revenue":%s,"currency":"EUR"},"timestamp":%q}`,
				i, i, i, x.revenue, event.FormatTime(x.at))
			evs = append(evs, event.Event{SourceID: src.ID, MessageID: fmt.Sprintf("old-%d", i), Type: "track", Name: "Order Completed",
				UserID: fmt.Sprintf("u-evil-%d", i), Timestamp: x.at, ReceivedAt: testNow, Body: []byte(body)})
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			if err := store.LockEventLog(ctx, tx); err != nil {
				return err
			}
			if _, err := store.InsertEvents(ctx, tx, evs); err != nil {
				return err
			}
			// Spend an older importer took.
			_, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency, impressions, clicks) VALUES ('2026-03-07', 'Paid Search', 'evil', 'manual', ?, 'EUR', ?, 1)`,
				int64(math.MaxInt64), int64(math.MaxInt64))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := identity.NewProcessor(db, identity.Options{}).CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		// The order row an older processor derived from the last event (this one refuses
		// its amount).
		if _, err := db.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, items, source_id, seq)
			SELECT 'EVIL-3', customer_id, ts, ?, 'EUR', 'web', channel, '[]', source_id, seq FROM activity
			WHERE seq = (SELECT seq FROM events WHERE message_id = 'old-3') AND NOT EXISTS (SELECT 1 FROM orders WHERE order_id = 'EVIL-3')`, int64(math.MaxInt64)); err != nil {
			t.Fatal(err)
		}
		after := measure()
		for _, p := range pages {
			b, a := before[p], after[p]
			t.Logf("%-24s %7d → %7d bytes, %6.1f → %6.1f MB allocated", p, b.bytes, a.bytes, float64(b.alloc)/1e6, float64(a.alloc)/1e6)
			if a.bytes > b.bytes*3/2+8<<10 {
				t.Errorf("%s: %d bytes with the old impossible events, %d without", p, a.bytes, b.bytes)
			}
			if a.alloc > 2*b.alloc+32<<20 {
				t.Errorf("%s: %.1f MB allocated with the old impossible events, %.1f without", p, float64(a.alloc)/1e6, float64(b.alloc)/1e6)
			}
		}
	})
}

// TestRangeWithinDataSpan: periods cannot start before 1990 or end more than a year
// ahead, and "all time" starts in 1990 in SQL bounds.
func TestRangeWithinDataSpan(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for _, q := range []string{"from=1900-01-01&to=2026-01-01", "from=0001-01-01", "to=1989-12-31", "from=2026-01-01&to=2099-12-31", "to=9999-12-31"} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseRange(v, now, time.UTC); err == nil {
			t.Errorf("%s accepted", q)
		}
	}
	for _, q := range []string{"from=1990-01-01&to=2026-03-31", "from=2026-01-01&to=2027-03-31"} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseRange(v, now, time.UTC); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	r, err := ParseRange(url.Values{"range": {"all"}}, now, time.UTC)
	if err != nil || r.FromMS() != event.MinTime.UnixMilli() || r.FromDay() != "1990-01-01" {
		t.Fatalf("all time: %v, from %d %s", err, r.FromMS(), r.FromDay())
	}
}
