package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve turns on only the provider routes whose credential is configured, says so at
// start and in --help, and a route that is off answers 503 without processing.
func TestServeProviderRoutesNeedCredentials(t *testing.T) {
	if code, out, _ := runCLI(t, "help", "serve"); code != 0 || !strings.Contains(out, "OMNIROI_MAILGUN_SIGNING_KEY") || !strings.Contains(out, "a route whose secret is\nunset is off") {
		t.Fatalf("serve --help: exit %d\n%s", code, out)
	}
	t.Setenv("OMNIROI_WEBHOOK_SECRET", "")
	t.Setenv("OMNIROI_MAILGUN_SIGNING_KEY", "")
	t.Setenv("OMNIROI_SMTP_URL", "")
	t.Setenv("OMNIROI_PUSH_URL", "")
	t.Setenv("OMNIROI_SMS_URL", "twilio://AC00000000000000000000000000000000:authtoken@api.twilio.com?from=%2B15550001111")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		env := &Env{Stdout: logs, Stderr: logs, Stdin: strings.NewReader(""), Log: slog.New(slog.NewTextHandler(logs, nil))}
		done <- Run(ctx, env, []string{"serve", "--addr", addr, "--data", data})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d\n%s", code, logs)
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := logs.String()
	for _, want := range []string{
		`provider route off (answers 503, processes nothing)" route="POST /j/status" to_enable="set OMNIROI_WEBHOOK_SECRET`,
		`route="POST /j/status/mailgun" to_enable="set OMNIROI_MAILGUN_SIGNING_KEY`,
		`provider route on" route="POST /j/sms/inbound" checks="Twilio's X-Twilio-Signature"`,
	} {
		if !strings.Contains(l, want) {
			t.Errorf("start log lacks %s\n%s", want, l)
		}
	}
	post := func(path, body string) (int, string) {
		resp, err := http.Post(base+path, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := post("/j/status", `{"idempotency_key":"x","status":"bounced"}`); code != http.StatusServiceUnavailable || !strings.Contains(body, "OMNIROI_WEBHOOK_SECRET") {
		t.Errorf("/j/status without a secret: %d %q", code, body)
	}
	if code, _ := post("/j/status/mailgun", `{}`); code != http.StatusServiceUnavailable {
		t.Errorf("/j/status/mailgun without a key: %d", code)
	}
	if code, _ := post("/j/sms/inbound", "From=%2B15550002222&Body=STOP"); code != http.StatusUnauthorized {
		t.Errorf("unsigned inbound SMS: %d, want 401", code)
	}
}
