package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestFedEventsEqualRebuild: a processor wired to the collector as serve wires it takes
// the events the collector committed from memory (on SQLite), while other writers add
// events to the log between them and clients send batches again; the derived tables are
// those a rebuild from the log gives.
func TestFedEventsEqualRebuild(t *testing.T) {
	t.Parallel()
	evs := genEvents(2400, 5)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, key, err := db.CreateSourceKind(ctx, "web", store.KindServer)
		if err != nil {
			t.Fatal(err)
		}
		p := identity.NewProcessor(db, identity.Options{BatchSize: 97, ReadChunk: 64, PollInterval: 20 * time.Millisecond})
		h := collect.NewHandler(db, collect.Options{})
		var fed atomic.Int64
		h.SetOnStored(func(evs []event.Event) { fed.Add(int64(len(evs))); p.Feed(evs) })
		h.SetOnCommit(p.Notify)
		srv := httptest.NewServer(h)
		defer srv.Close()
		defer h.Close(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		post := func(batch []M) {
			body, err := json.Marshal(M{"batch": batch})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(key, "")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("batch: status %d", res.StatusCode)
			}
		}
		for i, start := 0, 0; start < len(evs); i, start = i+1, start+60 {
			chunk := evs[start:min(start+60, len(evs))]
			switch i % 7 {
			case 3: // another writer: a gap in what the collector feeds
				insert(t, db, chunk...)
			case 5: // sent twice: the second commit holds duplicates and is not fed
				post(chunk)
				post(chunk)
			default:
				post(chunk)
			}
		}
		// Processed: the cursor at the log's end (a long deadline: under -race on a busy
		// machine, a few thousand events in batches of 97 take a while).
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			st, err := identity.Stats(ctx, db)
			maxSeq, merr := db.MaxEventSeq(ctx)
			if err == nil && merr == nil && st.ProcessedSeq == maxSeq {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("processed up to %d of %d after 3 minutes (%v, %v)", st.ProcessedSeq, maxSeq, err, merr)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if db.Dialect == store.SQLite && (fed.Load() == 0 || identity.FedTaken(p) == 0) {
			t.Fatalf("fed %d events, processed %d of them from memory: the feed is not used", fed.Load(), identity.FedTaken(p))
		}
		inc := dump(t, db)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		if full := dump(t, db); full != inc {
			t.Fatalf("fed processing and a rebuild differ:\n%s", firstDiff(inc, full))
		}
	})
}
