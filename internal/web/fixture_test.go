package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// testNow is the fixture's "now": the last 30 days are 2026-03-02 .. 2026-03-31.
var testNow = time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)

type M = map[string]any

// fixtureOrder is an order the fixture sends as an "Order Completed" event.
type fixtureOrder struct {
	user, id string
	at       time.Time
	minor    int64
	channel  string // properties.channel, "" for the processor's own attribution
}

// The fixture's orders: tests derive the expected figures from this list.
// fixtureRefundsMarch is what the fixture refunds in the last 30 days: 10.00 of A-2 and
// all of C-2 (a full refund, sent without an amount).
const fixtureRefundsMarch = 1000 + 2500

var fixtureOrders = []fixtureOrder{
	{"u-anna", "A-1", time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), 12050, ""},
	{"u-anna", "A-2", time.Date(2026, 3, 25, 9, 30, 0, 0, time.UTC), 4500, ""},
	{"u-ben", "B-1", time.Date(2026, 3, 20, 17, 0, 0, 0, time.UTC), 199900, "in_store"},
	{"u-carla", "C-1", time.Date(2026, 2, 15, 11, 0, 0, 0, time.UTC), 3000, ""}, // previous period
	{"u-carla", "C-2", time.Date(2026, 3, 29, 11, 0, 0, 0, time.UTC), 2500, ""},
}

type fixtureSpend struct {
	day, channel string
	minor        int64
	clicks       int64
}

var fixtureSpendRows = []fixtureSpend{
	{"2026-03-05", "Paid Search", 2000, 40},
	{"2026-03-06", "Paid Search", 3000, 50},
	{"2026-03-06", "Paid Social", 1500, 30},
	{"2026-02-20", "Paid Search", 9900, 10}, // previous period
}

func sumOrders(from, to time.Time) (n, minor int64) {
	for _, o := range fixtureOrders {
		if !o.at.Before(from) && o.at.Before(to) {
			n++
			minor += o.minor
		}
	}
	return n, minor
}

// seed writes the fixture through the real path: Segment payloads normalised into the
// event log, then the identity processor derives customers, activity and orders.
func seed(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	src, err := db.EnsureSource(ctx, "web shop")
	if err != nil {
		t.Fatal(err)
	}
	ts := func(t time.Time) string { return event.FormatTime(t) }
	day := func(d int, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	payloads := []M{
		{"type": "page", "anonymousId": "anon-anna", "name": "Home", "timestamp": ts(day(9, 10)),
			"context": M{"campaign": M{"source": "google", "medium": "cpc", "name": "spring-sale"}, "page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring-sale"}}},
		{"type": "identify", "anonymousId": "anon-anna", "userId": "u-anna", "timestamp": ts(day(9, 11)),
			"traits": M{"email": "Anna@Example.com", "name": "Anna Berger", "phone": "+49 30 1234567", "email_marketing_consent": true}},
		{"type": "page", "userId": "u-anna", "name": "Bikes", "timestamp": ts(day(10, 13)),
			"context": M{"page": M{"url": "https://shop.example/bikes", "referrer": "https://www.instagram.com/"}}},
		{"type": "identify", "userId": "u-ben", "timestamp": ts(day(1, 8)), "traits": M{"email": "ben@example.com", "name": "Ben Ortiz"}},
		{"type": "identify", "userId": "u-carla", "timestamp": time.Date(2026, 2, 14, 9, 0, 0, 0, time.UTC).Format(time.RFC3339), "traits": M{"email": "carla@example.com", "name": "Carla Nguyen"}},
		{"type": "track", "userId": "u-anna", "event": "Order Refunded", "timestamp": ts(day(27, 10)), "properties": M{"order_id": "A-2", "amount": 10}},
		{"type": "track", "userId": "u-carla", "event": "Order Refunded", "timestamp": ts(day(30, 10)), "properties": M{"order_id": "C-2"}}, // full refund
	}
	for _, o := range fixtureOrders {
		props := M{"order_id": o.id, "revenue": float64(o.minor) / 100, "currency": "EUR"}
		if o.channel != "" {
			props["channel"] = o.channel
		}
		payloads = append(payloads, M{"type": "track", "userId": o.user, "event": "Order Completed", "timestamp": ts(o.at), "properties": props})
	}
	var evs []event.Event
	for i, p := range payloads {
		p["messageId"] = fmt.Sprintf("fixture-%d", i)
		raw, _ := json.Marshal(p)
		e, err := event.Normalize(raw, "", testNow.Add(-10*time.Minute), time.Time{})
		if err != nil {
			t.Fatalf("normalize %s: %v", raw, err)
		}
		e.SourceID = src.ID
		evs = append(evs, e)
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		if _, err := store.InsertEvents(ctx, tx, evs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO rejected_events (source_id, received_at, origin, position, reason, body) VALUES (?, ?, ?, ?, ?, ?)`,
			src.ID, testNow.Add(-2*time.Hour).UnixMilli(), "api /v1/batch", 3, "timestamp: not an ISO-8601 date-time", `{"type":"track","timestamp":"yesterday"}`)
		if err != nil {
			return err
		}
		for _, s := range fixtureSpendRows {
			if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency, impressions, clicks) VALUES (?, ?, '', 'manual', ?, 'EUR', ?, ?)`,
				s.day, s.channel, s.minor, s.clicks*20, s.clicks); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := identity.NewProcessor(db, identity.Options{}).CatchUp(ctx); err != nil {
		t.Fatalf("process events: %v", err)
	}
}

// testServer runs the dashboard on httptest with a settable clock.
type testServer struct {
	*httptest.Server
	db  *store.DB
	mu  sync.Mutex
	now time.Time
}

func (ts *testServer) Now() time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.now
}

func (ts *testServer) advance(d time.Duration) {
	ts.mu.Lock()
	ts.now = ts.now.Add(d)
	ts.mu.Unlock()
}

const testEmail, testPassword = "owner@example.com", "correct horse battery"

func newTestServer(t testing.TB, db *store.DB, opt Options) *testServer {
	t.Helper()
	ts, _ := newTestServerOf(t, db, opt)
	return ts
}

// newTestServerOf is newTestServer that also returns the dashboard's server.
func newTestServerOf(t testing.TB, db *store.DB, opt Options) (*testServer, *server) {
	t.Helper()
	ts := &testServer{db: db, now: testNow}
	opt.Now = ts.Now
	if opt.computeWait == 0 {
		opt.computeWait = time.Minute // tests read the analyses, not the "computing" notice
	}
	srv, h, err := newServer(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	if _, err := auth.CreateUser(context.Background(), db, testEmail, testPassword); err != nil {
		t.Fatal(err)
	}
	return ts, srv
}

// client is a browser-like client: a cookie jar, no automatic redirects.
func (ts *testServer) client(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func postForm(t testing.TB, c *http.Client, u string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%.500s", body)
	}
	return m[1]
}

// login logs c in through the form and returns the session's CSRF token.
func (ts *testServer) login(t testing.TB, c *http.Client, email, password string) (*http.Response, string) {
	t.Helper()
	_, body := get(t, c, ts.URL+"/login")
	resp, body := postForm(t, c, ts.URL+"/login", url.Values{"csrf": {csrfOf(t, body)}, "email": {email}, "password": {password}, "next": {"/"}}, nil)
	return resp, body
}

func (ts *testServer) loggedIn(t testing.TB) (*http.Client, string) {
	t.Helper()
	c := ts.client(t)
	resp, body := ts.login(t, c, testEmail, testPassword)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d\n%.500s", resp.StatusCode, body)
	}
	_, page := get(t, c, ts.URL+"/")
	return c, csrfOf(t, page)
}
