package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestPagesInBackground: the Overview, Automations and Experiments pages (and one
// automation's and one experiment's page) do not wait for their own figures. While no
// background build can run they answer at once with a placeholder that says the figures
// are being computed and reloads the page; once the builds run, the complete pages
// appear. When newer data arrives, the last result is shown with its age while the new
// one is built.
func TestPagesInBackground(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	seedAutomations(t, db)
	ctx := context.Background()
	vs, err := experiment.ParseVariants("control=50,b=50")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := experiment.Create(ctx, db, audit.ActorCLI, experiment.Experiment{Name: "hero", Variants: vs, Metric: experiment.Metric{Kind: experiment.MetricRevenue}}); err != nil {
		t.Fatal(err)
	}
	if _, err := experiment.Start(ctx, db, audit.ActorCLI, "hero", testNow.Add(-10*24*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	ts, srv := newTestServerOf(t, db, Options{computeWait: time.Nanosecond, noWarm: true})
	srv.compute.minAge = 0
	// Every background build waits (from the login's landing page on): the pages must
	// answer anyway.
	holdLane(srv.compute.sem)
	srv.compute.quick <- struct{}{}
	c, _ := ts.loggedIn(t)
	pages := []struct {
		path, placeholder, complete string
	}{
		{"/", overviewComputing, `data-chart="revenue-over-time"`},
		{"/automations", liftComputing, "<td>All time</td>"},
		{"/automations/abandoned-cart", liftComputing, "<td>All time</td>"},
		{"/experiments", expComputing, `<a href="/experiments/hero">hero</a>`},
		{"/experiments/hero", expComputing, `id="exp-verdict"`},
	}
	for _, pg := range pages {
		resp, body := get(t, c, ts.URL+pg.path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, html.EscapeString(pg.placeholder)) || !strings.Contains(body, `http-equiv="refresh"`) {
			t.Errorf("%s did not answer with a placeholder that reloads while its figures are built: %d\n%s", pg.path, resp.StatusCode, body[strings.Index(body, "<main"):])
		}
		if !strings.HasPrefix(pg.path, "/experiments") && strings.Contains(body, pg.complete) {
			t.Errorf("%s shows its complete content before it was computed", pg.path)
		}
		var js map[string]any
		_, raw := get(t, c, ts.URL+pg.path+"?format=json")
		if err := json.Unmarshal([]byte(raw), &js); err != nil || js["computing"] != true {
			t.Errorf("%s?format=json does not say it is computing (%v): %.500s", pg.path, err, raw)
		}
	}
	<-srv.compute.quick
	releaseLane(srv.compute.sem)

	complete := func(pg struct{ path, placeholder, complete string }) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, body := get(t, c, ts.URL+pg.path)
			if strings.Contains(body, pg.complete) && !strings.Contains(body, html.EscapeString(pg.placeholder)) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never filled in:\n%.3000s", pg.path, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, pg := range pages {
		complete(pg)
	}
	js := getJSON(t, c, ts.URL+"/?format=json")
	if len(js.Tables["revenue-over-time"]) == 0 {
		t.Errorf("the Overview's JSON has no revenue over time once computed: %v", js.Tables)
	}

	// Newer data (a spend row changes the data version): with the builds held, the pages
	// show the last result and say it was computed before newer data arrived.
	if _, err := db.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES ('2026-03-20', 'Email', '', 'manual', 100, 'EUR')`); err != nil {
		t.Fatal(err)
	}
	holdLane(srv.compute.sem)
	srv.compute.quick <- struct{}{}
	for _, pg := range []struct{ path, placeholder, complete string }{pages[0], pages[3]} {
		_, body := get(t, c, ts.URL+pg.path)
		if !strings.Contains(body, pg.complete) || strings.Contains(body, html.EscapeString(pg.placeholder)) || !strings.Contains(body, "newer data has arrived") {
			t.Errorf("%s with newer data being processed does not show the last result with its age:\n%.3000s", pg.path, body)
		}
	}
	<-srv.compute.quick
	releaseLane(srv.compute.sem)
}
