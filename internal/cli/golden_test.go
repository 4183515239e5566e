package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/web"
	"github.com/omniroi/omniroi/internal/workspace"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the expected output of testdata/golden/*.txt")

// TestGolden walks the corpus testdata/golden/*.txt. Each file is a small shop: its input
// (settings, exchange rates, Segment events as JSON lines), a line of dashes, and the
// figures every surface must print. The test loads the input like production does, then
// reads the figures from the CLI's JSON, the API's JSON and the dashboard's CSV exports,
// each turned into minor units of the shop's currency and printed through money.Format:
// the three must be equal to the cent (or yen), on SQLite and PostgreSQL, and equal to
// the expected output. Independently of the code under test, the segments' revenue must
// add up to what the input's orders in the business currency, net of full refunds, sum
// to. -update-golden rewrites the expected output (review the diff).
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(raw), "\n-----\n")
			if !ok {
				t.Fatalf("%s: no separator line (-----)", file)
			}
			g := parseGolden(t, in)
			var outs []string
			for _, kind := range []string{"sqlite", "postgres"} {
				t.Run(kind, func(t *testing.T) {
					out := g.run(t, kind)
					outs = append(outs, out)
				})
			}
			if len(outs) == 0 || t.Failed() {
				return
			}
			if *updateGolden {
				if err := os.WriteFile(file, []byte(in+"\n-----\n"+outs[0]), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, out := range outs {
				if out != want {
					t.Errorf("%s: the surfaces agree, but not with the expected output:\n--- got\n%s--- want\n%s", file, out, want)
				}
			}
		})
	}
}

type goldenInput struct {
	settings [][2]string
	rates    []commerce.Rate
	spend    [][]any // day, channel, platform, amount_minor, currency
	events   []json.RawMessage
	currency string
	total    int64 // the business-currency orders net of full refunds, from the input
}

func parseGolden(t *testing.T, in string) *goldenInput {
	g := &goldenInput{currency: "EUR"}
	orders := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(in))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case f[0] == "setting" && len(f) == 3:
			g.settings = append(g.settings, [2]string{f[1], f[2]})
			if f[1] == "currency" {
				g.currency = f[2]
			}
		case f[0] == "fx" && len(f) == 5:
			r, _, err := commerce.ParseRate(f[2], f[3], f[1], f[4])
			if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			g.rates = append(g.rates, r)
		case f[0] == "spend" && len(f) >= 6: // spend DAY CHANNEL... PLATFORM AMOUNT CURRENCY
			k := len(f)
			m, err := money.ParseDecimal(f[k-2], f[k-1])
			if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			g.spend = append(g.spend, []any{f[1], strings.Join(f[2:k-3], " "), f[k-3], m, f[k-1]})
		case strings.HasPrefix(line, "{"):
			var ev struct {
				Event string `json:"event"`
				Props struct {
					OrderID  string          `json:"order_id"`
					Revenue  json.RawMessage `json:"revenue"`
					Currency string          `json:"currency"`
				} `json:"properties"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			g.events = append(g.events, json.RawMessage(line))
			switch ev.Event {
			case "Order Completed":
				if ev.Props.Currency == g.currency {
					m, err := money.FromJSON(ev.Props.Revenue, g.currency)
					if err != nil {
						t.Fatalf("line %d: %v", n, err)
					}
					orders[ev.Props.OrderID] = m
				}
			case "Order Refunded": // full refunds only in the corpus
				delete(orders, ev.Props.OrderID)
			}
		default:
			t.Fatalf("line %d: %q is not a setting, rate or event", n, line)
		}
	}
	for _, m := range orders {
		g.total += m
	}
	return g
}

// run loads the input into a fresh store and returns the figures, after checking the
// surfaces agree.
func (g *goldenInput) run(t *testing.T, kind string) string {
	ctx := context.Background()
	var db *store.DB
	var storeArgs []string
	if kind == "sqlite" {
		dir := t.TempDir()
		var err error
		if db, err = store.Open(ctx, store.Config{DataDir: dir}); err != nil {
			t.Fatal(err)
		}
		storeArgs = []string{"--data", dir}
	} else {
		dsn := storetest.PostgresDSN(t)
		var err error
		if db, err = store.Open(ctx, store.Config{DSN: dsn}); err != nil {
			t.Fatal(err)
		}
		storeArgs = []string{"--db", dsn}
	}
	defer db.Close()
	for _, s := range g.settings {
		if _, err := workspace.Set(ctx, db, "test", s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	if len(g.rates) > 0 {
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, _, err := commerce.UpsertRates(ctx, tx, g.rates, "test")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range g.spend {
		if _, err := db.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, ?, '', ?, ?, ?)`, sp...); err != nil {
			t.Fatal(err)
		}
	}
	identitytest.Load(t, db, "golden", time.Now(), g.events...)

	cli := func(args ...string) []byte {
		t.Helper()
		code, out, errs := runCLI(t, append(args, storeArgs...)...)
		if code != 0 {
			t.Fatalf("omniroi %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return []byte(out)
	}
	svc := value.NewService(db)
	attrSvc := attribution.NewService(db)
	router, err := api.NewRouter(db, apiRoutes(db, mix.NewService(db), attrSvc, svc))
	if err != nil {
		t.Fatal(err)
	}
	apiSrv := httptest.NewServer(router)
	defer apiSrv.Close()
	_, token, err := api.CreateRoleToken(ctx, db, "golden", auth.RoleAnalyst)
	if err != nil {
		t.Fatal(err)
	}
	apiGet := func(path string) []byte {
		t.Helper()
		return httpGet(t, apiSrv.URL+path, "Authorization", "Bearer "+token)
	}
	dash, err := web.NewHandler(db, web.Options{Value: svc, Attribution: attrSvc})
	if err != nil {
		t.Fatal(err)
	}
	webSrv := httptest.NewServer(dash)
	defer webSrv.Close()
	u, err := auth.CreateUserRole(ctx, db, "golden@example.com", "a long enough password", auth.RoleAnalyst)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := auth.CreateSession(ctx, db, u, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The page may answer "computing" first: poll until the table is there.
	webCSV := func(path, table string) [][]string {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		for {
			b := httpGetStatus(t, webSrv.URL+path+sep+"format=csv&table="+table, "Cookie", "omniroi_session="+sess.Token)
			if b != nil {
				rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
				if err != nil {
					t.Fatalf("%s %s: %v", path, table, err)
				}
				return rows
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no table %s within 2 minutes", path, table)
			}
			time.Sleep(50 * time.Millisecond) // polling a page that is computing, with a deadline
		}
	}
	cur := g.currency
	major := func(v float64) string { // a JSON figure in major units → canonical text
		m, err := money.ParseDecimal(strconv.FormatFloat(v, 'f', -1, 64), cur)
		if err != nil {
			t.Fatal(err)
		}
		return money.Format(m, cur)
	}
	cell := func(s string) string { // a dashboard CSV cell → canonical text
		m, err := money.ParseDecimal(s, cur)
		if err != nil {
			t.Fatalf("CSV cell %q: %v", s, err)
		}
		return money.Format(m, cur)
	}

	// Segments: customers and revenue per RFM segment.
	type segJSON struct {
		Segments []struct {
			Segment   string  `json:"segment"`
			Customers int     `json:"customers"`
			Revenue   float64 `json:"revenue"`
		} `json:"segments"`
		ChurnBands []struct {
			Band      string  `json:"band"`
			Customers int     `json:"customers"`
			Realised  float64 `json:"realised_revenue"`
			Predicted float64 `json:"predicted_clv"`
		} `json:"churn_bands"`
	}
	fromJSON := func(b []byte) (segs, bands []string) {
		var s segJSON
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		for _, x := range s.Segments {
			segs = append(segs, fmt.Sprintf("segment %q customers %d revenue %s", x.Segment, x.Customers, major(x.Revenue)))
		}
		for _, x := range s.ChurnBands {
			bands = append(bands, fmt.Sprintf("churn band %q customers %d realised %s predicted %s", x.Band, x.Customers, major(x.Realised), major(x.Predicted)))
		}
		return segs, bands
	}
	cliSegs, cliBands := fromJSON(cli("segments", "--churn", "--format", "json"))
	apiSegs, apiBands := fromJSON(apiGet("/api/v1/segments"))
	var webSegs, webBands []string
	for _, r := range webCSV("/segments?range=all", "segments")[1:] {
		n, _ := strconv.Atoi(r[1])
		webSegs = append(webSegs, fmt.Sprintf("segment %q customers %d revenue %s", r[0], n, cell(r[3])))
	}
	if len(apiBands) > 0 {
		for _, r := range webCSV("/segments?range=all", "churn-bands")[1:] {
			n, _ := strconv.Atoi(r[1])
			webBands = append(webBands, fmt.Sprintf("churn band %q customers %d realised %s predicted %s", r[0], n, cell(r[2]), cell(r[3])))
		}
	}
	agree(t, "segments", cliSegs, apiSegs, webSegs)
	agree(t, "churn bands", cliBands, apiBands, webBands)

	// Revenue and ROI of the year: the net revenue, and spend and attributed revenue per
	// channel (last touch).
	const year = "from=2025-01-01&to=2025-12-31"
	type roiJSON struct {
		Current struct {
			Revenue  int64 `json:"revenue_minor"`
			Channels []struct {
				Channel    string  `json:"channel"`
				Spend      int64   `json:"spend_minor"`
				Attributed float64 `json:"attributed_revenue_minor"`
			} `json:"channels"`
		} `json:"current"`
	}
	roiLines := func(b []byte) []string {
		var rep roiJSON
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		r := rep.Current
		out := []string{"net revenue (roi) " + money.Format(r.Revenue, cur)}
		for _, c := range r.Channels {
			out = append(out, fmt.Sprintf("channel %q spend %s attributed revenue %s", c.Channel, money.Format(c.Spend, cur), money.Format(int64(math.Round(c.Attributed)), cur)))
		}
		return out
	}
	cliROI := roiLines(cli("roi", "--format", "json", "--model", "last_touch", "--from", "2025-01-01", "--to", "2025-12-31"))
	apiROI := roiLines(apiGet("/api/v1/roi?model=last_touch&" + year))
	// The dashboard shows no net revenue of a period as a table (its revenue chart is of
	// orders by day, before refunds and without converting other currencies): the total is
	// compared between the CLI and the API, the channels on all three.
	webROI := []string{cliROI[0]}
	for _, r := range webCSV("/?model=last_touch&"+year, "channel-roi")[1:] {
		webROI = append(webROI, fmt.Sprintf("channel %q spend %s attributed revenue %s", r[0], cell(r[1]), cell(r[2])))
	}
	if cliROI[0] != apiROI[0] {
		t.Errorf("revenue: CLI %q, API %q", cliROI[0], apiROI[0])
	}
	agree(t, "ROI per channel", cliROI, apiROI, webROI)

	// The API and the dashboard share one snapshot: fitted once for this data.
	if n := svc.Builds(); n != 1 {
		t.Errorf("the value snapshot was built %d times for one data version, want 1", n)
	}

	// The input's own arithmetic: the segments hold every business-currency order.
	var sum int64
	for _, s := range cliSegs {
		f := strings.Fields(s)
		m, err := money.ParseDecimal(f[len(f)-1], cur)
		if err != nil {
			t.Fatal(err)
		}
		sum += m
	}
	if sum != g.total {
		t.Errorf("segments add up to %s %s; the input's orders in %s net of refunds are %s", money.Format(sum, cur), cur, cur, money.Format(g.total, cur))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "currency %s\norders in %s net of refunds (the input) %s\n", cur, cur, money.Format(g.total, cur))
	for _, l := range slices.Concat(cliROI, cliSegs, cliBands) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// agree reports when the CLI's, the API's and the dashboard's lines differ (in order).
func agree(t *testing.T, what string, cliL, apiL, webL []string) {
	t.Helper()
	if !slices.Equal(cliL, apiL) {
		t.Errorf("%s: CLI and API disagree:\nCLI %q\nAPI %q", what, cliL, apiL)
	}
	if !slices.Equal(cliL, webL) {
		t.Errorf("%s: CLI and dashboard disagree:\nCLI       %q\ndashboard %q", what, cliL, webL)
	}
}

func httpGet(t *testing.T, url, header, val string) []byte {
	t.Helper()
	b := httpGetStatus(t, url, header, val)
	if b == nil {
		t.Fatalf("GET %s: not found", url)
	}
	return b
}

// httpGetStatus returns the body of a 200, nil for a 404, and fails the test otherwise.
func httpGetStatus(t *testing.T, url, header, val string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set(header, val)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		return b
	case http.StatusNotFound:
		return nil
	}
	t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	return nil
}
