package browsertest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestConsoleCollected: what a page writes to the console as an error or a warning, and
// an uncaught exception, reach Messages with their source; a log line does not.
func TestConsoleCollected(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>t</title><h1 id="h">Hello</h1><script>
console.log("just a log"); console.warn("a warning"); console.error("an error");
setTimeout(() => { throw new Error("uncaught") }, 0);</script>`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := browsertest.Start(t, ctx, t.TempDir(), 800, 600)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#h`))); err != nil {
		t.Fatal(err)
	}
	if got := b.Text(`#h`); got != "Hello" {
		t.Errorf("Text = %q", got)
	}
	want := []string{"warning: a warning", "error: an error", "uncaught"}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := strings.Join(b.Problems(), "\n")
		missing := ""
		for _, w := range want {
			if !strings.Contains(got, w) {
				missing = w
			}
		}
		if strings.Contains(got, "just a log") {
			t.Fatalf("a log line counted as a problem:\n%s", got)
		}
		if missing == "" {
			if !strings.Contains(got, "("+srv.URL+"/:") {
				t.Errorf("the source is not named:\n%s", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not collected; got:\n%s", missing, got)
		}
	}
}
