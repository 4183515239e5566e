package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func importFile(t *testing.T, db *store.DB, file string, opt Options) Report {
	t.Helper()
	rep, err := ImportFile(context.Background(), db, filepath.Join("testdata", file), opt)
	if err != nil {
		t.Fatalf("import %s: %v (report %+v)", file, err, rep)
	}
	return rep
}

type storedEvent struct {
	Type, Name, UserID, AnonymousID string
	TS, Received                    string
	Body                            map[string]any
}

// events returns the stored events by message id.
func events(t *testing.T, db *store.DB) map[string]storedEvent {
	t.Helper()
	evs, err := db.ReadEvents(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storedEvent{}
	for _, e := range evs {
		var body map[string]any
		if err := json.Unmarshal(e.Body, &body); err != nil {
			t.Fatalf("body of %s: %v", e.MessageID, err)
		}
		out[e.MessageID] = storedEvent{e.Type, e.Name, e.UserID, e.AnonymousID,
			e.Timestamp.Format("2006-01-02T15:04:05Z07:00"), e.ReceivedAt.Format("2006-01-02T15:04:05Z07:00"), body}
	}
	return out
}

// dig walks a decoded JSON body: dig(b, "properties", "total").
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func count(t *testing.T, db *store.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func wantReport(t *testing.T, got Report, rows, imported, dups, skipped, rejected int) {
	t.Helper()
	if got.Rows != rows || got.Imported != imported || got.Duplicates != dups || got.Skipped != skipped || got.Rejected != rejected {
		t.Errorf("report = rows %d imported %d dups %d skipped %d rejected %d; want %d %d %d %d %d (errors %v)",
			got.Rows, got.Imported, got.Duplicates, got.Skipped, got.Rejected, rows, imported, dups, skipped, rejected, got.Errors)
	}
}

func TestEventsJSONL(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "events.jsonl", Options{Kind: KindEvents})
		wantReport(t, rep, 5, 5, 0, 0, 0)
		evs := events(t, db)
		if e := evs["evt-0004"]; e.Type != "alias" || e.UserID != "cust-101" {
			t.Errorf("alias = %+v", e)
		}
		// The line without a messageId gets one from its content; the archive's receivedAt
		// is kept, so the clock-skew correction gives Segment's own timestamp.
		var order storedEvent
		for id, e := range evs {
			if e.Name == "Order Completed" {
				order = e
				if !strings.HasPrefix(id, "import-") {
					t.Errorf("generated message id %q", id)
				}
			}
		}
		if order.TS != "2024-03-01T09:14:42Z" || order.Received != "2024-03-01T09:14:43Z" {
			t.Errorf("order ts %s received %s, want 09:14:42 and 09:14:43", order.TS, order.Received)
		}
		again := importFile(t, db, "events.jsonl", Options{Kind: KindEvents})
		wantReport(t, again, 5, 0, 5, 0, 0)
		if n := count(t, db, `SELECT COUNT(*) FROM events`); n != 5 {
			t.Errorf("%d events after re-import, want 5", n)
		}
	})
}

func TestEventsCSV(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "events.csv", Options{Kind: KindEvents, Source: "till"})
		wantReport(t, rep, 4, 4, 0, 0, 0)
		evs := events(t, db)
		visit, ok := evs["till-77"]
		if !ok || visit.Name != "Store Visit" || dig(visit.Body, "properties", "store") != "Hauptstrasse" || dig(visit.Body, "context", "channel") != "pos" {
			t.Errorf("store visit = %+v", visit)
		}
		var identify, signup storedEvent
		for _, e := range evs {
			switch {
			case e.Type == "identify":
				identify = e
			case e.Name == "Newsletter Signup":
				signup = e
			}
		}
		if dig(identify.Body, "traits", "email") != "jonas@example.com" || dig(identify.Body, "traits", "phone") != "+4915112345678" ||
			dig(identify.Body, "traits", "firstName") != "Jonas" {
			t.Errorf("identify traits = %v", dig(identify.Body, "traits"))
		}
		if dig(signup.Body, "context", "traits", "email") != "anon99@example.com" || signup.TS != "2024-04-03T06:16:00Z" {
			t.Errorf("signup = %+v", signup)
		}
		wantReport(t, importFile(t, db, "events.csv", Options{Kind: KindEvents, Source: "till"}), 4, 0, 4, 0, 0)
	})
}

func TestOrdersCSV(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "orders.csv", Options{Kind: KindOrders})
		// 5 orders, B-1003 refunded in full and B-1004 in part: 7 events.
		wantReport(t, rep, 5, 7, 0, 0, 0)
		evs := events(t, db)
		o := evs["import-order-B-1002"]
		if o.Name != "Order Completed" || o.UserID != "" || !strings.HasPrefix(o.AnonymousID, "import-email-") {
			t.Errorf("B-1002 = %+v", o)
		}
		if dig(o.Body, "properties", "total") != 58.0 || dig(o.Body, "properties", "currency") != "EUR" ||
			dig(o.Body, "properties", "location") != "web" || dig(o.Body, "context", "campaign", "name") != "mothers-day" ||
			dig(o.Body, "context", "campaign", "source") != "google" || dig(o.Body, "context", "traits", "email") != "tom@example.com" {
			t.Errorf("B-1002 body = %v", o.Body)
		}
		if p, _ := dig(o.Body, "properties", "products").([]any); len(p) != 1 || dig(p[0], "product_id") != "cake-choc" {
			t.Errorf("B-1002 products = %v", dig(o.Body, "properties", "products"))
		}
		// A full refund carries no amount: the processor refunds the order's own value.
		if r := evs["import-refund-B-1003"]; r.Name != "Order Refunded" || dig(r.Body, "properties", "total") != nil || r.UserID != "cust-3" {
			t.Errorf("B-1003 refund = %+v", r)
		}
		if r := evs["import-refund-B-1004"]; dig(r.Body, "properties", "total") != 2.1 {
			t.Errorf("B-1004 partial refund = %v", r.Body)
		}
		if o := evs["import-order-B-1004"]; o.TS != "2024-05-06T09:05:00Z" || dig(o.Body, "properties", "item_count") != 1.0 {
			t.Errorf("B-1004 = %+v", o)
		}
		// No customer at all: a one-off guest, with the channel hint kept.
		if o := evs["import-order-B-1005"]; o.AnonymousID != "import-guest-B-1005" || dig(o.Body, "properties", "channel") != "Events" ||
			dig(o.Body, "properties", "location") != "market" {
			t.Errorf("B-1005 = %+v", o)
		}
		// Lena's two orders share one identity.
		if evs["import-order-B-1001"].UserID != "cust-1" || evs["import-order-B-1004"].UserID != "cust-1" {
			t.Error("customer_id not used as userId")
		}
		wantReport(t, importFile(t, db, "orders.csv", Options{Kind: KindOrders}), 5, 0, 7, 0, 0)
	})
}

func TestOrdersJSONL(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "orders.jsonl", Options{Kind: KindOrders})
		wantReport(t, rep, 2, 3, 0, 0, 0)
		evs := events(t, db)
		j1 := evs["import-order-J-1"]
		if j1.UserID != "42" || dig(j1.Body, "properties", "revenue") != 100.0 || dig(j1.Body, "properties", "total") != 123.9 ||
			dig(j1.Body, "properties", "currency") != "USD" || dig(j1.Body, "properties", "shipping") != 4.9 {
			t.Errorf("J-1 = %+v", j1)
		}
		if r := evs["import-refund-J-2"]; dig(r.Body, "properties", "total") != 24.75 {
			t.Errorf("J-2 refund = %+v", r)
		}
	})
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "customers.csv", Options{Kind: KindCustomers})
		wantReport(t, rep, 3, 3, 0, 0, 0)
		var lena, walkin storedEvent
		for _, e := range events(t, db) {
			if e.Type != "identify" {
				t.Errorf("type %s", e.Type)
			}
			switch {
			case e.UserID == "cust-1":
				lena = e
			case e.UserID == "":
				walkin = e
			}
		}
		tr := lena.Body["traits"]
		if dig(tr, "firstName") != "Lena" || dig(tr, "lastName") != "Vogel" || dig(tr, "loyalty_tier") != "gold" ||
			dig(tr, "createdAt") != "2023-11-02T00:00:00.000Z" || lena.TS != "2023-11-02T00:00:00Z" {
			t.Errorf("lena = %+v", lena)
		}
		if !strings.HasPrefix(walkin.AnonymousID, "import-email-") || dig(walkin.Body, "traits", "favourite_store") != "Markt" {
			t.Errorf("walk-in = %+v", walkin)
		}
		wantReport(t, importFile(t, db, "customers.csv", Options{Kind: KindCustomers}), 3, 0, 3, 0, 0)
	})
}

type spendOut struct {
	Amount             int64
	Currency           string
	Impressions, Click int64
}

func spendRows(t *testing.T, db *store.DB) map[string]spendOut {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT day, channel, campaign, platform, amount_minor, currency, impressions, clicks FROM spend`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]spendOut{}
	for rows.Next() {
		var d, ch, camp, pl string
		var s spendOut
		if err := rows.Scan(&d, &ch, &camp, &pl, &s.Amount, &s.Currency, &s.Impressions, &s.Click); err != nil {
			t.Fatal(err)
		}
		out[d+"|"+ch+"|"+camp+"|"+pl] = s
	}
	return out
}

func TestSpend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		wantReport(t, importFile(t, db, "spend.csv", Options{Kind: KindSpend}), 5, 5, 0, 0, 0)
		s := spendRows(t, db)
		if got := s["2024-05-02|Paid Search|brand|google_ads"]; got != (spendOut{101355, "EUR", 41203, 1877}) {
			t.Errorf("brand 05-02 = %+v", got)
		}
		if got := s["2024-05-02|Paid Social|retargeting|meta_ads"]; got.Amount != 825 {
			t.Errorf("channel from platform: %+v (all %v)", got, s)
		}
		if got := s["2024-05-01|Direct Mail|may-flyer|manual"]; got != (spendOut{15000, "EUR", 0, 0}) {
			t.Errorf("flyer = %+v", got)
		}
		wantReport(t, importFile(t, db, "spend.csv", Options{Kind: KindSpend}), 5, 0, 5, 0, 0)

		// A corrected file replaces the changed row only.
		dir := t.TempDir()
		b, _ := os.ReadFile("testdata/spend.csv")
		p := filepath.Join(dir, "spend.csv")
		os.WriteFile(p, bytes.Replace(b, []byte("12.40"), []byte("13.40"), 1), 0o644)
		rep, err := ImportFile(context.Background(), db, p, Options{Kind: KindSpend})
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, rep, 5, 1, 4, 0, 0)
		if got := spendRows(t, db)["2024-05-01|Paid Search|brand|google_ads"].Amount; got != 1340 {
			t.Errorf("replaced amount = %d", got)
		}
	})
}

func TestShopifyPreset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "shopify_orders_export.csv", Options{Kind: KindOrders, Preset: "shopify"})
		// 9 rows, 6 orders; #1005 voided (skipped); #1002 and #1003 refunded: 7 events.
		wantReport(t, rep, 9, 7, 0, 1, 0)
		evs := events(t, db)
		o := evs["import-order-#1001"]
		products, _ := dig(o.Body, "properties", "products").([]any)
		if len(products) != 2 || dig(products[1], "sku") != "REP-KIT" || dig(products[1], "quantity") != 2.0 || dig(products[1], "price") != 20.0 {
			t.Errorf("#1001 products = %v", products)
		}
		if dig(o.Body, "properties", "total") != 94.8 || dig(o.Body, "properties", "revenue") != 74.77 ||
			dig(o.Body, "properties", "tax") != 15.13 || o.TS != "2024-03-02T09:14:22Z" || dig(o.Body, "properties", "location") != "web" {
			t.Errorf("#1001 = %+v", o)
		}
		if evs["import-order-#1003"].AnonymousID != o.AnonymousID || o.AnonymousID == "" {
			t.Error("one email should give one identity across orders")
		}
		if r := evs["import-refund-#1003"]; dig(r.Body, "properties", "total") != 25.0 {
			t.Errorf("#1003 refund = %v", r.Body)
		}
		if r := evs["import-refund-#1002"]; r.Name != "Order Refunded" || dig(r.Body, "properties", "total") != nil {
			t.Errorf("#1002 refund = %v", r.Body)
		}
		if p, _ := dig(evs["import-order-#1003"].Body, "properties", "products").([]any); len(p) != 3 {
			t.Errorf("#1003 has %d products, want 3 merged rows", len(p))
		}
		pos := evs["import-order-#1004"]
		if dig(pos.Body, "properties", "location") != "store" || dig(pos.Body, "properties", "store") != "Radwerk Kreuzberg" ||
			!strings.HasPrefix(pos.AnonymousID, "import-phone-") {
			t.Errorf("#1004 = %+v", pos)
		}
		if dig(evs["import-order-#1006"].Body, "properties", "location") != "phone" {
			t.Error("draft order should be a phone order")
		}
		if _, ok := evs["import-order-#1005"]; ok {
			t.Error("voided order imported")
		}
		wantReport(t, importFile(t, db, "shopify_orders_export.csv", Options{Kind: KindOrders, Preset: "shopify"}), 9, 0, 7, 1, 0)
	})
}

func TestGoogleAdsPreset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "google_ads_campaign_report.csv", Options{Kind: KindSpend, Preset: "google-ads"})
		wantReport(t, rep, 6, 6, 0, 0, 0) // title lines and the two Total lines are not rows
		s := spendRows(t, db)
		for k, want := range map[string]spendOut{
			"2024-03-02|Paid Search|Brand - Radwerk|google_ads":        {100205, "EUR", 11040, 901},
			"2024-03-01|Paid Shopping|Shopping - Zubehör|google_ads":   {3110, "EUR", 8911, 140},
			"2024-03-01|Cross-network|PMax - Alle Produkte|google_ads": {2000, "EUR", 15338, 77},
			"2024-03-02|Paid Video|YouTube - Werkstatt|google_ads":     {533, "EUR", 3120, 9},
			"2024-03-03|Display|Remarketing Display|google_ads":        {0, "EUR", 0, 0},
		} {
			if s[k] != want {
				t.Errorf("%s = %+v, want %+v", k, s[k], want)
			}
		}
		// The API export has the same campaigns in micros: identical rows, nothing changes.
		rep = importFile(t, db, "google_ads_api_export.csv", Options{Kind: KindSpend, Preset: "google-ads"})
		wantReport(t, rep, 4, 1, 3, 0, 0)
		if got := spendRows(t, db)["2024-03-02|Display|Demand Gen - Frühling|google_ads"]; got != (spendOut{500, "EUR", 2210, 12}) {
			t.Errorf("demand gen from micros = %+v", got)
		}
	})
}

func TestMetaAdsPreset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep := importFile(t, db, "meta_ads_daily.csv", Options{Kind: KindSpend, Preset: "meta-ads"})
		wantReport(t, rep, 5, 3, 0, 1, 0) // two ad sets of one campaign and day are summed; the summary row is skipped
		s := spendRows(t, db)
		if got := s["2024-03-01|Paid Social|Frühling 2024 - Traffic|meta_ads"]; got != (spendOut{2500, "EUR", 10297, 119}) {
			t.Errorf("summed ad sets = %+v", got)
		}
		if got := s["2024-03-02|Paid Social|Werkstatt Leads|meta_ads"]; got != (spendOut{999, "EUR", 1302, 0}) {
			t.Errorf("leads = %+v", got)
		}
	})
	t.Run("range", func(t *testing.T) {
		db := storetest.SQLite(t)
		rep := importFile(t, db, "meta_ads_summary.csv", Options{Kind: KindSpend, Preset: "meta-ads"})
		wantReport(t, rep, 2, 4, 0, 0, 0)
		s := spendRows(t, db)
		var sum int64
		for _, d := range []string{"01", "02", "03"} {
			got := s["2024-03-"+d+"|Paid Social|Frühling 2024 - Traffic|meta_ads"]
			sum += got.Amount
			if got.Impressions != 10000 || got.Click != 100 || got.Amount < 3333 || got.Amount > 3334 {
				t.Errorf("day %s = %+v", d, got)
			}
		}
		if sum != 10000 {
			t.Errorf("spread sums to %d, want 10000", sum)
		}
	})
}

func TestAllOrNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rep, err := ImportFile(context.Background(), db, "testdata/orders_bad.csv", Options{Kind: KindOrders})
		if !errors.Is(err, ErrBadRows) {
			t.Fatalf("err = %v, want ErrBadRows", err)
		}
		want := []string{
			`line 3, column "total": "12,3x" is not a number`,
			`line 4, column "timestamp": "yesterday" is not a date-time`,
			`line 5, column "currency": currency "EURO" is not a 3-letter ISO 4217 code`,
		}
		if len(rep.Errors) != 3 || rep.Rejected != 3 || rep.Imported != 0 {
			t.Fatalf("report = %+v", rep)
		}
		for i, w := range want {
			if got := rep.Errors[i].Error(); !strings.HasPrefix(got, w) {
				t.Errorf("error %d = %q, want prefix %q", i, got, w)
			}
		}
		if !strings.Contains(err.Error(), want[0]) {
			t.Errorf("error message %q does not name the first bad row", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM events`) + count(t, db, `SELECT COUNT(*) FROM rejected_events`); n != 0 {
			t.Errorf("%d rows written by a failed import", n)
		}
		_, err = ImportFile(context.Background(), db, "testdata/spend_bad.csv", Options{Kind: KindSpend})
		if !errors.Is(err, ErrBadRows) || count(t, db, `SELECT COUNT(*) FROM spend`) != 0 {
			t.Errorf("bad spend: err %v, rows %d", err, count(t, db, `SELECT COUNT(*) FROM spend`))
		}
	})
}

func TestSkipBad(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dir := t.TempDir()
		in := filepath.Join(dir, "orders_bad.csv")
		b, _ := os.ReadFile("testdata/orders_bad.csv")
		os.WriteFile(in, b, 0o644)
		rep, err := ImportFile(context.Background(), db, in, Options{Kind: KindOrders, SkipBad: true})
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, rep, 5, 2, 0, 0, 3)
		if rep.RejectedPath != filepath.Join(dir, "orders_bad.rejected.csv") {
			t.Errorf("rejected path %q", rep.RejectedPath)
		}
		f, err := os.Open(rep.RejectedPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || strings.Join(recs[0], ",") != "order_id,customer_id,timestamp,total,currency,error" ||
			recs[1][0] != "B-2002" || recs[1][3] != "12,3x" || !strings.Contains(recs[1][5], `column "total"`) {
			t.Errorf("rejected file = %q", recs)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM rejected_events WHERE origin = 'import orders_bad.csv'`); n != 3 {
			t.Errorf("%d rejected_events, want 3", n)
		}
		var pos int
		var reason string
		if err := db.QueryRow(context.Background(), `SELECT position, reason FROM rejected_events ORDER BY position LIMIT 1`).Scan(&pos, &reason); err != nil || pos != 3 || !strings.Contains(reason, "12,3x") {
			t.Errorf("first rejection = %d %q %v", pos, reason, err)
		}
		if evs := events(t, db); len(evs) != 2 {
			t.Errorf("%d events, want B-2001 and B-2005", len(evs))
		}

		// JSONL: bad lines are written with their line number and error.
		rj := filepath.Join(dir, "rej.jsonl")
		rep, err = ImportFile(context.Background(), db, "testdata/events_bad.jsonl", Options{Kind: KindEvents, SkipBad: true, RejectedPath: rj})
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, rep, 5, 2, 0, 0, 3)
		wantErr := []string{`line 2, column "event"`, `line 3: invalid JSON`, `line 4, column "userId"`}
		for i, w := range wantErr {
			if i >= len(rep.Errors) || !strings.HasPrefix(rep.Errors[i].Error(), w) {
				t.Errorf("errors = %v, want %d: %s", rep.Errors, i, w)
			}
		}
		data, _ := os.ReadFile(rj)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		var first struct {
			Line   int
			Error  string
			Record map[string]any
		}
		if len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &first) != nil || first.Line != 2 || first.Record["messageId"] != "b-2" {
			t.Errorf("rejected jsonl = %q", lines)
		}
	})
}

func TestGzipAndProgress(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	dir := t.TempDir()
	b, _ := os.ReadFile("testdata/orders.csv")
	p := filepath.Join(dir, "orders.csv.gz")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	os.WriteFile(p, z.Bytes(), 0o644)
	var prog bytes.Buffer
	rep, err := ImportFile(context.Background(), db, p, Options{Kind: KindOrders, Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, rep, 5, 7, 0, 0, 0)
	if !strings.Contains(prog.String(), "rows/s") || !strings.Contains(prog.String(), "5 rows") {
		t.Errorf("progress output %q", prog.String())
	}
}

func TestInterleavedOrderRows(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := "order_id,timestamp,product_name,quantity,price,currency\n" +
		"A1,2024-01-01,Bread,1,3.20,EUR\n" +
		"A2,2024-01-01,Cake,1,12.00,EUR\n" +
		"A1,2024-01-01,Butter,1,2.10,EUR\n"
	rep, err := Import(context.Background(), db, strings.NewReader(in), "x.csv", Options{Kind: KindOrders})
	if err != nil || rep.Imported != 2 {
		t.Fatalf("%v %+v", err, rep)
	}
	if o := events(t, db)["import-order-A1"]; dig(o.Body, "properties", "total") != 5.3 {
		t.Errorf("A1 = %v, want the two interleaved lines merged", o.Body)
	}

	// Beyond the window the order is closed: its late row is an error, not a silent duplicate.
	var b strings.Builder
	b.WriteString("order_id,timestamp,total,currency\nLATE,2024-01-01,1.00,EUR\n")
	for i := 0; i < orderWindow; i++ {
		b.WriteString("O" + strconv.Itoa(i) + ",2024-01-01,1.00,EUR\n")
	}
	b.WriteString("LATE,2024-01-01,1.00,EUR\n")
	rep, err = Import(context.Background(), storetest.SQLite(t), strings.NewReader(b.String()), "y.csv", Options{Kind: KindOrders})
	if !errors.Is(err, ErrBadRows) || len(rep.Errors) != 1 || rep.Errors[0].Line != orderWindow+3 ||
		!strings.Contains(rep.Errors[0].Reason, "appeared before at line 2") {
		t.Fatalf("err %v, errors %+v", err, rep.Errors)
	}
}

func TestMissingCurrency(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := "order_id,timestamp,total\nA1,2024-01-01,3.20\n"
	_, err := Import(context.Background(), db, strings.NewReader(in), "x.csv", Options{Kind: KindOrders})
	if !errors.Is(err, ErrBadRows) || !strings.Contains(err.Error(), "--currency") {
		t.Fatalf("err = %v", err)
	}
	rep, err := Import(context.Background(), db, strings.NewReader(in), "x.csv", Options{Kind: KindOrders, Currency: "jpy"})
	if err != nil || rep.Imported != 1 {
		t.Fatalf("with --currency: %v %+v", err, rep)
	}
	if o := events(t, db)["import-order-A1"]; dig(o.Body, "properties", "total") != 3.0 || dig(o.Body, "properties", "currency") != "JPY" {
		t.Errorf("JPY has no minor unit: %v", o.Body)
	}
}

func TestEventsWithoutUsableMessageID(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := `{"type":"track","event":"A","userId":"u1","timestamp":"2024-01-01T00:00:00Z","properties":{"messageId":"nested"}}
{"type":"track","event":"B","userId":"u1","timestamp":"2024-01-01T00:00:00Z","messageId":""}
`
	for i, want := range []int{2, 0} {
		rep, err := Import(context.Background(), db, strings.NewReader(in), "e.jsonl", Options{Kind: KindEvents})
		if err != nil || rep.Imported != want || rep.Duplicates != 2-want {
			t.Fatalf("import %d: %v %+v", i, err, rep)
		}
	}
	for id := range events(t, db) {
		if !strings.HasPrefix(id, "import-") {
			t.Errorf("message id %q is not derived from the line", id)
		}
	}
}

func TestHugeOrderFitsTheEventLimit(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	var b strings.Builder
	b.WriteString("order_id,timestamp,product_id,product_name,quantity,price,currency\n")
	for i := 0; i < 600; i++ {
		b.WriteString("BIG-1,2024-01-01T10:00:00Z,SKU-" + strings.Repeat("x", 20) + string(rune('a'+i%26)) + ",A rather long product description for a wholesale line,2,1.25,EUR\n")
	}
	rep, err := Import(context.Background(), db, strings.NewReader(b.String()), "big.csv", Options{Kind: KindOrders})
	if err != nil || rep.Imported != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	o := events(t, db)["import-order-BIG-1"]
	p, _ := dig(o.Body, "properties", "products").([]any)
	if dig(o.Body, "properties", "total") != 1500.0 || dig(o.Body, "properties", "item_count") != 600.0 ||
		dig(o.Body, "properties", "products_truncated") != true || len(p) == 0 || len(p) >= 600 {
		t.Errorf("total %v, item_count %v, truncated %v, %d products kept", dig(o.Body, "properties", "total"),
			dig(o.Body, "properties", "item_count"), dig(o.Body, "properties", "products_truncated"), len(p))
	}
}

// Google Ads' "Excel CSV" download is UTF-16LE with a BOM and tab-separated.
func TestGoogleAdsExcelUTF16(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/google_ads_campaign_report.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var tsv bytes.Buffer
	w := csv.NewWriter(&tsv)
	w.Comma = '\t'
	w.WriteAll(recs)
	enc := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	data, err := enc.Bytes(tsv.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	rep, err := Import(context.Background(), db, bytes.NewReader(data), "Campaign report.csv", Options{Kind: KindSpend, Preset: "google-ads"})
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, rep, 6, 6, 0, 0, 0)
	if got := spendRows(t, db)["2024-03-01|Paid Shopping|Shopping - Zubehör|google_ads"]; got != (spendOut{3110, "EUR", 8911, 140}) {
		t.Errorf("shopping = %+v", got)
	}
}

// A spreadsheet saved in a German locale: semicolons and decimal commas.
func TestSemicolonDecimalComma(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := "date;channel;campaign;platform;amount;currency;impressions;clicks\n" +
		"2024-05-01;Direct Mail;Flyer Mai;manual;1.234,50;EUR;;\n" +
		"02.05.2024;Events;Wochenmarkt;manual;45,5;EUR;;\n"
	rep, err := Import(context.Background(), db, strings.NewReader(in), "ausgaben.csv", Options{Kind: KindSpend})
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, rep, 2, 2, 0, 0, 0)
	s := spendRows(t, db)
	if s["2024-05-01|Direct Mail|Flyer Mai|manual"].Amount != 123450 || s["2024-05-02|Events|Wochenmarkt|manual"].Amount != 4550 {
		t.Errorf("spend = %v", s)
	}
}

func TestCustomersJSONLAndRejectedPath(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := `{"email":"ina@example.com","first_name":"Ina","orders_count":3,"vip":true}` + "\n" + `{"first_name":"nobody"}` + "\n"
	rep, err := Import(context.Background(), db, strings.NewReader(in), "c.jsonl", Options{Kind: KindCustomers, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, rep, 2, 1, 0, 0, 1)
	if rep.Errors[0].Line != 2 || rep.Errors[0].Column != "customer_id" {
		t.Errorf("errors = %+v", rep.Errors)
	}
	for _, e := range events(t, db) {
		if dig(e.Body, "traits", "orders_count") != 3.0 || dig(e.Body, "traits", "vip") != true || dig(e.Body, "traits", "firstName") != "Ina" {
			t.Errorf("traits = %v", dig(e.Body, "traits"))
		}
	}
	for in, want := range map[string]string{"d/orders.csv.gz": "d/orders.rejected.csv", "e.jsonl": "e.rejected.jsonl", "x.tsv": "x.rejected.csv"} {
		format, _ := formatOf(in)
		if got := defaultRejectedPath(in, format); got != want {
			t.Errorf("defaultRejectedPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOrderTotalFromJSONItems(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := `{"order_id":"K-1","timestamp":"2024-02-01T09:00:00Z","currency":"EUR","shipping":"3.90","items":[{"sku":"A","price":"2.50","quantity":3},{"sku":"B","price":1.2}]}` + "\n"
	if _, err := Import(context.Background(), db, strings.NewReader(in), "k.jsonl", Options{Kind: KindOrders}); err != nil {
		t.Fatal(err)
	}
	o := events(t, db)["import-order-K-1"]
	if dig(o.Body, "properties", "total") != 12.6 || dig(o.Body, "properties", "revenue") != 8.7 {
		t.Errorf("K-1 = %v", o.Body["properties"])
	}
}

func TestRefundHasNoCampaign(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := "order_id,customer_id,timestamp,total,currency,utm_source,utm_medium,status\nR-1,c1,2024-01-01,10.00,EUR,google,cpc,refunded\n"
	if _, err := Import(context.Background(), db, strings.NewReader(in), "r.csv", Options{Kind: KindOrders}); err != nil {
		t.Fatal(err)
	}
	evs := events(t, db)
	if dig(evs["import-order-R-1"].Body, "context", "campaign", "source") != "google" || dig(evs["import-refund-R-1"].Body, "context", "campaign") != nil {
		t.Errorf("order context %v, refund context %v", evs["import-order-R-1"].Body["context"], evs["import-refund-R-1"].Body["context"])
	}
}

// cancelAfter cancels a context once n bytes have been read through it.
type cancelAfter struct {
	r      *strings.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if len(p) > 4096 {
		p = p[:4096]
	}
	k, err := c.r.Read(p)
	if c.n -= k; c.n <= 0 {
		c.cancel()
	}
	return k, err
}

func TestCancelledImportWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var b strings.Builder
		for i := 0; i < 20000; i++ {
			b.WriteString(`{"type":"track","event":"E","userId":"u","messageId":"c-` + strconv.Itoa(i) + `"}` + "\n")
		}
		if _, err := db.EnsureSource(context.Background(), "import"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		in := &cancelAfter{r: strings.NewReader(b.String()), n: 300000, cancel: cancel}
		_, err := Import(ctx, db, in, "e.jsonl", Options{Kind: KindEvents})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM events`); n != 0 {
			t.Errorf("%d events written by a cancelled import", n)
		}
	})
}

func TestRowWithMoreValuesThanHeader(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	in := "date,channel,campaign,platform,amount,currency\n" +
		"2026-01-01,Paid Search,brand,google_ads,12.50,EUR\n" +
		"2026-01-02,Paid Search,brand,google_ads,12,30,EUR\n" +
		"2026-01-03,Paid Search,brand,google_ads,9.00,EUR,,\n"
	rep, err := Import(context.Background(), db, strings.NewReader(in), "spend.csv", Options{Kind: KindSpend})
	if !errors.Is(err, ErrBadRows) {
		t.Fatalf("err = %v, want ErrBadRows", err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Line != 3 || !strings.Contains(rep.Errors[0].Error(), "7 values but the header has 6 columns") {
		t.Fatalf("errors = %v; want one on line 3 about 7 values (trailing empty values on line 4 are fine)", rep.Errors)
	}
	rep, err = Import(context.Background(), db, strings.NewReader(in), "spend.csv", Options{Kind: KindSpend, SkipBad: true, RejectedPath: filepath.Join(t.TempDir(), "rej.csv")})
	if err != nil || rep.Imported != 2 || rep.Rejected != 1 {
		t.Fatalf("--skip-bad: %+v, %v; want 2 imported, 1 rejected", rep, err)
	}
}

// TestImportRefusesClientSource: imports are trusted (their contact details count as
// verified), so they may not go into a client source, whose key is public.
func TestImportRefusesClientSource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, _, err := db.CreateSource(ctx, "web"); err != nil {
			t.Fatal(err)
		}
		_, err := ImportFile(ctx, db, filepath.Join("testdata", "customers.csv"), Options{Kind: "customers", Source: "web"})
		if err == nil || !strings.Contains(err.Error(), "client source") {
			t.Fatalf("import into a client source: %v", err)
		}
		if n, _ := db.MaxEventSeq(ctx); n != 0 {
			t.Fatalf("%d events stored", n)
		}
		rep := importFile(t, db, "customers.csv", Options{Kind: "customers"})
		src, err := db.SourceByName(ctx, "import")
		if err != nil || src.Kind != store.KindServer || rep.Imported == 0 {
			t.Fatalf("default import source %+v %v, report %+v", src, err, rep)
		}
	})
}
