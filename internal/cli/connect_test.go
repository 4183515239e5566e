package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/connect"
)

// A shop connector from the command line: `source add --kind shopify --json` prints the
// webhook URL and secret, `serve` receives a signed order there, refuses an unsigned one,
// and the event processor turns it into an order without a restart.
func TestConnectorServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	code, out, errs := runCLI(t, "source", "add", "crumb and crust", "--kind", "shopify", "--json", "--data", data, "--public-url", "http://"+addr)
	if code != 0 {
		t.Fatalf("source add: %d %s", code, errs)
	}
	var added struct {
		Kind          string `json:"kind"`
		WebhookURL    string `json:"webhook_url"`
		WebhookSecret string `json:"webhook_secret"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Kind != "shopify" || added.WebhookSecret == "" || !strings.HasPrefix(added.WebhookURL, "http://"+addr+"/hooks/shopify/") {
		t.Fatalf("source add --json: %v\n%s", err, out)
	}
	if code, out, _ := runCLI(t, "source", "webhook", "crumb and crust", "--json", "--data", data, "--public-url", "http://"+addr); code != 0 || !strings.Contains(out, added.WebhookSecret) {
		t.Fatalf("source webhook: %d %s", code, out)
	}

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
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	body, err := os.ReadFile("../connect/testdata/shopify/order-web-utm.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, added.WebhookURL, bytes.NewReader(body))
		req.Header.Set("X-Shopify-Topic", "orders/create")
		req.Header.Set("X-Shopify-Shop-Domain", "crumb-and-crust.myshopify.com")
		if sig != "" {
			req.Header.Set("X-Shopify-Hmac-Sha256", sig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := post(""); c != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d", c)
	}
	if c := post(connect.Sign(body, added.WebhookSecret)); c != http.StatusOK {
		t.Fatalf("signed: %d", c)
	}
	// The processor runs inside serve: poll the stats (as a user would) until the order is in.
	for {
		_, out, _ := runCLI(t, "stats", "--json", "--data", data)
		if strings.Contains(out, `"orders": 1`) {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("the order did not arrive:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
