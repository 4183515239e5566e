package server_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func healthz(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitHealth polls /healthz until it answers want (results are reused for a second).
func waitHealth(t *testing.T, base string, want int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := healthz(t, base)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz: %d %s, want %d", code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newHealthServer(t *testing.T, db *store.DB) (*server.Server, string) {
	t.Helper()
	s, err := server.New(db, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Mux)
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s, ts.URL
}

// TestHealthzWriterStuck: while another transaction holds the write lock (a stuck writer,
// a long import) the store cannot write, so /healthz answers 503; it recovers after.
func TestHealthzWriterStuck(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		_, base := newHealthServer(t, db)
		waitHealth(t, base, http.StatusOK)
		var hold *sql.Tx
		var err error
		if db.Dialect == store.Postgres {
			hold, err = db.W.BeginTx(context.Background(), nil)
			if err == nil {
				_, err = hold.Exec(`LOCK TABLE health_probe IN ACCESS EXCLUSIVE MODE`)
			}
		} else {
			hold, err = db.W.BeginTx(context.Background(), nil) // the one write connection
		}
		if err != nil {
			t.Fatal(err)
		}
		released := false
		t.Cleanup(func() {
			if !released {
				_ = hold.Rollback()
			}
		})
		body := waitHealth(t, base, http.StatusServiceUnavailable)
		if !strings.Contains(body, `"ok":false`) {
			t.Fatalf("unhealthy body %s", body)
		}
		released = true
		if err := hold.Rollback(); err != nil {
			t.Fatal(err)
		}
		waitHealth(t, base, http.StatusOK)
	})
}

// TestHealthzWritePoolClosed: reads still work, writes cannot: 503.
func TestHealthzWritePoolClosed(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	_, base := newHealthServer(t, db)
	waitHealth(t, base, http.StatusOK)
	if err := db.W.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.R.Ping(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, base, http.StatusServiceUnavailable)
}

// TestHealthzDiskFull: SQLite's max_page_count makes the database "full": the probe's
// one-row update still fits, but the events the collector is sent do not, and /healthz
// must say so.
func TestHealthzDiskFull(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	_, key, err := db.CreateSource(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	_, base := newHealthServer(t, db)
	waitHealth(t, base, http.StatusOK)
	var pages int64
	if err := db.W.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`PRAGMA max_page_count = ` + itoa(pages)); err != nil {
		t.Fatal(err)
	}
	items := make([]string, 200)
	for i := range items {
		items[i] = `{"type":"track","event":"Viewed","userId":"u","properties":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(items, ",")+`]}`))
	req.SetBasicAuth(key, "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("batch into a full database: %d, want 503", res.StatusCode)
	}
	body := waitHealth(t, base, http.StatusServiceUnavailable)
	if !strings.Contains(body, "full") {
		t.Errorf("unhealthy body does not say why: %s", body)
	}
}

func itoa(n int64) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
