package privacy_test

import (
	"bytes"
	"context"
	"database/sql"
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

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/demo/demojourney"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

// The person of the fixture. Every value is distinctive, so finding it anywhere in the
// database files means it was not erased.
const (
	zEmailTyped = "Zelda.Quill@Example.org"
	zEmail      = "zelda.quill@example.org"
	zPhoneTyped = "+49 170 5550 1234"
	zPhone      = "+4917055501234"
	zUser       = "user-zelda-4471"
	zAnon1      = "anon-zq-7f3a9c1e"
	zAnon2      = "anon-zq-second-88b1"
	zName       = "Zelda Quillfeather"
	zLast       = "Quillfeather"
)

// needles are the spellings that must not survive an erasure.
var needles = []string{zEmailTyped, zEmail, "zelda.quill%40example.org", zPhoneTyped, zPhone, "170 5550 1234", zUser, zAnon1, zAnon2, zName, zLast}

// world is a store with one realistic person (anonymous history on two devices joined by
// an identify, two orders, a refund, an abandoned-cart run whose email went through SMTP
// into the outbox, a rejected event naming her) and a second person, Bob, whose own
// identify mentions her email.
type world struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	h      *collect.Handler
	srv    *httptest.Server
	key    string // the shop's back end: a server source
	public string // the shop's web pages: a client source, whose key anyone holds
	box    *demojourney.Outbox
	eng    *journey.Engine
	mu     sync.Mutex
	now    time.Time
	n      int
	zelda  int64
	bob    int64
	outbox string
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func newWorld(t *testing.T, db *store.DB) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, ctx: ctx, db: db, now: time.Now().UTC()}
	_, key, err := db.CreateSourceKind(ctx, "web shop", store.KindServer) // a back end: its contact points are verified, so the journey emails her
	if err != nil {
		t.Fatal(err)
	}
	w.key = key
	if _, w.public, err = db.CreateSourceKind(ctx, "web pages", store.KindClient); err != nil {
		t.Fatal(err)
	}
	w.h = collect.NewHandler(db, collect.Options{Now: w.clock})
	w.srv = httptest.NewServer(w.h)
	t.Cleanup(func() {
		w.srv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.h.Close(cctx); err != nil {
			t.Errorf("close collector: %v", err)
		}
	})
	w.outbox = filepath.Join(db.DataDir, demojourney.OutboxDir)
	w.box = &demojourney.Outbox{Dir: w.outbox}
	if err := w.box.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.box.Close() })
	smtp, err := journey.ParseSMTPURL("smtp://" + w.box.SMTPAddr + "?from=hello@shop.example&tls=none")
	if err != nil {
		t.Fatal(err)
	}
	src, err := journey.TemplateSource("abandoned-cart")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journey.Apply(ctx, db, bytes.Replace(src, []byte("holdout: 10%"), []byte("holdout: 0%"), 1)); err != nil {
		t.Fatal(err)
	}
	w.eng, err = journey.NewEngine(ctx, db, journey.Options{Senders: map[string]journey.Sender{"email": smtp}, BaseURL: "https://track.shop.example",
		Now: w.clock, Policy: &journey.WorkspacePolicy{}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// send posts Segment calls to the collection API as the shop's server library would.
func (w *world) send(calls ...map[string]any) map[string]any {
	w.t.Helper()
	return w.sendWith(w.key, calls...)
}

// sendWith posts Segment calls with the given write key.
func (w *world) sendWith(key string, calls ...map[string]any) map[string]any {
	w.t.Helper()
	for _, c := range calls {
		if _, ok := c["messageId"]; !ok {
			w.n++
			c["messageId"] = fmt.Sprintf("m-%d-%d", w.n, time.Now().UnixNano())
		}
	}
	body, _ := json.Marshal(map[string]any{"batch": calls})
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/v1/batch", bytes.NewReader(body))
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("batch: %s %s", res.Status, b)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func (w *world) process() {
	w.t.Helper()
	if err := identity.NewProcessor(w.db, identity.Options{}).CatchUp(w.ctx); err != nil {
		w.t.Fatalf("processor: %v", err)
	}
	if err := w.eng.Drain(w.ctx); err != nil {
		w.t.Fatalf("journeys: %v", err)
	}
}

// build sends the fixture's history and runs the processor, the journey engine (its
// email is delivered over SMTP into the outbox) and the segment feed.
func (w *world) build() {
	t := w.t
	page := func(anon, name, url string) map[string]any {
		return map[string]any{"type": "page", "anonymousId": anon, "name": name, "context": map[string]any{"page": map[string]any{"url": url}, "ip": "203.0.113.77"}}
	}
	// Anonymous history on two devices, then the identify that joins the first.
	w.send(
		page(zAnon1, "Home", "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring"),
		map[string]any{"type": "track", "anonymousId": zAnon1, "event": "Product Viewed", "properties": map[string]any{"product_id": "rye-1"}},
		map[string]any{"type": "identify", "userId": zUser, "anonymousId": zAnon1, "traits": map[string]any{
			"email": zEmailTyped, "phone": zPhoneTyped, "name": zName, "firstName": "Zelda",
			"consent": map[string]any{"email": map[string]any{"marketing": true}}}},
		page(zAnon2, "Bread", "https://shop.example/bread?ref=zelda.quill%40example.org"),
		map[string]any{"type": "identify", "anonymousId": zAnon2, "traits": map[string]any{"email": zEmailTyped}},
		map[string]any{"type": "track", "userId": zUser, "event": "Order Completed", "properties": map[string]any{
			"order_id": "ord-zq-1", "revenue": 42.5, "currency": "EUR", "cart_id": "cart-zq-0"}},
		map[string]any{"type": "track", "userId": zUser, "event": "Order Completed", "properties": map[string]any{
			"order_id": "ord-zq-2", "revenue": 19.9, "currency": "EUR", "email": zEmailTyped}},
		map[string]any{"type": "track", "userId": zUser, "event": "Order Refunded", "properties": map[string]any{"order_id": "ord-zq-2", "currency": "EUR"}},
		// A track call without an event name is rejected; its payload names her.
		map[string]any{"type": "track", "userId": zUser, "context": map[string]any{"traits": map[string]any{"email": zEmailTyped, "name": zName}}},
	)
	// Bob, whose identify mentions her as his referrer.
	w.send(
		map[string]any{"type": "identify", "userId": "user-bob-1", "anonymousId": "anon-bob-1", "traits": map[string]any{
			"email": "bob@example.net", "name": "Bob Baker", "referred_by": zEmailTyped}},
		map[string]any{"type": "track", "userId": "user-bob-1", "event": "Order Completed", "properties": map[string]any{
			"order_id": "ord-bob-1", "revenue": 10, "currency": "EUR"}},
	)
	w.process()
	// The cart she leaves: an hour later the journey emails her.
	w.send(map[string]any{"type": "track", "userId": zUser, "event": "Product Added", "properties": map[string]any{"cart_id": "cart-zq-1", "name": "Seeded rye", "price": 4.5}})
	w.process()
	w.advance(61 * time.Minute)
	w.process()
	feed := &value.SegmentFeed{DB: w.db, Now: w.clock}
	if _, _, err := feed.Tick(w.ctx); err != nil {
		t.Fatalf("segment feed: %v", err)
	}
	z, err := identity.FindCustomer(w.ctx, w.db, zEmail)
	if err != nil {
		t.Fatal(err)
	}
	b, err := identity.FindCustomer(w.ctx, w.db, "user-bob-1")
	if err != nil {
		t.Fatal(err)
	}
	w.zelda, w.bob = z.ID, b.ID
	// A lead-score crossing of hers (recommend.LeadFeed writes these for lead_score journeys).
	if _, err := w.db.Exec(w.ctx, `INSERT INTO lead_score_changes (customer_id, score, previous, changed_at) VALUES (?, 0.8, -1, ?)`, z.ID, w.clock().UnixMilli()); err != nil {
		t.Fatal(err)
	}

	// The fixture must hold what it claims, or the erasure test proves nothing.
	for q, want := range map[string]int64{
		`SELECT COUNT(*) FROM orders WHERE customer_id = ?`:                               2,
		`SELECT COUNT(*) FROM refunds WHERE customer_id = ?`:                              1,
		`SELECT COUNT(*) FROM journey_runs WHERE customer_id = ?`:                         1,
		`SELECT COUNT(*) FROM journey_sends WHERE customer_id = ? AND status = 'sent'`:    1,
		`SELECT COUNT(*) FROM segment_changes WHERE customer_id = ?`:                      1,
		`SELECT COUNT(*) FROM lead_score_changes WHERE customer_id = ?`:                   1,
		`SELECT COUNT(*) FROM identities WHERE customer_id = ? AND kind = 'anonymous_id'`: 2,
	} {
		if n := count(t, w.db, q, w.zelda); n != want {
			t.Fatalf("fixture: %s = %d, want %d", q, n, want)
		}
	}
	if n := count(t, w.db, `SELECT COUNT(*) FROM rejected_events WHERE body LIKE ?`, "%"+zUser+"%"); n != 1 {
		t.Fatalf("fixture: %d rejected payloads name her, want 1", n)
	}
	if files := outboxFiles(t, w.outbox); len(files) != 1 || !strings.Contains(files[0], zEmail) {
		t.Fatalf("fixture: outbox holds %d messages, want her one email", len(files))
	}
}

func count(t testing.TB, db *store.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// outboxFiles returns the contents of every message copy on disk.
func outboxFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		return nil
	})
	return out
}

// leftovers lists where each needle still appears: in the SQLite files' raw bytes, or in
// any column of any table on PostgreSQL, and in the outbox.
func leftovers(t testing.TB, db *store.DB, outbox string, needles []string) []string {
	t.Helper()
	var found []string
	if db.Dialect == store.SQLite {
		for _, f := range []string{"omniroi.db", "omniroi.db-wal", "omniroi.db-journal"} {
			b, err := os.ReadFile(filepath.Join(db.DataDir, f))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			lower := bytes.ToLower(b)
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) || bytes.Contains(lower, bytes.ToLower([]byte(n))) {
					found = append(found, fmt.Sprintf("%q in %s", n, f))
				}
			}
		}
	} else {
		ctx := context.Background()
		rows, err := db.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, column_name`)
		if err != nil {
			t.Fatal(err)
		}
		var cols [][2]string
		for rows.Next() {
			var tn, cn string
			if err := rows.Scan(&tn, &cn); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, [2]string{tn, cn})
		}
		rows.Close()
		if len(cols) < 50 {
			t.Fatalf("only %d columns found: the search would prove nothing", len(cols))
		}
		for _, c := range cols {
			for _, n := range needles {
				var k int
				q := fmt.Sprintf(`SELECT COUNT(*) FROM %q WHERE CAST(%q AS TEXT) ILIKE ?`, c[0], c[1])
				err := db.QueryRow(ctx, q, "%"+strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(n)+"%").Scan(&k)
				if err != nil && err != sql.ErrNoRows {
					t.Fatalf("%s: %v", q, err)
				}
				if k > 0 {
					found = append(found, fmt.Sprintf("%q in %s.%s", n, c[0], c[1]))
				}
			}
		}
	}
	for _, body := range outboxFiles(t, outbox) {
		for _, n := range needles {
			if strings.Contains(strings.ToLower(body), strings.ToLower(n)) {
				found = append(found, fmt.Sprintf("%q in an outbox file", n))
			}
		}
	}
	return found
}
