package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Seeds: the payloads of the tests above, the importer's Segment files, and batches
// built from them. Under `go test` the seeds (and testdata/fuzz) run as unit tests.

var fuzzPayloads = []string{
	`{"type":"track","event":"Product Viewed","userId":"user-1","anonymousId":"a-1","messageId":"m-1","timestamp":"2026-03-01T11:59:58.123Z","sentAt":"2026-03-01T12:00:00Z","properties":{"price":19.99,"currency":"EUR"},"context":{"page":{"url":"https://bakery.example/?utm_source=google"}}}`,
	`{"type":"identify","userId":42,"traits":{"email":"ana@example.com"},"writeKey":"wk_x"}`,
	`{"type":"page","anonymousId":"a","name":"Home","originalTimestamp":"2026-01-01T00:00:00.0005Z","sentAt":"2026-01-01T00:00:00.0009Z"}`,
	`{"type":"alias","userId":"u","previousId":"p","user\u0049d":"v"}`,
	`{"type":"group","userId":"u","groupId":"g","traits":{"name":"Acme"}}`,
	`{"type":"screen","userId":"u","name":"Cart","context":null,"integrations":{"All":false}}`,
	`{"type":"track","userId":"first","event":"x","userId":"second","messageId":"a","messageId":"b","p":1,"p":2}`,
	`{"type":"Track","event":"e","anonymousId":"\u00e9\ud83d\ude00","timestamp":"2026-01-01 10:00:00"}`,
	"{\"type\":\"track\",\"event\":\"\xff\xfe\",\"userId\":\"u\"}",
	`{"type":"track","event":"e","userId":"u","timestamp":"0001-01-01T00:00:00Z"}`,
	`{"type":"track","event":"e","userId":"u","timestamp":"9999-12-31T23:59:59.999999999+14:00","sentAt":"0001-01-01T00:00:00Z"}`,
	`[1,2]`, `{"type":"track"`, ``, `null`,
}

func segmentFileSeeds(f *testing.F) []string {
	out := append([]string(nil), fuzzPayloads...)
	for _, name := range []string{"../importer/testdata/events.jsonl", "../importer/testdata/events_bad.jsonl"} {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatalf("seed file: %v", err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		fh.Close()
	}
	return out
}

var fuzzHints = []string{"", Track, Identify, Page, Screen, Group, Alias}

// FuzzNormalizeRoundTrip: a stored body is itself an acceptable payload; normalising it
// again keeps every column, and a second round changes nothing more (the first may add
// originalTimestamp, the client time the first round took from "timestamp").
func FuzzNormalizeRoundTrip(f *testing.F) {
	for i, s := range segmentFileSeeds(f) {
		f.Add([]byte(s), uint8(i), i%3 == 0)
	}
	received := time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.UTC)
	batchSent := time.Date(2026, 3, 1, 11, 59, 59, 1234567, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte, hint uint8, batch bool) {
		in := &Input{TypeHint: fuzzHints[int(hint)%len(fuzzHints)], ReceivedAt: received}
		if batch {
			in.BatchSentAt = batchSent
			in.BatchContext = []byte(`{"library":{"name":"analytics-go"},"ip":"203.0.113.7"}`)
			in.BatchIntegrations = []byte(`{"All":true}`)
		}
		ev, err := in.Normalize(raw)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("rejection %v (%T) is not an *Error with a reason", err, err)
			}
			return
		}
		if !utf8.Valid(ev.Body) || !json.Valid(ev.Body) {
			t.Fatalf("stored body is not valid UTF-8 JSON: %q", ev.Body)
		}
		if ev.MessageID == "" || (ev.UserID == "" && ev.AnonymousID == "") {
			t.Fatalf("accepted without ids: %+v", ev)
		}
		// The importer passes a stored body's receivedAt back in, as here.
		again := renormalize(t, ev)
		third := renormalize(t, again)
		if !bytes.Equal(third.Body, again.Body) {
			t.Fatalf("normalising twice is not a fixpoint:\n%s\n%s", again.Body, third.Body)
		}
	})
}

// renormalize normalises a stored body again and checks it keeps every column.
func renormalize(t *testing.T, ev Event) Event {
	t.Helper()
	var m struct {
		ReceivedAt string `json:"receivedAt"`
	}
	if err := json.Unmarshal(ev.Body, &m); err != nil {
		t.Fatalf("body %s: %v", ev.Body, err)
	}
	recv, err := ParseTime(m.ReceivedAt)
	if err != nil {
		t.Fatalf("body receivedAt %q: %v", m.ReceivedAt, err)
	}
	again, err := Normalize(ev.Body, "", recv, time.Time{})
	if err != nil {
		t.Fatalf("a stored body is rejected: %v\n%s", err, ev.Body)
	}
	if again.Type != ev.Type || again.MessageID != ev.MessageID || again.UserID != ev.UserID ||
		again.AnonymousID != ev.AnonymousID || again.Name != ev.Name {
		t.Fatalf("columns changed on normalising the stored body:\n%+v\n%+v", ev, again)
	}
	if a, b := again.Timestamp.UnixMilli(), ev.Timestamp.UnixMilli(); a != b {
		t.Fatalf("timestamp %s became %s on normalising the stored body %s", ev.Timestamp.Format(time.RFC3339Nano), again.Timestamp.Format(time.RFC3339Nano), ev.Body)
	}
	if a, b := again.ReceivedAt.UnixMilli(), ev.ReceivedAt.UnixMilli(); a != b {
		t.Fatalf("receivedAt %s became %s", ev.ReceivedAt, again.ReceivedAt)
	}
	return again
}

// FuzzParseBatch: an accepted batch is valid JSON whose items are the batch array's
// elements, as encoding/json sees them; a refused one says why, with a byte offset
// inside the body for syntax errors.
func FuzzParseBatch(f *testing.F) {
	payloads := segmentFileSeeds(f)
	f.Add([]byte(`{"writeKey":"k","sentAt":"2026-03-01T12:00:00Z","context":{"x":1},"batch":[{"a":1}, 2 ,{"b":[1,2]}]}`))
	f.Add([]byte(`{"batch":[],"batch":[1]}`))
	f.Add([]byte(`{"batch":[1],"batch":{}}`)) // the last batch member is not an array
	f.Add([]byte(`{"batch":{}}`))
	f.Add([]byte(`{"batch":[1,]}`))
	f.Add([]byte(`{"sentAt":"yesterday","batch":[]}`))
	f.Add([]byte(` {"integrations":null,"context":[],"batch":[]} `))
	f.Add([]byte(`{"batch":[` + strings.Join(payloads[:8], ",") + `],"writeKey":"wk_\u0041"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBatch(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("rejection %v (%T) is not an *Error with a reason", err, err)
			}
			if json.Valid(body) && strings.HasPrefix(e.Reason, "invalid JSON") {
				t.Fatalf("valid JSON %q refused as %v", body, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which is not an object: %v", body, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(m["batch"], &items); err != nil {
			t.Fatalf("accepted %q whose last batch member is not an array: %v", body, err)
		}
		if len(items) != len(b.Items) || len(items) > MaxBatchEvents {
			t.Fatalf("%d items, encoding/json sees %d in %q", len(b.Items), len(items), body)
		}
		for i := range items {
			if !bytes.Equal(b.Items[i], items[i]) {
				t.Fatalf("item %d is %q, encoding/json says %q", i, b.Items[i], items[i])
			}
		}
		if utf8.Valid(body) {
			if want := stringMember(m, "writeKey"); b.WriteKey != want {
				t.Fatalf("writeKey %q, encoding/json says %q in %q", b.WriteKey, want, body)
			}
		}
	})
}

// FuzzWriteKey: the write key of a single-event body is its top-level "writeKey" string,
// the last one when repeated, as encoding/json reads it; anything else gives "".
func FuzzWriteKey(f *testing.F) {
	for _, s := range segmentFileSeeds(f) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"writeKey":"a","writeKey":"b"}`))
	f.Add([]byte(`{"writeKey":"a","writeKey":7}`))
	f.Add([]byte(`{"write\u004bey":"esc","context":{"writeKey":"inner"}}`))
	f.Add([]byte(`{"writeKey":"nul\u0000"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := WriteKey(raw)
		if !utf8.Valid(raw) {
			if !utf8.ValidString(got) {
				t.Fatalf("write key %q is not UTF-8", got)
			}
			return
		}
		want := ""
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			want = stringMember(m, "writeKey")
		}
		if got != want {
			t.Fatalf("WriteKey(%q) = %q, encoding/json says %q", raw, got, want)
		}
	})
}

// stringMember is m[k] as a string, "" when absent, not a string or holding NUL.
func stringMember(m map[string]json.RawMessage, k string) string {
	var s string
	if json.Unmarshal(m[k], &s) != nil || strings.IndexByte(s, 0) >= 0 {
		return ""
	}
	return s
}
