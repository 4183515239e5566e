package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

var dashboardPaths = []string{"/", "/attribution", "/paths", "/customers", "/segments", "/spend", "/sources"}

func TestLoginRequired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := newTestServer(t, db, Options{})
		c := ts.client(t)
		for _, p := range append(dashboardPaths, "/customers/1", "/spend?format=csv") {
			resp, _ := get(t, c, ts.URL+p)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Errorf("GET %s without login: %d %q, want 303 to /login", p, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		for _, p := range []string{"/?format=json", "/spend?format=json"} {
			resp, body := get(t, c, ts.URL+p)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "login required") {
				t.Errorf("GET %s without login: %d %s, want 401", p, resp.StatusCode, body)
			}
		}
		req, _ := http.NewRequest("GET", ts.URL+"/sources", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("JSON request without login: %d, want 401", resp.StatusCode)
		}
		if resp, _ := postForm(t, c, ts.URL+"/sources", url.Values{"name": {"x"}}, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("POST without login: %d %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
		}
		// Static files are public: the login page needs its stylesheet.
		if resp, _ := get(t, c, ts.URL+"/static/app.css"); resp.StatusCode != 200 {
			t.Errorf("static: %d", resp.StatusCode)
		}
	})
}

func TestLoginLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := newTestServer(t, db, Options{})
		c := ts.client(t)
		resp, body := ts.login(t, c, testEmail, "wrong password")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password") {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		resp, _ = ts.login(t, c, "OWNER@example.com", testPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		var sess *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				sess = ck
			}
		}
		if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", sess)
		}
		var stored int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM sessions WHERE token_hash = ?`, sess.Value).Scan(&stored); err != nil || stored != 0 {
			t.Fatalf("the raw session token is stored in the database (%d, %v)", stored, err)
		}
		resp, page := get(t, c, ts.URL+"/")
		if resp.StatusCode != 200 || !strings.Contains(page, testEmail) {
			t.Fatalf("overview after login: %d", resp.StatusCode)
		}
		// Logout is a POST with the session's token; afterwards the old cookie is dead.
		resp, _ = postForm(t, c, ts.URL+"/logout", url.Values{"csrf": {csrfOf(t, page)}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		replay := ts.client(t)
		u, _ := url.Parse(ts.URL)
		replay.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: sess.Value}})
		if resp, _ := get(t, replay, ts.URL+"/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("old session cookie after logout: %d, want redirect to login", resp.StatusCode)
		}
		if resp, _ := get(t, c, ts.URL+"/logout"); resp.StatusCode == http.StatusOK {
			t.Fatal("GET /logout must not log out or succeed")
		}
	})
}

func TestSecureCookieBehindHTTPSProxy(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{})
	c := ts.client(t)
	_, body := get(t, c, ts.URL+"/login")
	resp, _ := postForm(t, c, ts.URL+"/login", url.Values{"csrf": {csrfOf(t, body)}, "email": {testEmail}, "password": {testPassword}},
		map[string]string{"X-Forwarded-Proto": "https"})
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie && !ck.Secure {
			t.Fatal("session cookie not Secure behind X-Forwarded-Proto: https")
		}
	}
}

func TestCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := newTestServer(t, db, Options{})
		c, token := ts.loggedIn(t)
		sources := func() int {
			s, err := db.Sources(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return len(s)
		}
		cases := []struct {
			name string
			form url.Values
			hdr  map[string]string
		}{
			{"no token", url.Values{"name": {"evil"}}, nil},
			{"wrong token", url.Values{"name": {"evil"}, "csrf": {"x" + token}}, nil},
			{"cross-site fetch metadata", url.Values{"name": {"evil"}, "csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
			{"foreign origin", url.Values{"name": {"evil"}, "csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
		}
		for _, tc := range cases {
			resp, _ := postForm(t, c, ts.URL+"/sources", tc.form, tc.hdr)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", tc.name, resp.StatusCode)
			}
		}
		if n := sources(); n != 0 {
			t.Fatalf("a forged POST created %d sources", n)
		}
		// Another session's token does not work either.
		c2, token2 := ts.loggedIn(t)
		_ = c2
		if resp, _ := postForm(t, c, ts.URL+"/sources", url.Values{"name": {"evil"}, "csrf": {token2}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("other session's token: %d, want 403", resp.StatusCode)
		}
		// The real form, from the same origin, works and shows the key once.
		resp, body := postForm(t, c, ts.URL+"/sources", url.Values{"name": {"till"}, "csrf": {token}}, map[string]string{"Origin": ts.URL, "Sec-Fetch-Site": "same-origin"})
		if resp.StatusCode != 200 || !strings.Contains(body, "wk_") {
			t.Fatalf("create source: %d", resp.StatusCode)
		}
		if n := sources(); n != 1 {
			t.Fatalf("sources = %d, want 1", n)
		}
		if _, again := get(t, c, ts.URL+"/sources"); strings.Contains(again, `value="wk_`) {
			t.Fatal("the write key is shown again after the creating response")
		}
		// Login form: a POST without the login cookie's token is refused.
		fresh := ts.client(t)
		resp, _ = postForm(t, fresh, ts.URL+"/login", url.Values{"email": {testEmail}, "password": {testPassword}}, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("login without token: %d, want 403", resp.StatusCode)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := newTestServer(t, db, Options{SessionTTL: time.Hour})
		c, _ := ts.loggedIn(t)
		ts.advance(59 * time.Minute)
		if resp, _ := get(t, c, ts.URL+"/sources"); resp.StatusCode != 200 {
			t.Fatalf("within the session: %d", resp.StatusCode)
		}
		ts.advance(2 * time.Minute)
		if resp, _ := get(t, c, ts.URL+"/sources"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after expiry: %d, want redirect to login", resp.StatusCode)
		}
		if resp, _ := get(t, c, ts.URL+"/sources?format=json"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("JSON after expiry: %d, want 401", resp.StatusCode)
		}
		// A later login sweeps the expired session away.
		ts.loggedIn(t)
		var n int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM sessions WHERE expires_at <= ?`, ts.Now().UnixMilli()).Scan(&n); err != nil || n != 0 {
			t.Fatalf("expired sessions left: %d (%v)", n, err)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{LoginLimit: 10, LoginWindow: time.Minute})
	c := ts.client(t)
	// The per-email limit (a fifth of the IP's, at least 3) trips first.
	for i := 0; i < 3; i++ {
		if resp, _ := ts.login(t, c, testEmail, "nope"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := ts.login(t, c, testEmail, testPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed logins") {
		t.Fatalf("after 3 failures the right password must wait: %d", resp.StatusCode)
	}
	// Other emails from the same IP count towards the IP limit.
	for i := 0; i < 7; i++ {
		ts.login(t, c, "x"+string(rune('a'+i))+"@example.com", "nope")
	}
	if resp, _ := ts.login(t, c, "someone@example.com", "nope"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("IP limit: %d, want 429", resp.StatusCode)
	}
	ts.advance(61 * time.Second)
	if resp, _ := ts.login(t, c, testEmail, testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want a login", resp.StatusCode)
	}
}

func TestParseRange(t *testing.T) {
	now := time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	d := func(y int, m time.Month, day int, loc *time.Location) time.Time {
		return time.Date(y, m, day, 0, 0, 0, 0, loc)
	}
	cases := []struct {
		q        string
		loc      *time.Location
		from, to time.Time
		preset   string
		err      bool
	}{
		{"", time.UTC, d(2026, 3, 2, time.UTC), d(2026, 4, 1, time.UTC), "30d", false},
		{"range=7d", time.UTC, d(2026, 3, 25, time.UTC), d(2026, 4, 1, time.UTC), "7d", false},
		{"range=90d", time.UTC, d(2026, 1, 1, time.UTC), d(2026, 4, 1, time.UTC), "90d", false},
		{"range=ytd", time.UTC, d(2026, 1, 1, time.UTC), d(2026, 4, 1, time.UTC), "ytd", false},
		{"range=all", time.UTC, time.Time{}, d(2026, 4, 1, time.UTC), "all", false},
		// 23:30 UTC is already April 1st in Berlin.
		{"range=7d", berlin, d(2026, 3, 26, berlin), d(2026, 4, 2, berlin), "7d", false},
		{"from=2026-02-01&to=2026-02-28", time.UTC, d(2026, 2, 1, time.UTC), d(2026, 3, 1, time.UTC), "", false},
		{"range=custom&from=2026-02-01", time.UTC, d(2026, 2, 1, time.UTC), d(2026, 4, 1, time.UTC), "", false},
		{"range=7d&from=2020-01-01", time.UTC, d(2026, 3, 25, time.UTC), d(2026, 4, 1, time.UTC), "7d", false},
		{"from=2026-03-10&to=2026-03-01", time.UTC, d(2026, 3, 2, time.UTC), d(2026, 4, 1, time.UTC), "30d", true},
		{"from=yesterday", time.UTC, d(2026, 3, 2, time.UTC), d(2026, 4, 1, time.UTC), "30d", true},
		{"range=forever", time.UTC, d(2026, 3, 2, time.UTC), d(2026, 4, 1, time.UTC), "30d", true},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.q)
		r, err := ParseRange(q, now, tc.loc)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.q, err, tc.err)
		}
		if !r.From.Equal(tc.from) || !r.To.Equal(tc.to) || r.Preset != tc.preset {
			t.Errorf("%q in %s: got %s..%s %q, want %s..%s %q", tc.q, tc.loc, r.From, r.To, r.Preset, tc.from, tc.to, tc.preset)
		}
		// The query the links carry parses back to the same period.
		back, err := ParseRange(r.Query(), now, tc.loc)
		if err != nil || !back.From.Equal(r.From) || !back.To.Equal(r.To) {
			t.Errorf("%q: round trip via %q gave %s..%s (%v)", tc.q, r.Query().Encode(), back.From, back.To, err)
		}
	}
	r, _ := ParseRange(url.Values{"range": {"30d"}}, now, time.UTC)
	prev, ok := r.Previous()
	if !ok || !prev.To.Equal(r.From) || prev.Days() != 30 {
		t.Errorf("previous of %s..%s = %s..%s", r.From, r.To, prev.From, prev.To)
	}
}

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		cur   string
		want  string
		short string
	}{
		{123456789, "EUR", "€1,234,567.89", "€1,234,568"},
		{-5, "EUR", "−€0.05", "€0"},
		{1000, "JPY", "¥1,000", "¥1,000"},
		{1234500, "CHF", "12,345.00 CHF", "12,345 CHF"},
		{999, "KWD", "0.999 KWD", "1 KWD"},
	} {
		if got := formatMoney(tc.minor, tc.cur); got != tc.want {
			t.Errorf("formatMoney(%d, %s) = %q, want %q", tc.minor, tc.cur, got, tc.want)
		}
		if got := formatMoneyShort(tc.minor, tc.cur); got != tc.short {
			t.Errorf("formatMoneyShort(%d, %s) = %q, want %q", tc.minor, tc.cur, got, tc.short)
		}
	}
}

// TestPages seeds the fixture through the event processor and checks each page's figures
// against the fixture's definition, in HTML, CSV and JSON.
func TestPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		for _, p := range dashboardPaths {
			resp, body := get(t, c, ts.URL+p+"?range=90d")
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d\n%.1000s", p, resp.StatusCode, body)
			}
			// Navigation keeps the period.
			if !strings.Contains(body, `href="/spend?range=90d"`) {
				t.Errorf("%s: navigation does not keep the period", p)
			}
		}

		// Overview: revenue of the last 30 days vs the 30 before.
		from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		n, rev := sumOrders(from, from.AddDate(0, 0, 30))
		_, prevRev := sumOrders(from.AddDate(0, 0, -30), from)
		_, body := get(t, c, ts.URL+"/")
		for _, want := range []string{formatMoneyShort(rev, "EUR"), formatMoneyShort(prevRev, "EUR"), ">" + formatInt(n) + "<"} {
			if !strings.Contains(body, want) {
				t.Errorf("overview lacks %q", want)
			}
		}
		first := map[string]time.Time{}
		for _, o := range fixtureOrders {
			if f, ok := first[o.user]; !ok || o.at.Before(f) {
				first[o.user] = o.at
			}
		}
		newBuyers := 0
		for _, f := range first {
			if !f.Before(from) {
				newBuyers++
			}
		}
		if !regexp.MustCompile(`New customers</span>\s*<span class="value">` + fmt.Sprint(newBuyers) + `<`).MatchString(body) {
			t.Errorf("overview: new customers is not %d", newBuyers)
		}
		if !regexp.MustCompile(`Refunds</span>\s*<span class="value">` + regexp.QuoteMeta(formatMoneyShort(fixtureRefundsMarch, "EUR")) + `<`).MatchString(body) {
			t.Errorf("overview: refunds are not %s", formatMoneyShort(fixtureRefundsMarch, "EUR"))
		}
		if strings.Count(body, `class="chart"`) < 2 || !strings.Contains(body, `type="application/json" id="revenue-over-time-data"`) {
			t.Error("overview lacks its charts or their data")
		}
		resp, csvBody := get(t, c, ts.URL+"/?format=csv&table=revenue-over-time")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("CSV: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 31 || strings.Join(recs[0], ",") != "Period,Revenue,Orders" {
			t.Fatalf("revenue CSV: %d rows, header %v", len(recs), recs[0])
		}
		var sum int64
		var orders int64
		for _, r := range recs[1:] {
			m, err := money.ParseDecimal(r[1], "EUR")
			if err != nil {
				t.Fatalf("CSV amount %q: %v", r[1], err)
			}
			sum += m
			var k int64
			if _, err := jsonNumber(r[2], &k); err != nil {
				t.Fatal(err)
			}
			orders += k
		}
		if sum != rev || orders != n {
			t.Fatalf("CSV sums %d (%d orders), want %d (%d)", sum, orders, rev, n)
		}
		if resp, _ := get(t, c, ts.URL+"/?format=csv&table=nope"); resp.StatusCode != 404 {
			t.Errorf("unknown table: %d", resp.StatusCode)
		}

		// Spend: per-channel sums in the period, as JSON.
		var js struct {
			Tables map[string][]map[string]string
		}
		_, jb := get(t, c, ts.URL+"/spend?format=json")
		if err := json.Unmarshal([]byte(jb), &js); err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for _, s := range fixtureSpendRows {
			if s.day >= "2026-03-02" {
				want[s.channel] += s.minor
			}
		}
		got := map[string]int64{}
		for _, r := range js.Tables["channels"] {
			m, _ := money.ParseDecimal(r["Spend"], "EUR")
			got[r["Channel"]] = m
		}
		if len(got) != len(want) || got["paid_search"] != want["paid_search"] || got["paid_social"] != want["paid_social"] {
			t.Fatalf("spend per channel %v, want %v", got, want)
		}

		// Sources: the fixture's events arrived 10 minutes ago; one rejection 2 hours ago.
		_, jb = get(t, c, ts.URL+"/sources?format=json")
		js.Tables = nil
		if err := json.Unmarshal([]byte(jb), &js); err != nil {
			t.Fatal(err)
		}
		src := js.Tables["sources"]
		total := len(fixtureOrders) + 7
		if len(src) != 1 || src[0]["Events, last hour"] != jsonInt(total) || src[0]["Rejected, last 24 h"] != "1" {
			t.Fatalf("sources table %v, want %d events in the last hour and 1 rejected", src, total)
		}
		if rej := js.Tables["rejected"]; len(rej) != 1 || !strings.Contains(rej[0]["Reason"], "ISO-8601") {
			t.Fatalf("rejected table %v", rej)
		}
		if _, body := get(t, c, ts.URL+"/sources"); strings.Contains(body, "waiting for the event processor") {
			t.Error("sources: events shown as waiting after the processor caught up")
		}
		err = db.Write(context.Background(), func(tx *store.Tx) error {
			_, err := store.InsertEvents(context.Background(), tx, []event.Event{{SourceID: 1, MessageID: "late", Type: "track", Name: "x", AnonymousID: "a", Timestamp: testNow, ReceivedAt: testNow, Body: []byte(`{}`)}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, body := get(t, c, ts.URL+"/sources"); !strings.Contains(body, "waiting for the event processor: 1.") {
			t.Error("sources: an unprocessed event is not reported")
		}

		// Customers: search by email, phone, name, id; the profile merges the anonymous visit.
		for _, q := range []string{"anna@example.com", "1234567", "berger", "anon-anna"} {
			_, body := get(t, c, ts.URL+"/customers?q="+url.QueryEscape(q))
			if !strings.Contains(body, "Anna Berger") || strings.Contains(body, "Ben Ortiz") {
				t.Errorf("search %q does not find exactly Anna", q)
			}
		}
		_, jb = get(t, c, ts.URL+"/customers?q=anna&format=json")
		js.Tables = nil
		if err := json.Unmarshal([]byte(jb), &js); err != nil || len(js.Tables["customers"]) != 1 {
			t.Fatalf("customers JSON %s (%v)", jb, err)
		}
		id := js.Tables["customers"][0]["Customer"]
		_, body = get(t, c, ts.URL+"/customers/"+id)
		for _, want := range []string{"Anna Berger", "anon-anna", "email_marketing_consent", "true", "A-1", "spring-sale", "Timeline across channels", formatMoney(12050+4500, "EUR")} {
			if !strings.Contains(body, want) {
				t.Errorf("profile lacks %q", want)
			}
		}
		if resp, _ := get(t, c, ts.URL+"/customers/999999"); resp.StatusCode != 404 {
			t.Errorf("missing customer: %d", resp.StatusCode)
		}
		if resp, _ := get(t, c, ts.URL+"/no-such-page"); resp.StatusCode != 404 {
			t.Errorf("unknown page: %d", resp.StatusCode)
		}
	})
}

func jsonNumber(s string, v *int64) (int, error) {
	return 1, json.Unmarshal([]byte(s), v)
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestCSVDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=SUM(A1)": "'=SUM(A1)", "-12.50": "-12.50", "-cmd": "'-cmd", "@x": "'@x", "plain": "plain"} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
