package cli

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestBenchServerStopsTwice: a page's measurement stops its server and a deferred stop
// follows. The second stop used to wait for the ended server's answer again, so
// `omniroi bench dashboard` hung after its first page.
func TestBenchServerStopsTwice(t *testing.T) {
	t.Parallel()
	srv, err := startBenchServer(context.Background(), &StoreFlags{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(srv.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	done := make(chan error, 2)
	go func() {
		done <- srv.stop()
		done <- srv.stop()
	}()
	for i := range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("stop %d: %v", i+1, err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("stop %d did not return", i+1)
		}
	}
}
