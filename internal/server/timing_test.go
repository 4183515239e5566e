package server_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// Every response carries the handler's time in Server-Timing, measured up to the status
// line, which ServerTiming reads back.
func TestServerTimingHeader(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	s, err := server.New(db, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const work = 30 * time.Millisecond
	s.Mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(work) // the handler's own work, which the header must include
		w.Write([]byte("done"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	for _, path := range []string{"/slow", "/healthz"} {
		t0 := time.Now()
		res, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		wall := time.Since(t0)
		d, ok := server.ServerTiming(res.Header)
		if !ok {
			t.Fatalf("%s: no app duration in Server-Timing %q", path, res.Header.Values("Server-Timing"))
		}
		if d > wall || (path == "/slow" && d < work) {
			t.Fatalf("%s: server time %v, wall %v (handler sleeps %v on /slow)", path, d, wall, work)
		}
	}
	for _, c := range []struct {
		h    string
		want time.Duration
		ok   bool
	}{
		{"app;dur=12.5", 12500 * time.Microsecond, true},
		{"db;dur=3, app;desc=\"x\";dur=7", 7 * time.Millisecond, true},
		{"db;dur=3", 0, false},
	} {
		h := http.Header{}
		h.Set("Server-Timing", c.h)
		if d, ok := server.ServerTiming(h); d != c.want || ok != c.ok {
			t.Errorf("ServerTiming(%q) = %v, %v; want %v, %v", c.h, d, ok, c.want, c.ok)
		}
	}
}
