package web

import (
	"context"
	"encoding/json"
	"html"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

type pageJSON struct {
	Tables map[string][]map[string]string `json:"tables"`
}

func getJSON(t *testing.T, c *http.Client, u string) pageJSON {
	t.Helper()
	resp, body := get(t, c, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%.800s", u, resp.StatusCode, body)
	}
	var pj pageJSON
	if err := json.Unmarshal([]byte(body), &pj); err != nil {
		t.Fatalf("GET %s: %v\n%.500s", u, err, body)
	}
	return pj
}

func parseF(t *testing.T, s string) float64 {
	t.Helper()
	if s == "" {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}

// TestOverviewROIMatchesAttribution checks the Overview's channel ROI table against the
// attribution service's ROI report (what `omniroi roi` and /api/v1/roi print) for every
// model, and that switching the model changes the numbers.
func TestOverviewROIMatchesAttribution(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		to := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		seen := map[string]string{}
		withROAS := 0
		for _, model := range []string{"first_touch", "last_touch", "linear", "markov", "shapley"} {
			pj := getJSON(t, c, ts.URL+"/?format=json&model="+model)
			rows := pj.Tables["channel-roi"]
			if len(rows) == 0 {
				t.Fatalf("%s: no channel ROI rows: %v", model, pj.Tables)
			}
			rep, err := attribution.NewService(db).ROI(context.Background(), attribution.ROIQuery{From: from, To: to, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]attribution.ROIRow{}
			for _, r := range rep.Current.Channels {
				want[r.Channel] = r
			}
			var sig []string
			for _, r := range rows {
				ch := r["Channel"]
				w, ok := want[ch]
				if !ok {
					t.Errorf("%s: channel %q not in attribution.ROI", model, ch)
					continue
				}
				if got := parseF(t, r["Attributed revenue"]); math.Abs(got*100-w.RevenueMinor) > 1 {
					t.Errorf("%s %s: attributed revenue %v, attribution.ROI %v minor", model, ch, got, w.RevenueMinor)
				}
				if got := parseF(t, r["Spend"]); int64(math.Round(got*100)) != w.SpendMinor {
					t.Errorf("%s %s: spend %v, attribution.ROI %d minor", model, ch, got, w.SpendMinor)
				}
				for _, x := range []struct {
					col  string
					want *float64
					k    float64
				}{{"ROAS", w.ROAS, 1}, {"ROI", w.ROIPercent, 1}, {"CAC", w.CACMinor, 0.01}, {"Conversion rate", w.ConversionRate, 100}} {
					got := parseF(t, r[x.col])
					if x.want == nil {
						if !math.IsNaN(got) {
							t.Errorf("%s %s: %s %v, attribution.ROI has none", model, ch, x.col, got)
						}
						continue
					}
					if math.Abs(got-*x.want*x.k) > 0.01 {
						t.Errorf("%s %s: %s %v, attribution.ROI %v", model, ch, x.col, got, *x.want*x.k)
					}
				}
				if got := r["New customers"]; got != strconv.FormatInt(w.NewCustomers, 10) {
					t.Errorf("%s %s: new customers %s, attribution.ROI %d", model, ch, got, w.NewCustomers)
				}
				sig = append(sig, ch+"="+r["Attributed revenue"])
				if r["ROAS"] != "" {
					withROAS++
				}
			}
			seen[model] = strings.Join(sig, ",")
		}
		if withROAS == 0 {
			t.Errorf("no channel has a ROAS: the fixture's spend did not join its channels")
		}
		if seen["first_touch"] == seen["last_touch"] {
			t.Errorf("switching first touch -> last touch did not change the numbers: %s", seen["first_touch"])
		}
		// Without JS the switch is a plain form: the page lists every model and marks the chosen one.
		_, body := get(t, c, ts.URL+"/?model=markov")
		if !strings.Contains(body, `<option value="markov" selected>`) || !strings.Contains(body, `name="model"`) {
			t.Errorf("model switch form missing or not on markov")
		}
		_, body = get(t, c, ts.URL+"/?model=nonsense")
		if !strings.Contains(body, "There is no attribution model") {
			t.Errorf("an unknown model is not reported")
		}
	})
}

// TestAnalysisPages checks the Attribution, Journeys and Segments pages and the
// customer's value against the fixture.
func TestAnalysisPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		// A ground truth listing two of the fixture's channels, as the demo writes it.
		truth := `{"currency":"EUR","channels":{"Paid Search":{"incremental_conversions":1,"incremental_revenue_minor":12050},"Direct":{"incremental_conversions":3,"incremental_revenue_minor":5000}}}`
		if err := os.WriteFile(filepath.Join(db.DataDir, "ground_truth.json"), []byte(truth), 0o644); err != nil {
			t.Fatal(err)
		}
		ts := newTestServer(t, db, Options{})
		c, _ := ts.loggedIn(t)
		march := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

		// Attribution: a column per model that ran, the conventions, the truth comparison.
		pj := getJSON(t, c, ts.URL+"/attribution?format=json")
		rows := pj.Tables["models-by-channel"]
		if len(rows) == 0 {
			t.Fatalf("no attribution rows: %v", pj.Tables)
		}
		for _, m := range attribution.ModelNames {
			if _, ok := rows[0][modelLabel(m)]; !ok {
				t.Errorf("attribution table has no column for %s", m)
			}
		}
		// Every model splits the same revenue: each column sums to the period's net revenue.
		_, net := sumOrders(march, april)
		net -= fixtureRefundsMarch
		for _, m := range attribution.ModelNames {
			var sum float64
			for _, r := range rows {
				sum += parseF(t, r[modelLabel(m)])
			}
			if math.Abs(sum*100-float64(net)) > 2 {
				t.Errorf("%s credits %.2f in total, the period's net revenue is %d minor", m, sum, net)
			}
		}
		if len(pj.Tables["markov-removal"]) == 0 || len(pj.Tables["shapley-values"]) == 0 {
			t.Errorf("no markov removal effects or shapley values")
		}
		gt := pj.Tables["ground-truth"]
		if len(gt) != len(attribution.ModelNames) {
			t.Errorf("ground truth rows %d, want one per model (%d)", len(gt), len(attribution.ModelNames))
		}
		_, body := get(t, c, ts.URL+"/attribution")
		body = html.UnescapeString(body)
		for m, conv := range attribution.Conventions() {
			if !strings.Contains(body, conv) {
				t.Errorf("the attribution page does not explain %s", m)
			}
		}

		// Journeys: the funnel from the fixture's orders; paths sum to the orders.
		pj = getJSON(t, c, ts.URL+"/paths?format=json")
		funnel := pj.Tables["funnel"]
		if len(funnel) != len(attribution.FunnelStages) {
			t.Fatalf("funnel has %d stages, want %d: %v", len(funnel), len(attribution.FunnelStages), funnel)
		}
		buyers, repeat := map[string]int{}, 0
		for _, o := range fixtureOrders {
			if !o.at.Before(march) && o.at.Before(april) {
				buyers[o.user]++
				if buyers[o.user] == 2 {
					repeat++
				}
			}
		}
		if got := funnel[3]["Customers"]; got != strconv.Itoa(len(buyers)) {
			t.Errorf("post-purchase stage %s customers, the fixture has %d buyers in March", got, len(buyers))
		}
		if got := funnel[4]["Customers"]; got != strconv.Itoa(repeat) {
			t.Errorf("advocacy stage %s customers, the fixture has %d repeat buyers in March", got, repeat)
		}
		for i := 1; i < len(funnel); i++ {
			if parseF(t, funnel[i]["Customers"]) > parseF(t, funnel[i-1]["Customers"]) {
				t.Errorf("funnel widens at %s: %v", funnel[i]["Stage"], funnel)
			}
		}
		// The flow chart shows cross-channel paths only: Anna's first order came after a paid
		// search visit and an Instagram one.
		paths := pj.Tables["top-paths"]
		if len(paths) == 0 {
			t.Errorf("no cross-channel path; Anna came through two channels")
		}
		for _, r := range paths {
			if !strings.Contains(r["Path"], "→") || parseF(t, r["Orders"]) < 1 {
				t.Errorf("flow chart path %v: want two channels or more and an order", r)
			}
		}

		// Segments: every buyer is scored once.
		pj = getJSON(t, c, ts.URL+"/segments?format=json")
		var scored float64
		for _, r := range pj.Tables["segments"] {
			scored += parseF(t, r["Customers"])
		}
		everyone := map[string]bool{}
		for _, o := range fixtureOrders {
			everyone[o.user] = true
		}
		if int(scored) != len(everyone) {
			t.Errorf("segments hold %v customers, the fixture has %d buyers", scored, len(everyone))
		}
		if len(pj.Tables["cohorts"]) == 0 || len(pj.Tables["rfm-grid"]) != 5 {
			t.Errorf("cohorts %d rows, RFM grid %d rows", len(pj.Tables["cohorts"]), len(pj.Tables["rfm-grid"]))
		}

		// The customer page shows the segment.
		var annaID int64
		if err := db.QueryRow(context.Background(), `SELECT customer_id FROM identities WHERE kind = 'user_id' AND value = 'u-anna'`).Scan(&annaID); err != nil {
			t.Fatal(err)
		}
		_, body = get(t, c, ts.URL+"/customers/"+strconv.FormatInt(annaID, 10))
		if !strings.Contains(body, "RFM</abbr> segment") && !strings.Contains(body, "No prediction") {
			t.Errorf("the customer page has no value section:\n%.2000s", body)
		}
	})
}

// TestComputingNotice: while the analyses are built the page says so and reloads itself
// instead of holding the request; the numbers appear once they are ready.
func TestComputingNotice(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ts := newTestServer(t, db, Options{computeWait: time.Nanosecond})
	c, _ := ts.loggedIn(t)
	_, body := get(t, c, ts.URL+"/attribution")
	if !strings.Contains(body, `http-equiv="refresh"`) && !strings.Contains(body, "Models computed") {
		t.Fatalf("neither the computing notice nor the numbers:\n%.1500s", body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(body, "Models computed") {
		if time.Now().After(deadline) {
			t.Fatalf("the analysis never finished:\n%.1500s", body)
		}
		time.Sleep(50 * time.Millisecond)
		_, body = get(t, c, ts.URL+"/attribution")
	}
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Errorf("the finished page still reloads itself")
	}
}

// TestCoverageInBackground: the Sources page does not wait for the period's data coverage
// (quality.Measure): while no build can run it answers with a notice, and the panel fills
// in once the measure is made in the background.
func TestCoverageInBackground(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ts, srv := newTestServerOf(t, db, Options{computeWait: time.Nanosecond, noWarm: true})
	c, _ := ts.loggedIn(t)
	holdLane(srv.compute.sem) // every background build waits
	_, body := get(t, c, ts.URL+"/sources?range=90d")
	releaseLane(srv.compute.sem)
	if !strings.Contains(body, coverageMeasuring) || strings.Contains(body, "All sources") {
		t.Fatalf("the Sources page did not answer before the coverage was measured:\n%.3000s", body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(body, "All sources") {
		if time.Now().After(deadline) {
			t.Fatalf("the coverage never filled in:\n%.3000s", body)
		}
		time.Sleep(20 * time.Millisecond)
		_, body = get(t, c, ts.URL+"/sources?range=90d")
	}
	if strings.Contains(body, coverageMeasuring) {
		t.Error("the filled-in panel still says it is being measured")
	}
}

// TestComputeCache: one build per version; an older version's value is served while
// the new one is built.
func TestComputeCache(t *testing.T) {
	c := newComputeCache(time.Minute)
	var builds atomic.Int32
	release := make(chan struct{})
	fill := func(v int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			builds.Add(1)
			if v == 2 {
				<-release
			}
			return v, nil
		}
	}
	for range 3 {
		v, _, stale, err := computed(c, "k", "v1", fill(1))
		if err != nil || v != 1 || stale {
			t.Fatalf("v1: %v %v %v", v, stale, err)
		}
	}
	if builds.Load() != 1 {
		t.Errorf("%d builds for one version", builds.Load())
	}
	c.wait = time.Millisecond
	v, _, stale, err := computed(c, "k", "v2", fill(2))
	if err != nil || v != 1 || !stale {
		t.Errorf("while v2 builds: %v stale=%v %v, want the v1 value, stale", v, stale, err)
	}
	close(release)
	c.wait = time.Minute
	v, _, stale, err = computed(c, "k", "v2", fill(2))
	if err != nil || v != 2 || stale {
		t.Errorf("after v2: %v stale=%v %v", v, stale, err)
	}
	if _, _, _, err := computed(c, "new", "v1", func(context.Context) (int, error) { return 0, context.DeadlineExceeded }); err == nil {
		t.Errorf("a failed build reports no error")
	}
	// Within minAge a newer version does not rebuild: the last result is served, stale.
	c.minAge = time.Hour
	v, _, stale, err = computed(c, "k", "v9", func(context.Context) (int, error) { t.Error("rebuilt within minAge"); return 9, nil })
	if err != nil || v != 2 || !stale {
		t.Errorf("within minAge: %v stale=%v %v", v, stale, err)
	}
	c.minAge = 0

	// A failed build of a newer version keeps the older value and is not retried per request.
	fails := 0
	failing := func(context.Context) (int, error) { fails++; return 0, context.DeadlineExceeded }
	for range 3 {
		v, _, stale, err := computed(c, "k", "v3", failing)
		if err != nil || v != 2 || !stale {
			t.Errorf("v3 failing: %v stale=%v %v, want the v2 value, stale", v, stale, err)
		}
	}
	if fails != 1 {
		t.Errorf("a failing version was built %d times", fails)
	}
}

// TestAnalysisPagesEmptyStore: a new install (no events, no orders) shows every page
// without an error.
func TestAnalysisPagesEmptyStore(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{})
	c, _ := ts.loggedIn(t)
	for _, p := range []string{"/", "/?model=markov", "/attribution", "/paths", "/segments", "/?range=all", "/segments?format=csv&table=segments"} {
		resp, body := get(t, c, ts.URL+p)
		if resp.StatusCode != http.StatusOK && !(strings.Contains(p, "format=csv") && resp.StatusCode == http.StatusNotFound) {
			t.Errorf("GET %s on an empty store: %d\n%.600s", p, resp.StatusCode, body)
		}
	}
}

// TestJourneysMovedToPaths: the page of customers' paths is /paths, titled "Paths" in the
// navigation; its former address /journeys answers 301 to it, keeping the query.
func TestJourneysMovedToPaths(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	ts := newTestServer(t, db, Options{})
	c, _ := ts.loggedIn(t)
	resp, _ := get(t, c, ts.URL+"/journeys?range=7d&model=markov")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/paths?range=7d&model=markov" {
		t.Errorf("/journeys: %d to %q, want 301 to /paths?range=7d&model=markov", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, c, ts.URL+"/paths?range=7d")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<title>Paths") || !strings.Contains(body, `href="/paths?range=7d"`) || strings.Contains(body, `href="/journeys`) {
		t.Errorf("/paths: %d, title or navigation wrong:\n%.2000s", resp.StatusCode, body)
	}
}

// TestOverviewSpendMatchesAttribution: the Overview's spend (the "revenue per unit of ad
// spend" card) is the spend attribution's ROI joins, spend in another currency converted
// at the day's rate included, for the period and the one before.
func TestOverviewSpendMatchesAttribution(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ctx := context.Background()
		for _, q := range []string{
			`INSERT INTO fx_rates (base, quote, day, rate) VALUES ('EUR', 'USD', '2026-02-12', '1.25'), ('EUR', 'USD', '2026-03-12', '1.25')`,
			`INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES ('2026-03-12', 'Paid Search', 'us', 'manual', 5000, 'USD')`,
			`INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES ('2026-02-12', 'Paid Search', 'us', 'manual', 2500, 'USD')`,
		} {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		_, srv := newTestServerOf(t, db, Options{})
		loc := srv.location(ctx)
		rg, err := srv.parseRange(ctx, nil, loc)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := srv.businessCurrency(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.overviewQuery(ctx, rg, cur)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := attribution.NewService(db).ROI(ctx, attribution.ROIQuery{From: rg.From, To: rg.To, Model: "last_touch"})
		if err != nil {
			t.Fatal(err)
		}
		if res.spend != rep.Current.SpendMinor || res.spend == 0 {
			t.Errorf("Overview spend %d, attribution's ROI spend %d", res.spend, rep.Current.SpendMinor)
		}
		if !res.hasPrev || res.prevSpend != rep.Previous.SpendMinor || res.prevSpend == 0 {
			t.Errorf("Overview spend before %d (previous period %v), attribution's ROI %d", res.prevSpend, res.hasPrev, rep.Previous.SpendMinor)
		}
		if len(res.spendNotes) == 0 || !strings.Contains(res.spendNotes[0], "USD") {
			t.Errorf("the converted USD spend is not noted: %q", res.spendNotes)
		}
	})
}
