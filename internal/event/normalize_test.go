package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var recv = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func body(t *testing.T, ev Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Body, &m); err != nil {
		t.Fatalf("stored body is not JSON: %v\n%s", err, ev.Body)
	}
	return m
}

func TestClockSkew(t *testing.T) {
	// The device clock runs 1 h fast: it says the event happened at 13:00:00 and the
	// batch left at 13:00:10; we received it at 12:00:11.
	raw := `{"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-03-01T13:00:00.000Z","sentAt":"2026-03-01T13:00:10Z"}`
	ev, err := Normalize([]byte(raw), "", recv.Add(11*time.Second), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC) // receivedAt - (sentAt - originalTimestamp)
	if !ev.Timestamp.Equal(want) {
		t.Fatalf("timestamp %v, want %v", ev.Timestamp, want)
	}
	m := body(t, ev)
	if m["originalTimestamp"] != "2026-03-01T13:00:00.000Z" || m["timestamp"] != "2026-03-01T12:00:01.000Z" ||
		m["receivedAt"] != "2026-03-01T12:00:11.000Z" || m["sentAt"] != "2026-03-01T13:00:10.000Z" {
		t.Fatalf("stored times wrong: %v", m)
	}

	// originalTimestamp wins over timestamp; the batch's sentAt stands in for a missing one.
	raw = `{"type":"page","anonymousId":"a","timestamp":"2020-01-01T00:00:00Z","originalTimestamp":"2026-03-01T11:59:00+01:00"}`
	ev, err = Normalize([]byte(raw), "", recv, time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// orig = 10:59 UTC, sent = 11:00 → one minute before receipt.
	if want := recv.Add(-time.Minute); !ev.Timestamp.Equal(want) {
		t.Fatalf("timestamp %v, want %v", ev.Timestamp, want)
	}
}

func TestMissingTimestamps(t *testing.T) {
	ev, err := Normalize([]byte(`{"type":"identify","userId":"u"}`), "", recv, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Timestamp.Equal(recv) || !ev.ReceivedAt.Equal(recv) {
		t.Fatalf("no client times: timestamp %v receivedAt %v, want both %v", ev.Timestamp, ev.ReceivedAt, recv)
	}
	m := body(t, ev)
	if _, ok := m["originalTimestamp"]; ok {
		t.Fatal("originalTimestamp invented")
	}
	// A timestamp without sentAt (an import) is kept as is.
	ev, err = Normalize([]byte(`{"type":"identify","userId":"u","timestamp":"2019-05-06T07:08:09.5Z"}`), "", recv, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2019, 5, 6, 7, 8, 9, 5e8, time.UTC); !ev.Timestamp.Equal(want) {
		t.Fatalf("timestamp %v, want %v", ev.Timestamp, want)
	}
	if _, err := Normalize([]byte(`{"type":"identify","userId":"u","timestamp":"yesterday"}`), "", recv, time.Time{}); err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Fatalf("bad timestamp accepted: %v", err)
	}
}

func TestNumericUserID(t *testing.T) {
	ev, err := Normalize([]byte(`{"type":"track","event":"x","userId":12345,"anonymousId":7.5}`), "", recv, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.UserID != "12345" || ev.AnonymousID != "7.5" {
		t.Fatalf("ids %q %q", ev.UserID, ev.AnonymousID)
	}
	m := body(t, ev)
	if m["userId"] != "12345" || m["anonymousId"] != "7.5" {
		t.Fatalf("body ids not strings: %v", m)
	}
	if _, err := Normalize([]byte(`{"type":"track","event":"x","userId":true}`), "", recv, time.Time{}); err == nil {
		t.Fatal("boolean userId accepted")
	}
}

func TestRequiredFields(t *testing.T) {
	cases := []struct {
		raw, hint, field string // field "" means valid
	}{
		{`{"event":"Signed Up","userId":"u"}`, Track, ""},
		{`{"userId":"u"}`, Track, "event"},
		{`{"event":"  ","userId":"u"}`, Track, "event"},
		{`{"event":"x"}`, Track, "userId"},
		{`{"userId":"u"}`, Identify, ""},
		{`{"traits":{"a":1}}`, Identify, "userId"},
		{`{"anonymousId":"a"}`, Page, ""},
		{`{"anonymousId":"a","name":"Home"}`, Screen, ""},
		{`{"userId":"u","groupId":"g"}`, Group, ""},
		{`{"userId":"u"}`, Group, "groupId"},
		{`{"userId":"u","previousId":"a"}`, Alias, ""},
		{`{"anonymousId":"x","previousId":"a"}`, Alias, "userId"},
		{`{"userId":"u"}`, Alias, "previousId"},
		{`{"type":"track","userId":"u"}`, Identify, "type"},
		{`{"type":"purchase","userId":"u"}`, "", "type"},
		{`{"userId":"u"}`, "", "type"},
		{`{"type":"TRACK","event":"e","userId":"u"}`, "", ""},
		{`{"type":"track","event":"e","userId":"u","properties":[1]}`, "", "properties"},
		{`{"type":"track","event":"e","userId":"u","context":"x"}`, "", "context"},
		{`{"type":"track","event":"e","userId":"u","messageId":"` + strings.Repeat("m", 101) + `"}`, "", "messageId"},
		{`{"type":"track","event":"e","userId":"u","messageId":"` + strings.Repeat("é", 100) + `"}`, "", ""},
		{`{"type":"track","event":"e","userId":"a\u0000b"}`, "", "userId"},
	}
	for _, c := range cases {
		ev, err := Normalize([]byte(c.raw), c.hint, recv, time.Time{})
		var e *Error
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s (%s): rejected: %v", c.raw, c.hint, err)
		case c.field == "" && ev.MessageID == "":
			t.Errorf("%s: no messageId", c.raw)
		case c.field != "" && !errors.As(err, &e):
			t.Errorf("%s (%s): want a rejection on %s, got %v", c.raw, c.hint, c.field, err)
		case c.field != "" && e.Field != c.field:
			t.Errorf("%s (%s): rejected on %q (%v), want %q", c.raw, c.hint, e.Field, err, c.field)
		}
	}
}

func TestBodyKeepsFieldsAndDropsWriteKey(t *testing.T) {
	raw := `{"type":"track","event":"Order Completed","userId":"u","writeKey":"wk_secret","receivedAt":"1999-01-01T00:00:00Z",
		"properties":{"revenue":12.5,"items":[1,2,{"a":null}]},"context":{"ip":"1.2.3.4"},"messageId":"m-1","custom":"x\"y"}`
	ev, err := (&Input{ReceivedAt: recv, BatchContext: []byte(`{"library":{"name":"analytics-go"},"ip":"9.9.9.9"}`)}).Normalize([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if ev.MessageID != "m-1" || ev.Name != "Order Completed" || ev.Type != Track {
		t.Fatalf("event %+v", ev)
	}
	m := body(t, ev)
	if _, ok := m["writeKey"]; ok {
		t.Fatal("writeKey stored")
	}
	if m["receivedAt"] != "2026-03-01T12:00:00.000Z" {
		t.Fatalf("client receivedAt kept: %v", m["receivedAt"])
	}
	if m["custom"] != `x"y` || m["properties"].(map[string]any)["revenue"] != 12.5 {
		t.Fatalf("fields lost: %v", m)
	}
	ctx := m["context"].(map[string]any)
	if ctx["ip"] != "1.2.3.4" || ctx["library"].(map[string]any)["name"] != "analytics-go" {
		t.Fatalf("context merge: %v", ctx)
	}
	if strings.Count(string(ev.Body), `"type"`) != 1 || strings.Count(string(ev.Body), `"messageId"`) != 1 {
		t.Fatalf("duplicated keys in %s", ev.Body)
	}
}

func TestInvalidJSON(t *testing.T) {
	for _, raw := range []string{``, `{`, `{"type":"track",}`, `[1]`, `{"a":1} x`, `{"a":tru}`, "{\"a\":\"\x01\"}", `{"a":01}`} {
		if _, err := Normalize([]byte(raw), Track, recv, time.Time{}); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	// Invalid UTF-8 inside strings is replaced, so PostgreSQL TEXT accepts the body.
	ev, err := Normalize([]byte("{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\xff\",\"properties\":{\"p\":\"\xfe\"}}"), "", recv, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.UserID != "u\uFFFD" || !Valid(ev.Body) || strings.ContainsRune(string(ev.Body), 0xfe) {
		t.Fatalf("invalid UTF-8 kept: %q %q", ev.UserID, ev.Body)
	}
}

func TestParseBatch(t *testing.T) {
	b, err := ParseBatch([]byte(`{"writeKey":"k","sentAt":"2026-03-01T12:00:00Z","context":{"x":1},"batch":[{"a":1}, 2 ,{"b":[1,2]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if b.WriteKey != "k" || len(b.Items) != 3 || string(b.Items[1]) != "2" || string(b.Items[2]) != `{"b":[1,2]}` || string(b.Context) != `{"x":1}` || !b.SentAt.Equal(recv) {
		t.Fatalf("batch %+v", b)
	}
	for _, raw := range []string{`{}`, `{"batch":{}}`, `{"batch":[1,]}`, `[]`, `{"batch":[]`} {
		if _, err := ParseBatch([]byte(raw)); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	big := `{"batch":[` + strings.Repeat(`{},`, MaxBatchEvents) + `{}]}`
	if _, err := ParseBatch([]byte(big)); err != ErrTooManyEvents {
		t.Fatalf("2501 events: %v", err)
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9\n"],"b":{"c":null,"d":true}}`, `-0.1`, `"\ud800"`, `[1,]`, `{"a" 1}`, `01`, `1.`, `1e`, `"\x"`, "\"\x7f\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	raw := []byte(`{"type":"track","event":"Product Viewed","userId":"user-123456","anonymousId":"5f0f3f8e-9d7e-4f4c-8b55-0a7d8e0c3a11","messageId":"msg-00000000001","timestamp":"2026-03-01T11:59:58.123Z","sentAt":"2026-03-01T12:00:00.000Z","properties":{"product_id":"sku-1234","price":19.99,"currency":"EUR","category":"bread"},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","page":{"path":"/p/sourdough","url":"https://bakery.example/p/sourdough","referrer":"https://www.google.com/"},"campaign":{"source":"google","medium":"cpc","name":"spring"}}}`)
	in := &Input{ReceivedAt: recv}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Normalize(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{recv, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := string(appendTime(nil, tm)), `"`+FormatTime(tm)+`"`; got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	// The last duplicate wins, as in encoding/json; replaced keys appear once in the body.
	raw := `{"type":"track","userId":"first","event":"x","userId":"second","messageId":"a","messageId":"b","p":1,"p":2}`
	ev, err := Normalize([]byte(raw), "", recv, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.UserID != "second" || ev.MessageID != "b" {
		t.Fatalf("ids %q %q", ev.UserID, ev.MessageID)
	}
	for _, k := range []string{`"userId"`, `"messageId"`, `"type"`} {
		if n := strings.Count(string(ev.Body), k); n != 1 {
			t.Errorf("%s appears %d times in %s", k, n, ev.Body)
		}
	}
	if m := body(t, ev); m["p"] != 2.0 || m["userId"] != "second" {
		t.Fatalf("body %v", m)
	}
}

// FuzzNormalize: whatever comes in, Normalize either rejects it or stores valid JSON that
// agrees with the columns.
func FuzzNormalize(f *testing.F) {
	f.Add([]byte(`{"type":"track","event":"e","userId":"u","context":{"a":1},"integrations":{"x":true}}`), true)
	f.Add([]byte(`{"type":"page","anonymousId":7,"timestamp":"2026-01-01T00:00:00Z","sentAt":"2026-01-01T00:00:01Z","writeKey":"k"}`), false)
	f.Add([]byte(`{"type":"alias","userId":"u","previousId":"p","user\u0049d":"v"}`), true)
	f.Fuzz(func(t *testing.T, raw []byte, withBatch bool) {
		in := &Input{ReceivedAt: recv}
		if withBatch {
			in.BatchContext = []byte(`{"library":{"name":"x"},"a":2}`)
			in.BatchIntegrations = []byte(`{"All":true}`)
		}
		ev, err := in.Normalize(raw)
		if err != nil {
			return
		}
		if !json.Valid(ev.Body) {
			t.Fatalf("invalid body %q from %q", ev.Body, raw)
		}
		var m map[string]any
		if err := json.Unmarshal(ev.Body, &m); err != nil {
			t.Fatal(err)
		}
		if m["messageId"] != ev.MessageID || m["type"] != ev.Type {
			t.Fatalf("body %s disagrees with %+v", ev.Body, ev)
		}
		if _, ok := m["writeKey"]; ok {
			t.Fatalf("writeKey kept in %s", ev.Body)
		}
	})
}
