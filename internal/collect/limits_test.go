package collect_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestPerAddressCap: one client address cannot have more than MaxRequestsPerIP requests
// in progress; the next one is told to retry at once.
func TestPerAddressCap(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, collect.Options{MaxRequestsPerIP: 2})
	if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"warm","userId":"u"}`)); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.raw)
	}
	hold, err := db.W.BeginTx(context.Background(), nil) // commits wait: requests stay in progress
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan reply, 2)
	for range 2 {
		go func() { replies <- f.post(t, "/v1/track", f.key, []byte(`{"event":"held","userId":"u"}`)) }()
	}
	for deadline := time.Now().Add(5 * time.Second); f.h.Stats().InProgress < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("requests never became pending")
		}
	}
	r := f.post(t, "/v1/track", f.key, []byte(`{"event":"third","userId":"u"}`))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.raw, "your address") {
		t.Fatalf("third request from the same address: %d %s", r.status, r.raw)
	}
	_ = hold.Rollback()
	for range 2 {
		if r := <-replies; r.status != 200 {
			t.Fatalf("held request: %d %s", r.status, r.raw)
		}
	}
	if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"after","userId":"u"}`)); r.status != 200 {
		t.Fatalf("after the others finished: %d %s", r.status, r.raw)
	}
}

// TestBodyBudgetCountsWhatArrived: a declared Content-Length does not reserve memory;
// a body over the budget is refused with 429, and the budget is given back.
func TestBodyBudget(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, collect.Options{MaxReadingBytes: 256 << 10}) // 64 KB before the key is known
	items := make([]string, 150)
	for i := range items {
		items[i] = `{"type":"track","event":"Viewed","userId":"u","properties":{"pad":"` + strings.Repeat("x", 600) + `"}}`
	}
	big := batchOf(items...) // ~100 KB
	// With the key in the body (analytics.js) it is read before the key is known: the
	// unauthenticated quarter of the budget does not hold it.
	body := `{"writeKey":"` + f.key + `",` + strings.TrimPrefix(string(big), "{")
	if r := f.post(t, "/v1/batch", "", []byte(body)); r.status != http.StatusTooManyRequests {
		t.Fatalf("100 KB body, key in the body, 64 KB budget: %d %s", r.status, r.raw)
	}
	// With the key checked first it fits the whole budget, again and again.
	for range 3 {
		if r := f.post(t, "/v1/batch", f.key, big); r.status != 200 {
			t.Fatalf("100 KB body, key checked, 256 KB budget: %d %s", r.status, r.raw)
		}
	}
}
