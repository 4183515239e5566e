package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// seedAutomations applies the built-in abandoned-cart journey and writes four runs of it
// for the fixture's customers (the engine needs live events; its tables are what the page
// reads): anna treated and converting (A-1 a day later), ben treated and not converting
// (B-1 19 days later), carla in the holdout and converting (C-2 a day later), ben again in
// the holdout. Runs in the default period (last 30 days): 3.
func seedAutomations(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	src, err := journey.TemplateSource("abandoned-cart")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journey.Apply(ctx, db, src); err != nil {
		t.Fatalf("apply abandoned-cart: %v", err)
	}
	cust := func(order string) int64 {
		var id int64
		if err := db.QueryRow(ctx, `SELECT customer_id FROM orders WHERE order_id = ?`, order).Scan(&id); err != nil {
			t.Fatalf("customer of %s: %v", order, err)
		}
		return id
	}
	day := func(d int) int64 { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC).UnixMilli() }
	runs := []struct {
		cust    int64
		holdout int
		started int64
		send    string // status/reason of the run's email
	}{
		{cust("A-1"), 0, day(9), "sent"},
		{cust("B-1"), 0, day(1), "sent"}, // before the period
		{cust("C-2"), 1, day(28), "holdout"},
		{cust("B-1"), 1, day(3), "holdout"},
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		for i, r := range runs {
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO journey_runs (journey, version, customer_id, entry_key, status, step, holdout, started_at, updated_at) VALUES ('abandoned-cart', 1, ?, ?, 'done', 4, ?, ?, ?) RETURNING id`,
				r.cust, "cart-"+string(rune('a'+i)), r.holdout, r.started, r.started).Scan(&id); err != nil {
				return err
			}
			status, reason := "suppressed", r.send
			if r.send == "sent" {
				status, reason = "sent", ""
			}
			if _, err := tx.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, reason, not_before, created_at, sent_at) VALUES (?, ?, 'abandoned-cart', ?, 1, 'email', 'marketing', ?, ?, ?, ?, ?)`,
				journey.IdemKey(id, 1, "email"), id, r.cust, status, reason, r.started+3600000, r.started+3600000, r.started+3600000); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed journey runs: %v", err)
	}
}

func TestAutomationsEmpty(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ts := newTestServer(t, db, Options{})
	c, _ := ts.loggedIn(t)
	resp, body := get(t, c, ts.URL+"/automations")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /automations: %d", resp.StatusCode)
	}
	if !strings.Contains(body, "omniroi journey apply abandoned-cart") || strings.Contains(body, `data-chart="lift-chart"`) {
		t.Errorf("empty state missing or chart drawn without journeys:\n%.2000s", body)
	}
	if !strings.Contains(body, `href="/automations`) {
		t.Error("no Automations nav entry")
	}
}

func TestAutomations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		seedAutomations(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)

		pj := getJSON(t, c, ts.URL+"/automations?format=json")
		a := pj.Tables["automations"]
		if len(a) != 1 {
			t.Fatalf("automations table: %v", a)
		}
		want := map[string]string{"Journey": "abandoned-cart", "Version": "1", "Enabled": "yes", "Runs": "3", "Sends": "1", "Suppressed: holdout": "2", "Suppressed: no consent": "0"}
		for k, v := range want {
			if a[0][k] != v {
				t.Errorf("automations %s = %q, want %q (%v)", k, a[0][k], v, a[0])
			}
		}
		rep, err := journey.Measure(context.Background(), db, "abandoned-cart", journey.ReportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// From the fixture: treated anna converts (A-1 120.50), ben does not; holdout carla converts (C-2 25.00), ben does not.
		if rep.Treated.Runs != 2 || rep.Treated.Converted != 1 || rep.Holdout.Runs != 2 || rep.Holdout.Converted != 1 || rep.Treated.Revenue != 12050 || rep.Holdout.Revenue != 2500 {
			t.Fatalf("report %+v", rep)
		}
		// The default period (2–31 March) drops ben's treated run of 1 March: treated is
		// anna alone; its all-time row below keeps every run.
		l := pj.Tables["lift"]
		if len(l) != 2 || l[0]["Runs started"] != "2026-03-02/2026-03-31" || l[0]["Treated runs"] != "1" || l[0]["Holdout runs"] != "2" ||
			l[0]["Treated conversion (95% CI)"] != "100.00" || l[0]["Treated revenue per run"] != "120.50" || l[0]["Holdout revenue per run"] != "12.50" ||
			l[0]["Incremental revenue"] != "108.00" || l[0]["Lift"] != "not yet measurable" {
			t.Errorf("lift table, period row: %v", l)
		}
		if len(l) != 2 || l[1]["Runs started"] != "all" || l[1]["Treated runs"] != "2" || l[1]["Holdout runs"] != "2" || l[1]["Treated conversion (95% CI)"] != "50.00" ||
			l[1]["Treated revenue per run"] != "60.25" || l[1]["Holdout revenue per run"] != "12.50" || l[1]["Incremental revenue"] != "95.50" || l[1]["Lift"] != "not yet measurable" {
			t.Errorf("lift table, all-time row: %v", l)
		}
		resp, body := get(t, c, ts.URL+"/automations")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-chart="lift-chart"`) || !strings.Contains(body, `/automations/abandoned-cart`) {
			t.Errorf("page: %d, chart or detail link missing:\n%.3000s", resp.StatusCode, body)
		}
		for _, want := range []string{"runs started in 2 Mar – 31 Mar 2026, each followed by all runs", "Conversion rate (%), treated vs holdout, runs started in 2 Mar – 31 Mar 2026", "<td>All time</td>"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		resp, body = get(t, c, ts.URL+"/automations?format=csv&table=lift")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "Journey,Runs started,Incremental revenue,Lift,") ||
			!strings.Contains(body, "abandoned-cart,2026-03-02/2026-03-31,108.00,not yet measurable,,1,2,") || !strings.Contains(body, "abandoned-cart,all,95.50,not yet measurable,,2,2,") {
			t.Errorf("csv: %d %q", resp.StatusCode, body)
		}

		// Each period's row is journey.Measure over the runs started in it.
		for _, pc := range []struct{ query, runs string }{
			{"from=2026-03-01&to=2026-03-05", "2026-03-01/2026-03-05"}, // ben's two runs only
			{"to=2026-03-05", "../2026-03-05"},
			{"range=7d", "2026-03-25/2026-03-31"}, // carla's holdout run only
		} {
			rg, err := ParseRange(mustQuery(t, pc.query), testNow, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			want, err := journey.Measure(context.Background(), db, "abandoned-cart", journey.ReportOptions{From: rg.From, To: rg.To})
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/automations", "/automations/abandoned-cart"} {
				l := getJSON(t, c, ts.URL+path+"?format=json&"+pc.query).Tables["lift"]
				if len(l) != 2 || l[0]["Runs started"] != pc.runs || l[0]["Treated runs"] != fmt.Sprint(want.Treated.Runs) || l[0]["Holdout runs"] != fmt.Sprint(want.Holdout.Runs) ||
					l[0]["Treated conversion (95% CI)"] != rateCI(want.Treated).Raw || l[0]["Holdout conversion (95% CI)"] != rateCI(want.Holdout).Raw || l[1]["Runs started"] != "all" || l[1]["Treated runs"] != "2" {
					t.Errorf("%s?%s: lift %v, want period row from %+v", path, pc.query, l, want)
				}
			}
		}
		// All time: one row per journey, no duplicate.
		for _, path := range []string{"/automations", "/automations/abandoned-cart"} {
			if l := getJSON(t, c, ts.URL+path+"?format=json&range=all").Tables["lift"]; len(l) != 1 || l[0]["Runs started"] != "all" || l[0]["Treated runs"] != "2" {
				t.Errorf("%s, all time: lift %v", path, l)
			}
		}

		det, err := journey.Show(context.Background(), db, "abandoned-cart")
		if err != nil {
			t.Fatal(err)
		}
		pj = getJSON(t, c, ts.URL+"/automations/abandoned-cart?format=json")
		if got := pj.Tables["steps"]; len(got) != len(det.Steps) || len(got) == 0 || got[1]["Sent"] != "2" {
			t.Errorf("steps table: %v (want %d steps, step 1 sent 2)", got, len(det.Steps))
		}
		if _, ok := pj.Tables["decisions"]; !ok {
			t.Error("no decisions table")
		}
		if l := pj.Tables["lift"]; len(l) != 2 || l[0]["Journey"] != "abandoned-cart" || l[0]["Treated runs"] != "1" || l[1]["Treated runs"] != "2" {
			t.Errorf("detail lift table: %v", l)
		}
		resp, body = get(t, c, ts.URL+"/automations/abandoned-cart?range=90d")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `class="range"`) || !strings.Contains(body, "runs started in") || !strings.Contains(body, `href="/automations?range=90d"`) {
			t.Errorf("detail page: %d, no period picker, lift caption or period-keeping link:\n%.3000s", resp.StatusCode, body)
		}
		if resp, _ := get(t, c, ts.URL+"/automations/no-such"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown journey: %d, want 404", resp.StatusCode)
		}
	})
}

func mustQuery(t testing.TB, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// BenchmarkAutomationsPage measures the Automations page, uncached, with 20,000 runs
// of one journey over the fixture's customers.
func BenchmarkAutomationsPage(b *testing.B) {
	db := storetest.SQLite(b)
	seed(b, db)
	seedAutomations(b, db)
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		for i := range 20000 {
			at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).UnixMilli()
			if _, err := tx.Exec(ctx, `INSERT INTO journey_runs (journey, version, customer_id, entry_key, status, step, holdout, started_at, updated_at) SELECT 'abandoned-cart', 1, customer_id, ?, 'done', 4, ?, ?, ? FROM orders WHERE order_id = 'A-1'`,
				"bench-"+time.UnixMilli(at).Format(time.RFC3339), i%10/9, at, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := newTestServer(b, db, Options{noCache: true})
	c, _ := ts.loggedIn(b)
	b.ResetTimer()
	for b.Loop() {
		if resp, _ := get(b, c, ts.URL+"/automations"); resp.StatusCode != http.StatusOK {
			b.Fatal(resp.StatusCode)
		}
	}
}
