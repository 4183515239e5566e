package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestServeAndShutdown(t *testing.T) {
	db := storetest.SQLite(t)
	_, key, err := db.CreateSource(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	var commits atomic.Int64
	s, err := server.New(db, server.Options{OnCommit: func() { commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "mounted") })
	shutdownRan := make(chan struct{})
	s.OnShutdown(func(context.Context) { close(shutdownRan) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := get("/hello"); code != 200 || body != "mounted" {
		t.Fatalf("mounted handler: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/identify", strings.NewReader(`{"userId":"u1","traits":{"plan":"pro"}}`))
	req.SetBasicAuth(key, "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || commits.Load() != 1 {
		t.Fatalf("identify: %d, OnCommit called %d times", res.StatusCode, commits.Load())
	}
	var late atomic.Int64
	s.Collect.SetOnCommit(func() { late.Add(1) })
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/t", strings.NewReader(`{"userId":"u1","event":"x","writeKey":"`+key+`"}`))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || late.Load() != 1 || commits.Load() != 1 {
		t.Fatalf("after SetOnCommit: %d, new hook %d, old hook %d", res.StatusCode, late.Load(), commits.Load())
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown hung")
	}
	select {
	case <-shutdownRan:
	default:
		t.Fatal("OnShutdown functions not run")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
	n, err := db.MaxEventSeq(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("events after shutdown: %d %v", n, err)
	}
}
