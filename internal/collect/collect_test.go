package collect_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

type fixture struct {
	db  *store.DB
	h   *collect.Handler
	srv *httptest.Server
	key string
	src store.Source
}

func newFixture(t *testing.T, db *store.DB, opt collect.Options) *fixture {
	t.Helper()
	src, key, err := db.CreateSource(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	h := collect.NewHandler(db, opt)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &fixture{db: db, h: h, srv: srv, key: key, src: src}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body to path with the write key as basic auth (when key != "").
func (f *fixture) post(t *testing.T, path, key string, body []byte, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: reply is not JSON: %v: %s", req.Method, req.URL.Path, err, raw)
		}
	}
	return r
}

func (f *fixture) events(t *testing.T) []event.Event {
	t.Helper()
	evs, err := f.db.ReadEvents(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

type callback struct {
	mu       sync.Mutex
	ok, fail int
	errs     []error
}

func (c *callback) Success(analytics.Message) { c.mu.Lock(); c.ok++; c.mu.Unlock() }
func (c *callback) Failure(_ analytics.Message, err error) {
	c.mu.Lock()
	c.fail++
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// TestAnalyticsGo sends every call type with Segment's own Go library.
func TestAnalyticsGo(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, collect.Options{})
		cb := &callback{}
		client, err := analytics.NewWithConfig(f.key, analytics.Config{Endpoint: f.srv.URL, BatchSize: 4, Interval: 20 * time.Millisecond, Callback: cb})
		if err != nil {
			t.Fatal(err)
		}
		past := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
		before := time.Now().Add(-time.Second)
		msgs := []analytics.Message{
			analytics.Track{MessageId: "m-track", UserId: "u1", Event: "Order Completed", Timestamp: past, Properties: analytics.NewProperties().Set("revenue", 42.5)},
			analytics.Identify{MessageId: "m-identify", UserId: "u1", Traits: analytics.NewTraits().SetEmail("a@example.com")},
			analytics.Page{MessageId: "m-page", AnonymousId: "anon-1", Name: "Home"},
			analytics.Screen{MessageId: "m-screen", UserId: "u1", Name: "Basket"},
			analytics.Group{MessageId: "m-group", UserId: "u1", GroupId: "g1"},
			analytics.Alias{MessageId: "m-alias", UserId: "u1", PreviousId: "anon-1"},
			analytics.Track{UserId: "u2", Event: "No Id Given"},
		}
		for _, m := range msgs {
			if err := client.Enqueue(m); err != nil {
				t.Fatalf("enqueue %T: %v", m, err)
			}
		}
		if err := client.Close(); err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)
		if cb.fail > 0 || cb.ok != len(msgs) {
			t.Fatalf("client saw %d successes, %d failures: %v", cb.ok, cb.fail, cb.errs)
		}
		evs := f.events(t)
		if len(evs) != len(msgs) {
			t.Fatalf("stored %d events, want %d", len(evs), len(msgs))
		}
		byID := map[string]event.Event{}
		for _, e := range evs {
			byID[e.MessageID] = e
			if e.SourceID != f.src.ID {
				t.Errorf("%s: source %d, want %d", e.MessageID, e.SourceID, f.src.ID)
			}
			if e.ReceivedAt.Before(before) || e.ReceivedAt.After(after) {
				t.Errorf("%s: receivedAt %v outside the test", e.MessageID, e.ReceivedAt)
			}
			var b map[string]any
			if err := json.Unmarshal(e.Body, &b); err != nil {
				t.Fatal(err)
			}
			lib, _ := b["context"].(map[string]any)["library"].(map[string]any)
			if lib["name"] != "analytics-go" {
				t.Errorf("%s: batch context not merged: %s", e.MessageID, e.Body)
			}
			if b["messageId"] != e.MessageID || b["type"] != e.Type {
				t.Errorf("body disagrees with columns: %s", e.Body)
			}
		}
		want := map[string][3]string{ // type, name, userId
			"m-track": {"track", "Order Completed", "u1"}, "m-identify": {"identify", "", "u1"}, "m-page": {"page", "Home", ""},
			"m-screen": {"screen", "Basket", "u1"}, "m-group": {"group", "", "u1"}, "m-alias": {"alias", "", "u1"},
		}
		for id, w := range want {
			e, ok := byID[id]
			if !ok {
				t.Errorf("%s not stored", id)
				continue
			}
			if e.Type != w[0] || e.Name != w[1] || e.UserID != w[2] {
				t.Errorf("%s: got %s/%q/%q, want %v", id, e.Type, e.Name, e.UserID, w)
			}
		}
		if byID["m-page"].AnonymousID != "anon-1" {
			t.Errorf("page anonymousId %q", byID["m-page"].AnonymousID)
		}
		// The historical timestamp survives clock-skew correction (sentAt ≈ receivedAt here).
		if d := byID["m-track"].Timestamp.Sub(past); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("track timestamp %v, want about %v", byID["m-track"].Timestamp, past)
		}
		if !strings.Contains(string(byID["m-track"].Body), `"revenue":42.5`) {
			t.Errorf("properties lost: %s", byID["m-track"].Body)
		}
		generated := 0
		for id := range byID {
			if _, ok := want[id]; !ok && id != "" {
				generated++
			}
		}
		if generated != 1 {
			t.Errorf("want one more event with the library's own messageId, got %d", generated)
		}
	})
}

func batchOf(items ...string) []byte {
	return []byte(`{"batch":[` + strings.Join(items, ",") + `]}`)
}

func track(id string) string {
	return fmt.Sprintf(`{"type":"track","event":"Viewed","userId":"u","messageId":%q}`, id)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, testBadInput)
}

func testBadInput(t *testing.T, db *store.DB) {
	f := newFixture(t, db, collect.Options{})
	errorSays := func(t *testing.T, r reply, status int, want string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
		}
		msg, _ := r.body["error"].(string)
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q does not mention %q", msg, want)
		}
	}

	t.Run("oversize event", func(t *testing.T) {
		big := fmt.Sprintf(`{"event":"x","userId":"u","properties":{"p":%q}}`, strings.Repeat("a", 33*1024))
		errorSays(t, f.post(t, "/v1/track", f.key, []byte(big)), 400, "32 KB")
		// Inside a batch the item alone is rejected.
		r := f.post(t, "/v1/batch", f.key, batchOf(track("ok-1"), `{"type":"track","event":"x","userId":"u","p":"`+strings.Repeat("a", 33*1024)+`"}`))
		if r.status != 200 || r.body["accepted"] != 1.0 || !strings.Contains(r.raw, "32 KB") {
			t.Fatalf("batch with one oversize item: %d %s", r.status, r.raw)
		}
	})
	t.Run("oversize batch", func(t *testing.T) {
		items := make([]string, 0, 200)
		for i := range 200 {
			items = append(items, fmt.Sprintf(`{"type":"track","event":"x","userId":"u","p":%q}`, strings.Repeat("b", 3000)+fmt.Sprint(i)))
		}
		errorSays(t, f.post(t, "/v1/batch", f.key, batchOf(items...)), 400, "500 KB")
	})
	t.Run("too many events", func(t *testing.T) {
		items := make([]string, 2501)
		for i := range items {
			items[i] = `{}`
		}
		errorSays(t, f.post(t, "/v1/batch", f.key, batchOf(items...)), 400, "2500")
	})
	t.Run("invalid JSON", func(t *testing.T) {
		errorSays(t, f.post(t, "/v1/batch", f.key, []byte(`{"batch":[{"type":"track",}]}`)), 400, "invalid JSON")
		errorSays(t, f.post(t, "/v1/identify", f.key, []byte(`{"userId":`)), 400, "invalid JSON")
		// The key in the body is found before the error: the request is recorded as rejected.
		errorSays(t, f.post(t, "/v1/b", "", []byte(`{"writeKey":"`+f.key+`","batch":[{"type":"track",}]}`)), 400, "invalid JSON")
		var n int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			// The record is committed in the background, after the reply.
			if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM rejected_events WHERE source_id = ? AND position = -1 AND origin = 'api /v1/b'`, f.src.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
		}
		if n != 1 {
			t.Fatalf("whole-request rejection recorded %d times", n)
		}
	})
	t.Run("missing ids", func(t *testing.T) {
		errorSays(t, f.post(t, "/v1/track", f.key, []byte(`{"event":"x"}`)), 400, "either userId or anonymousId is required")
	})
	t.Run("write key", func(t *testing.T) {
		errorSays(t, f.post(t, "/v1/track", "wk_wrong", []byte(`{"event":"x","userId":"u"}`)), 401, "unknown write key")
		errorSays(t, f.post(t, "/v1/batch", "", batchOf(track("k1"))), 401, "missing write key")
		errorSays(t, f.post(t, "/v1/track", "", []byte(`{"event":"x","userId":"u","writeKey":"nope"}`)), 401, "unknown write key")
	})
	t.Run("gzip", func(t *testing.T) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(batchOf(track("gz-1"), track("gz-2")))
		_ = zw.Close()
		r := f.post(t, "/v1/batch", f.key, zb.Bytes(), "Content-Encoding", "gzip")
		if r.status != 200 || r.body["accepted"] != 2.0 {
			t.Fatalf("gzip batch: %d %s", r.status, r.raw)
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		// A head member, then one compressed megabyte of zeros repeated as further gzip
		// members (the format allows concatenation): 50 MB from about 50 KB.
		var head, zeros bytes.Buffer
		zw := gzip.NewWriter(&head)
		_, _ = zw.Write([]byte(`{"batch":[{"type":"track","event":"x","userId":"u","p":"`))
		_ = zw.Close()
		zw, _ = gzip.NewWriterLevel(&zeros, gzip.BestCompression)
		_, _ = zw.Write(make([]byte, 1<<20))
		_ = zw.Close()
		bomb := bytes.Clone(head.Bytes())
		for range 50 {
			bomb = append(bomb, zeros.Bytes()...)
		}
		if len(bomb) > 64<<10 {
			t.Fatalf("bomb is %d bytes compressed", len(bomb))
		}
		errorSays(t, f.post(t, "/v1/batch", f.key, bomb, "Content-Encoding", "gzip"), 400, "500 KB")
	})
	t.Run("partial batch", func(t *testing.T) {
		r := f.post(t, "/v1/batch", f.key, batchOf(track("p-0"), `{"type":"track","event":"x"}`, track("p-2"),
			fmt.Sprintf(`{"type":"track","event":"x","userId":"u","messageId":%q}`, strings.Repeat("m", 101)), `"not an object"`, track("p-5")))
		if r.status != 200 || r.body["success"] != true || r.body["accepted"] != 3.0 {
			t.Fatalf("partial batch: %d %s", r.status, r.raw)
		}
		rej := r.body["rejected"].([]any)
		want := map[float64]string{1: "userId: either userId or anonymousId is required", 3: "messageId: longer than 100 characters", 4: "event must be a JSON object"}
		if len(rej) != len(want) {
			t.Fatalf("rejected %v", rej)
		}
		for _, x := range rej {
			m := x.(map[string]any)
			if want[m["index"].(float64)] != m["error"] {
				t.Errorf("rejection %v, want %q", m, want[m["index"].(float64)])
			}
		}
		rows, err := f.db.Query(context.Background(), `SELECT position, origin, reason FROM rejected_events WHERE source_id = ? AND origin = 'api /v1/batch' AND position >= 0 AND position IN (1,3,4) ORDER BY position`, f.src.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var pos int
			var origin, reason string
			if err := rows.Scan(&pos, &origin, &reason); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %s", pos, reason))
		}
		all := strings.Join(got, "\n")
		for pos, reason := range want {
			if !strings.Contains(all, fmt.Sprintf("%v %s", pos, reason)) {
				t.Fatalf("rejection %v %q not recorded in %q", pos, reason, got)
			}
		}
		stored := map[string]bool{}
		for _, e := range f.events(t) {
			stored[e.MessageID] = true
		}
		if !stored["p-0"] || !stored["p-2"] || !stored["p-5"] {
			t.Fatalf("valid events of a partial batch lost: %v", stored)
		}
	})
	t.Run("retries deduplicated", func(t *testing.T) {
		n0 := len(f.events(t))
		for range 3 {
			if r := f.post(t, "/v1/batch", f.key, batchOf(track("dup-1"), track("dup-2"))); r.status != 200 {
				t.Fatalf("retry: %d %s", r.status, r.raw)
			}
		}
		if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"x","userId":"u","messageId":"dup-1"}`)); r.status != 200 {
			t.Fatalf("retry: %d %s", r.status, r.raw)
		}
		if n := len(f.events(t)) - n0; n != 2 {
			t.Fatalf("stored %d events for 2 messageIds sent 4 times", n)
		}
	})
	t.Run("analytics.js text/plain route", func(t *testing.T) {
		body := fmt.Sprintf(`{"type":"page","anonymousId":"ajs-1","name":"Home","writeKey":%q,"properties":{"path":"/"},"sentAt":"2026-01-01T00:00:00.000Z","timestamp":"2026-01-01T00:00:00.000Z"}`, f.key)
		r := f.post(t, "/v1/p", "", []byte(body), "Content-Type", "text/plain", "Origin", "https://shop.example")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Fatalf("/v1/p: %d %v %s", r.status, r.header, r.raw)
		}
		var found *event.Event
		for _, e := range f.events(t) {
			if e.AnonymousID == "ajs-1" {
				found = &e
			}
		}
		if found == nil || found.Type != "page" || strings.Contains(string(found.Body), "writeKey") {
			t.Fatalf("analytics.js page stored as %+v", found)
		}
		// A browser clock a year off (sentAt = timestamp) is corrected to our clock.
		if d := time.Since(found.Timestamp); d < 0 || d > time.Minute {
			t.Fatalf("skewed browser timestamp not corrected: %v", found.Timestamp)
		}
	})
	t.Run("CORS preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, f.srv.URL+"/v1/t", nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		h := res.Header
		if res.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("preflight: %d %v", res.StatusCode, h)
		}
	})
	t.Run("settings", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/projects/"+f.key+"/settings", nil)
		r := do(t, req)
		if r.status != 200 {
			t.Fatalf("settings: %d %s", r.status, r.raw)
		}
		seg := r.body["integrations"].(map[string]any)["Segment.io"].(map[string]any)
		host := strings.TrimPrefix(f.srv.URL, "http://")
		if seg["apiKey"] != f.key || seg["apiHost"] != host+"/v1" || seg["protocol"] != "http" {
			t.Fatalf("Segment.io settings %v", seg)
		}
		if _, ok := r.body["plan"].(map[string]any)["track"]; !ok {
			t.Fatalf("no plan: %s", r.raw)
		}
		req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/v1/projects/wk_nope/settings", nil)
		if r := do(t, req); r.status != 401 {
			t.Fatalf("settings for an unknown key: %d", r.status)
		}
	})
	t.Run("method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/track", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET /v1/track: %d", res.StatusCode)
		}
	})
}

// TestOverload holds the database's only write connection so the first request stays
// pending; with room for one pending event the next request must get 429.
func TestOverload(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, collect.Options{MaxPendingEvents: 1, RetryAfter: 2 * time.Second})
	if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"warm","userId":"u"}`)); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.raw)
	}
	hold, err := db.W.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan reply, 1)
	go func() { first <- f.post(t, "/v1/track", f.key, []byte(`{"event":"first","userId":"u"}`)) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.h.Stats().PendingRequests == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first request never became pending")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := f.post(t, "/v1/track", f.key, []byte(`{"event":"second","userId":"u"}`))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Fatalf("overloaded: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := <-first; r.status != 200 {
		t.Fatalf("pending request after the queue drained: %d %s", r.status, r.raw)
	}
	if s := f.h.Stats(); s.Overloaded != 1 || s.PendingEvents != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestConcurrencyBound: requests past MaxConcurrentRequests get 429 at once instead of
// holding a body each.
func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, collect.Options{MaxConcurrentRequests: 1})
	if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"warm","userId":"u"}`)); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.raw)
	}
	hold, err := db.W.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan reply, 1)
	go func() { first <- f.post(t, "/v1/track", f.key, []byte(`{"event":"first","userId":"u"}`)) }()
	for deadline := time.Now().Add(5 * time.Second); f.h.Stats().PendingRequests == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("first request never became pending")
		}
	}
	if r := f.post(t, "/v1/batch", f.key, batchOf(track("c-1"))); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("second concurrent request: %d %s", r.status, r.raw)
	}
	_ = hold.Rollback()
	if r := <-first; r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
}

// TestCloseFlushes: Close waits for pending events to be committed and answered, and
// turns later requests away with 503.
func TestCloseFlushes(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	src, key, err := db.CreateSource(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	h := collect.NewHandler(db, collect.Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	f := &fixture{db: db, h: h, srv: srv, key: key, src: src}
	if r := f.post(t, "/v1/track", key, []byte(`{"event":"warm","userId":"u"}`)); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.raw)
	}
	hold, err := db.W.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pending := make(chan reply, 1)
	go func() { pending <- f.post(t, "/v1/batch", key, batchOf(track("close-1"), track("close-2"))) }()
	for deadline := time.Now().Add(5 * time.Second); h.Stats().PendingRequests == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("request never became pending")
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- h.Close(context.Background()) }()
	for deadline := time.Now().Add(5 * time.Second); !h.Stats().Closing; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Close never began")
		}
	}
	if r := f.post(t, "/v1/track", key, []byte(`{"event":"late","userId":"u"}`)); r.status != http.StatusServiceUnavailable {
		t.Fatalf("request after Close: %d %s", r.status, r.raw)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with events pending", err)
	default:
	}
	_ = hold.Rollback()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Close returns after the pending events are committed, not merely after refusing
	// new ones: they are in the store the moment it returns.
	if n := len(f.events(t)); n != 3 {
		t.Fatalf("Close returned with %d events stored, want 3", n)
	}
	if r := <-pending; r.status != 200 || r.body["accepted"] != 2.0 {
		t.Fatalf("pending request: %d %s", r.status, r.raw)
	}
	if n := len(f.events(t)); n != 3 {
		t.Fatalf("stored %d events, want 3", n)
	}
}

// TestWALRestarts: under continuous writes the background checkpoints alone never let
// SQLite restart the WAL; the committer's tail checkpoints must, so the WAL stays far
// smaller than what was written. Without restarts the WAL holds everything written (it
// only grows); with them its size is what was appended between two restarts, which a
// busy machine makes longer (the checkpointer's ticks come late). So the test writes in
// rounds until the WAL is under half of what was written or a limit is reached: a WAL
// that never restarts fails at any volume, one that restarts passes on a slow machine
// too. Up to 16 rounds (about 180 MB): a WAL that never restarts holds all of it, and
// one busy run of this test saw the WAL at 70 MB after 8 rounds (90 MB), restarting late.
func TestWALRestarts(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, collect.Options{CheckpointInterval: 10 * time.Millisecond})
	const perRound = int64(4 * 40 * 100 * 700) // payload bytes per round; the WAL holds more (pages, indexes)
	var written, size int64
	for round := 0; round < 16; round++ {
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Go(func() {
				for i := range 40 {
					items := make([]string, 100)
					for j := range items {
						items[j] = fmt.Sprintf(`{"type":"track","event":"Viewed","userId":"u%d","messageId":"w-%d-%d-%d-%d","properties":{"pad":%q}}`, c, round, c, i, j, strings.Repeat("x", 600))
					}
					if r := f.post(t, "/v1/batch", f.key, batchOf(items...)); r.status != 200 {
						t.Errorf("batch: %d %s", r.status, r.raw)
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		written += perRound
		st, err := os.Stat(filepath.Join(db.DataDir, "omniroi.db-wal"))
		if err != nil {
			t.Fatal(err)
		}
		size = st.Size()
		t.Logf("round %d: WAL %d bytes after about %d written, %d tail checkpoints", round+1, size, written, f.h.Stats().TailCheckpoints)
		if f.h.Stats().TailCheckpoints > 0 && size <= written/2 {
			return
		}
	}
	t.Fatalf("WAL is %d bytes after writing about %d (tail checkpoints %d)", size, written, f.h.Stats().TailCheckpoints)
}

// TestStorageError: a failed commit is a 503 (SDKs retry 5xx), not a 400.
func TestStorageError(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, collect.Options{})
		if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"warm","userId":"u"}`)); r.status != 200 {
			t.Fatalf("warm-up: %d %s", r.status, r.raw)
		}
		if _, err := db.Exec(context.Background(), `ALTER TABLE events RENAME TO events_gone`); err != nil {
			t.Fatal(err)
		}
		r := f.post(t, "/v1/batch", f.key, batchOf(track("s-1")))
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("storage error: %d %s", r.status, r.raw)
		}
		if _, err := db.Exec(context.Background(), `ALTER TABLE events_gone RENAME TO events`); err != nil {
			t.Fatal(err)
		}
		if r := f.post(t, "/v1/batch", f.key, batchOf(track("s-1"))); r.status != 200 {
			t.Fatalf("after recovery: %d %s", r.status, r.raw)
		}
	})
}

// TestConcurrentGroupCommit: many concurrent requests, every acknowledged event stored,
// fewer transactions than requests, OnCommit called.
func TestConcurrentGroupCommit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	onCommit := 0
	f := newFixture(t, storetest.SQLite(t), collect.Options{OnCommit: func() { mu.Lock(); onCommit++; mu.Unlock() }})
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := range 10 {
				items := make([]string, 20)
				for j := range items {
					items[j] = track(fmt.Sprintf("c%d-%d-%d", c, i, j))
				}
				if r := f.post(t, "/v1/batch", f.key, batchOf(items...)); r.status != 200 {
					t.Errorf("batch: %d %s", r.status, r.raw)
				}
			}
		})
	}
	wg.Wait()
	if n := len(f.events(t)); n != 16*10*20 {
		t.Fatalf("stored %d events, want %d", n, 16*10*20)
	}
	s := f.h.Stats()
	mu.Lock()
	defer mu.Unlock()
	if s.Commits == 0 || s.Commits > 160 || int64(onCommit) != s.Commits {
		t.Fatalf("commits %d (for 160 requests), OnCommit called %d times", s.Commits, onCommit)
	}
	t.Logf("160 requests in %d commits", s.Commits)
}

func TestSettingsPublicHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), collect.Options{APIHost: "track.example.com/v1", APIProtocol: "https"})
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/projects/"+f.key+"/settings", nil)
	r := do(t, req)
	seg := r.body["integrations"].(map[string]any)["Segment.io"].(map[string]any)
	if r.status != 200 || seg["apiHost"] != "track.example.com/v1" || seg["protocol"] != "https" {
		t.Fatalf("settings %d %v", r.status, seg)
	}
}
