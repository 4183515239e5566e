package importer_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestCollectDuringBigImport: a large import (another process: another connection pool on
// the same database) must not hold the writer so long that the collection API cannot
// commit. The collector gets 10 s per commit here (a loaded CI machine has taken 4.7 s
// for one commit beside the import's chunks); the import itself takes a minute or more,
// and before imports committed in chunks the collector waited for all of it and answered 503.
func TestCollectDuringBigImport(t *testing.T) {
	testenv.Slow(t, "a large import beside live collection")
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			cfg := store.Config{DataDir: t.TempDir()}
			if dialect == "postgres" {
				cfg.DSN = storetest.PostgresDSN(t)
			}
			open := func() *store.DB {
				db, err := store.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			serveDB, importDB := open(), open()
			_, key, err := serveDB.CreateSource(ctx, "web")
			if err != nil {
				t.Fatal(err)
			}
			h := collect.NewHandler(serveDB, collect.Options{CommitTimeout: 10 * time.Second})
			srv := httptest.NewServer(h)
			defer srv.Close()
			defer h.Close(ctx)

			const rows = 150_000
			path := filepath.Join(t.TempDir(), "events.jsonl")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriter(f)
			for i := range rows {
				fmt.Fprintf(w, `{"type":"track","event":"Product Viewed","userId":"u%d","messageId":"imp-%d","timestamp":"2024-03-%02dT10:%02d:00Z","properties":{"product_id":"p%d","price":12.5}}`+"\n",
					i%5000, i, 1+i%28, i%60, i%300)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()

			done := make(chan error, 1)
			var rep importer.Report
			go func() {
				var err error
				rep, err = importer.ImportFile(ctx, importDB, path, importer.Options{Kind: importer.KindEvents})
				done <- err
			}()
			var mu sync.Mutex
			codes := map[int]int{}
			var slowest time.Duration
			sent := 0
		loop:
			for {
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("import: %v", err)
					}
					break loop
				default:
				}
				body := fmt.Sprintf(`{"batch":[{"type":"track","event":"Viewed","userId":"live","messageId":"live-%d"}]}`, sent)
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", strings.NewReader(body))
				req.SetBasicAuth(key, "")
				t0 := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				d := time.Since(t0)
				mu.Lock()
				codes[res.StatusCode]++
				slowest = max(slowest, d)
				mu.Unlock()
				sent++
				time.Sleep(20 * time.Millisecond) // a steady trickle of live traffic, not a flood
			}
			if rep.Imported != rows {
				t.Fatalf("imported %d of %d", rep.Imported, rows)
			}
			t.Logf("%d live batches during the import: %v, slowest %v", sent, codes, slowest)
			if sent < 5 || codes[http.StatusOK] != sent {
				t.Fatalf("live batches during the import: %v (of %d)", codes, sent)
			}
		})
	}
}
