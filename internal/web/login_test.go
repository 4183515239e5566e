package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store/storetest"
)

// rawLogin posts the login form with a double-submit token of its own (any value the
// cookie and the form agree on), without t.Fatal: it runs in goroutines.
func rawLogin(c *http.Client, base, email, password, next string, hdr map[string]string) (int, string, error) {
	form := url.Values{"csrf": {"tok"}, "email": {email}, "password": {password}, "next": {next}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCSRFCookie, Value: "tok"})
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// TestLoginParallelAttempts: attempts sent at once are counted before their passwords are
// checked, so a burst gets no more password checks than the limit allows one by one.
func TestLoginParallelAttempts(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{LoginLimit: 10, LoginWindow: time.Minute}) // 3 per email, 10 per IP
	count := func(n int, email func(i int) string) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				code, _, err := rawLogin(ts.client(t), ts.URL, email(i), "wrong password", "/", nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		return codes
	}
	// One account, 24 attempts at once: 3 password checks, the rest refused.
	codes := count(24, func(int) string { return testEmail })
	if codes[http.StatusUnauthorized] != 3 || codes[http.StatusTooManyRequests] != 21 {
		t.Errorf("24 parallel attempts on one account: %v, want 3 × 401 and 21 × 429", codes)
	}
	// Many accounts from one IP: the IP's 10 (3 used above), no more.
	codes = count(24, func(i int) string { return fmt.Sprintf("user%d@example.com", i) })
	if codes[http.StatusUnauthorized] != 7 || codes[http.StatusTooManyRequests] != 17 {
		t.Errorf("24 parallel attempts from one IP: %v, want 7 × 401 and 17 × 429", codes)
	}
}

// TestLoginNextLocalOnly: after login the browser goes only to a path on this site.
func TestLoginNextLocalOnly(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{LoginLimit: 1000})
	for _, next := range []string{
		"//evil.example",
		"///evil.example",
		"/\\evil.example",
		"\\\\evil.example",
		"/\t/evil.example",
		"/\n/evil.example",
		"/\r\n/evil.example",
		"/%09/evil.example",
		"/%2F/evil.example",
		"/%5Cevil.example",
		"/x\\..\\..\\",
		"https://evil.example/",
		"http:evil.example",
		"javascript:alert(1)",
		"evil.example",
		"/\x00",
		"/\x7f/evil.example",
		"/\u0085/evil.example",
		"%2F%2Fevil.example",
		" //evil.example",
		"",
	} {
		code, loc, err := rawLogin(ts.client(t), ts.URL, testEmail, testPassword, next, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusSeeOther || loc != "/" {
			t.Errorf("next=%q: %d to %q, want 303 to /", next, code, loc)
		}
	}
	for _, next := range []string{"/customers", "/customers/12?range=7d", "/paths?from=2026-01-01&to=2026-01-31"} {
		code, loc, err := rawLogin(ts.client(t), ts.URL, testEmail, testPassword, next, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusSeeOther || loc != next {
			t.Errorf("next=%q: %d to %q, want it kept", next, code, loc)
		}
	}
}

// TestFailedLoginLogsHash: the log of a failed login names a hash of what was typed as
// the name (often a password typed into the wrong field), never the text.
func TestFailedLoginLogsHash(t *testing.T) {
	db := storetest.SQLite(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	ts := newTestServer(t, db, Options{Logger: logger})
	const typed = "Tr0ub4dor&3-typed-as-name"
	code, _, err := rawLogin(ts.client(t), ts.URL, typed, "whatever", "/", nil)
	if err != nil || code != http.StatusUnauthorized {
		t.Fatalf("login: %d %v", code, err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if strings.Contains(strings.ToLower(out), strings.ToLower(typed)) {
		t.Fatalf("the typed name is in the log: %s", out)
	}
	if !strings.Contains(out, "login failed") || !strings.Contains(out, nameHash(typed)) {
		t.Fatalf("the log does not name the attempt's hash %s: %s", nameHash(typed), out)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
