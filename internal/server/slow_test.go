package server_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestSlowClientsDoNotStopOthers runs the real server on loopback and opens 300
// connections that send a batch's body one byte a second, from 30 loopback addresses (so
// that the per-address cap alone is not what saves the day). Half of them carry the
// public write key, half carry none (as analytics.js, which puts it in the body). While
// they trickle, another client must have every batch committed promptly, and the slow
// ones are cut off with 408 once the body deadline passes.
func TestSlowClientsDoNotStopOthers(t *testing.T) {
	db := storetest.SQLite(t)
	_, key, err := db.CreateSource(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	const bodyTimeout = 4 * time.Second
	s, err := server.New(db, server.Options{Collect: collect.Options{BodyTimeout: bodyTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-served
	}()
	addr := ln.Addr().(*net.TCPAddr)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"))

	const slow = 300
	stop := make(chan struct{})
	var wg sync.WaitGroup
	statuses := make(chan string, slow)
	var replied atomic.Int64
	for i := range slow {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i/10))}
		conn, err := (&net.Dialer{LocalAddr: local}).Dial("tcp", addr.String())
		if err != nil {
			t.Fatalf("slow connection %d from %s: %v", i, local, err)
		}
		hdr := "POST /v1/batch HTTP/1.1\r\nHost: shop.example\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n"
		if i%2 == 0 {
			hdr += "Authorization: " + auth + "\r\n"
		}
		if _, err := conn.Write([]byte(hdr + "\r\n")); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer conn.Close()
			go func() { // one byte a second until told to stop or cut off
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(bodyTimeout + 20*time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			replied.Add(1)
			if err != nil {
				statuses <- "no reply: " + err.Error()
				return
			}
			statuses <- strings.TrimSpace(line)
		})
	}
	// All 300 are inside the server, sending (or were turned away at once).
	deadline := time.Now().Add(10 * time.Second)
	for s.Collect.Stats().InProgress+replied.Load() < slow {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow requests in progress", s.Collect.Stats().InProgress, slow)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := replied.Load(); n > 0 {
		t.Errorf("%d slow requests were answered before sending their body", n)
	}

	// Meanwhile a normal client sends batches: each one committed, promptly.
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 20 {
		body := fmt.Sprintf(`{"batch":[{"type":"track","event":"Viewed","userId":"u-%d"}]}`, i)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr.String()+"/v1/batch", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("batch %d while 300 clients trickle: %v", i, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("batch %d while 300 clients trickle: %d", i, res.StatusCode)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("batch %d took %v", i, d)
		}
	}
	if n := s.Collect.Stats().InProgress; n < slow {
		t.Fatalf("the slow requests ended before the test was done (%d left): it proves nothing", n)
	}

	// The trickling bodies are cut off at the deadline.
	got := map[string]int{}
	for range slow {
		got[<-statuses]++
	}
	close(stop)
	wg.Wait()
	if got["HTTP/1.1 408 Request Timeout"] != slow {
		t.Fatalf("slow requests' replies: %v, want %d × 408", got, slow)
	}
	if n, err := db.MaxEventSeq(context.Background()); err != nil || n != 20 {
		t.Fatalf("stored %d events (%v), want the 20 of the normal client", n, err)
	}
}
