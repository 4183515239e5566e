package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/money"
)

// The importer's fuzz tests run its reading and converting half (everything but the
// database writes) over arbitrary files, for each kind, format and preset:
//
//   - a row error names a line of the file and a reason;
//   - every accepted row gives events that normalise again to themselves (the stored
//     body is a valid event with the same columns);
//   - converting the same file twice gives the same message ids (a re-import finds its
//     events);
//   - spend rows have a real day, a currency, and no negative amounts or counts;
//   - order amounts in the events are canonical decimals of their currency.

// fuzzMode is one way to read a file.
type fuzzMode struct {
	kind, preset, format string
}

// fuzzResult is what converting a file gave.
type fuzzResult struct {
	events []event.Event
	errs   []RowError
	spend  []spendRow
	rows   int
	err    error // the whole file was refused (a CSV syntax error, no header, ...)
	lines  int   // lines of the decoded text
}

var fuzzNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// convertFile runs a file through the converter as run does, without a database.
func convertFile(t *testing.T, m fuzzMode, data []byte) fuzzResult {
	var res fuzzResult
	opt := Options{Kind: m.kind, Preset: m.preset, Format: m.format, SkipBad: true}
	if len(data) > 0 && data[0]%4 == 0 {
		opt.Currency = "EUR" // sometimes a --currency, sometimes none
	}
	conv, err := newConverter(opt)
	if err != nil {
		t.Fatalf("mode %+v: %v", m, err)
	}
	if br, err := decode(bytes.NewReader(data)); err == nil {
		text, _ := io.ReadAll(br)
		res.lines = bytes.Count(text, []byte("\n")) + 1
	}
	br, err := decode(bytes.NewReader(data))
	if err != nil {
		res.err = err
		return res
	}
	var src source
	if m.format == "csv" {
		cs, err := newCSVSource(br, conv.isHeader)
		if err != nil {
			res.err = err
			return res
		}
		src = cs
	} else {
		src = &jsonlSource{br: br, parse: conv.wantsObjects()}
	}
	conv.setup(1, fuzzNow)
	var rep Report
	out := make(chan batch)
	done := make(chan error, 1)
	go func() {
		defer close(out)
		done <- produce(context.Background(), src, conv, &rep, opt, nil, out, "fuzz", 1, fuzzNow, newProgress(nil, 0, nil))
	}()
	for b := range out {
		res.events = append(res.events, b.events...)
	}
	res.err = <-done
	res.errs, res.rows = rep.Errors, rep.Rows
	if sc, ok := conv.(*spendConverter); ok && res.err == nil {
		res.spend = sc.rows()
	}
	return res
}

func checkImport(t *testing.T, m fuzzMode, data []byte) {
	res := convertFile(t, m, data)
	if res.err != nil {
		if res.err.Error() == "" {
			t.Fatal("a refused file gives an empty message")
		}
		return
	}
	for _, e := range res.errs {
		if e.Line < 1 || e.Line > res.lines || strings.TrimSpace(e.Reason) == "" {
			t.Fatalf("row error %+v: want a line from 1 to %d and a reason", e, res.lines)
		}
	}
	for _, ev := range res.events {
		again, err := event.Normalize(ev.Body, "", ev.ReceivedAt, time.Time{})
		if err != nil {
			t.Fatalf("an accepted row's event does not pass validation again: %v\n%s", err, ev.Body)
		}
		if again.MessageID != ev.MessageID || again.Type != ev.Type || again.UserID != ev.UserID ||
			again.AnonymousID != ev.AnonymousID || again.Name != ev.Name || !again.Timestamp.Equal(ev.Timestamp) {
			t.Fatalf("event changed on normalising its body:\n%+v\n%+v", ev, again)
		}
		if ev.SourceID != 1 {
			t.Fatalf("event without the import's source: %+v", ev)
		}
		if m.kind == KindOrders {
			checkOrderAmounts(t, ev)
		}
	}
	if len(res.spend) > res.rows*37*31 {
		t.Fatalf("%d rows gave %d spend rows: more days than a report range can hold", res.rows, len(res.spend))
	}
	for _, s := range res.spend {
		if _, err := time.Parse("2006-01-02", s.Day); err != nil {
			t.Fatalf("spend row with day %q", s.Day)
		}
		if c, err := money.NormalizeCurrency(s.Currency); err != nil || c != s.Currency {
			t.Fatalf("spend row with currency %q", s.Currency)
		}
		if s.AmountMinor < 0 || s.Impressions < 0 || s.Clicks < 0 {
			t.Fatalf("spend row with a negative figure: %+v", s)
		}
		if s.Channel == "" {
			t.Fatalf("spend row without a channel: %+v", s)
		}
	}
	// The same file again: the same events, by message id.
	again := convertFile(t, m, data)
	if !slices.Equal(messageIDs(res.events), messageIDs(again.events)) || len(again.errs) != len(res.errs) {
		t.Fatalf("a second conversion differs: %d events, %d errors, then %d events, %d errors",
			len(res.events), len(res.errs), len(again.events), len(again.errs))
	}
}

// checkOrderAmounts: the amounts of an order event are canonical decimals of its currency.
func checkOrderAmounts(t *testing.T, ev event.Event) {
	var body struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(ev.Body, &body); err != nil {
		t.Fatalf("order body: %v", err)
	}
	var cur string
	if err := json.Unmarshal(body.Properties["currency"], &cur); err != nil || len(cur) != 3 {
		t.Fatalf("order without a currency: %s", ev.Body)
	}
	for _, k := range []string{"total", "revenue", "subtotal", "shipping", "tax", "discount"} {
		raw, ok := body.Properties[k]
		if !ok {
			continue
		}
		v, err := money.ParseDecimal(string(raw), cur)
		if err != nil || money.Format(v, cur) != string(raw) {
			t.Fatalf("order %s %s is not a canonical amount (%d, %v): %s", k, raw, v, err, ev.Body)
		}
	}
}

func messageIDs(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.MessageID
	}
	return out
}

// addFiles seeds f with testdata files, each in the mode given.
func addFiles(f *testing.F, files map[string]int) {
	for name, mode := range files {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(mode))
	}
}

func fuzzImport(f *testing.F, modes []fuzzMode) {
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		checkImport(t, modes[int(mode)%len(modes)], data)
	})
}

var eventModes = []fuzzMode{{KindEvents, "", "csv"}, {KindEvents, "", "jsonl"}}

func FuzzImportEvents(f *testing.F) {
	addFiles(f, map[string]int{"events.csv": 0, "events.jsonl": 1, "events_bad.jsonl": 1})
	f.Add([]byte("type,event,user_id,timestamp,properties\ntrack,E,u,1700000000000,{}\n"), uint8(0))
	f.Add([]byte(`{"type":"track","event":"E","userId":"u","messageId":null,"receivedAt":"2024-01-01T00:00:00.5Z"}`+"\n"), uint8(1))
	fuzzImport(f, eventModes)
}

var customerModes = []fuzzMode{{KindCustomers, "", "csv"}, {KindCustomers, "", "jsonl"}}

func FuzzImportCustomers(f *testing.F) {
	addFiles(f, map[string]int{"customers.csv": 0})
	f.Add([]byte(`{"customer_id":7,"email":"a@example.com","created_at":"2024-01-01","vip":true,"score":1.5}`+"\n"+`{"phone":"+4930123"}`+"\n[]\n"), uint8(1))
	fuzzImport(f, customerModes)
}

var orderModes = []fuzzMode{
	{KindOrders, "", "csv"}, {KindOrders, "", "jsonl"},
	{KindOrders, "shopify", "csv"}, {KindOrders, "online-retail", "csv"},
}

func FuzzImportOrders(f *testing.F) {
	addFiles(f, map[string]int{"orders.csv": 0, "orders_bad.csv": 0, "orders.jsonl": 1, "shopify_orders_export.csv": 2})
	f.Add([]byte("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"+
		"536370,22728,ALARM CLOCK BAKELIKE PINK,24,12/1/2010 8:45,3.75,12583.0,France\n"+
		"536370,POST,POSTAGE,3,12/1/2010 8:45,18,12583.0,France\n"+
		"C536383,35004C,SET OF 3 COLOURED  FLYING DUCKS,-1,12/1/2010 9:49,4.65,15311.0,United Kingdom\n"), uint8(3))
	f.Add([]byte("order_id,timestamp,total,currency,status,refund_amount,refunded_at\nX,2024-01-01,10,EUR,partially_refunded,2.5,2024-01-02\nY,2024-01-01,5,JPY,refunded,,\n"), uint8(0))
	fuzzImport(f, orderModes)
}

var spendModes = []fuzzMode{
	{KindSpend, "", "csv"}, {KindSpend, "", "jsonl"},
	{KindSpend, "google-ads", "csv"}, {KindSpend, "meta-ads", "csv"},
}

func FuzzImportSpend(f *testing.F) {
	addFiles(f, map[string]int{"spend.csv": 0, "spend_bad.csv": 0, "google_ads_api_export.csv": 2,
		"google_ads_campaign_report.csv": 2, "meta_ads_daily.csv": 3, "meta_ads_summary.csv": 3})
	f.Add([]byte(`{"date":"2024-05-01","channel":"Email","amount":"3.50","currency":"eur","clicks":"1,200"}`+"\n"), uint8(1))
	// A range of centuries made a row per day: minutes and gigabytes for one line.
	f.Add([]byte("Reporting starts,Reporting ends,Campaign name,Impressions,Amount spent (EUR),Link clicks\n1000-03-01,9999-03-03,Fr,30000,100.00,300\n"), uint8(3))
	// A negative click count passed as a count.
	f.Add([]byte("day,channel,amount,currency,clicks\n0000-01-01,Paid Search,0,EUR,-1\n"), uint8(0))
	fuzzImport(f, spendModes)
}
