package journey

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// loopbackRelay allows webhooks to this host, as for a relay beside omniroi.
var loopbackRelay = StaticNetPolicy(&NetPolicy{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})

// A webhook step (written by anyone who may edit journeys) must not reach services on
// the server's own host or network.
func TestWebhookRefusesLoopback(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	_, port, _ := strings.Cut(u.Host, ":")
	for _, target := range []string{srv.URL + "/admin", "https://localhost:" + port + "/admin", "https://127.0.0.1:" + port + "/admin"} {
		s := &WebhookSender{}
		err := s.Send(context.Background(), &Message{IdemKey: "k", Channel: "webhook", To: target, Data: json.RawMessage(`{}`)})
		var perm *PermanentError
		if err == nil || !asPerm(err, &perm) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("webhook to %s: %v, want a permanent refusal naming the loopback address", target, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback server was reached %d times", hits.Load())
	}
}

func TestAddrKinds(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"8.8.8.8": "", "2001:4860:4860::8888": "", "93.184.215.14": "",
		"127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local",
		"0.0.0.0": "unspecified", "::": "unspecified", "0.1.2.3": "reserved", "100.64.0.1": "reserved", "255.255.255.255": "reserved",
		"239.1.1.1": "multicast", "224.0.0.1": "link-local", "ff02::1": "link-local",
		"64:ff9b::7f00:1": "loopback", "64:ff9b::a00:1": "private", "64:ff9b::808:808": "", "2002:7f00:1::": "loopback", "::7f00:1": "reserved",
	} {
		if got := addrKind(netip.MustParseAddr(addr).Unmap()); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

// A redirect from an allowed address to a refused one is not followed.
func TestWebhookRedirectToRefusedAddress(t *testing.T) {
	t.Parallel()
	var hitB atomic.Int64
	lnB, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	b := &httptest.Server{Listener: lnB, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hitB.Add(1) })}}
	b.Start()
	defer b.Close()
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b.URL+"/internal", http.StatusTemporaryRedirect)
	}))
	defer a.Close()
	s := &WebhookSender{URL: a.URL, Policy: StaticNetPolicy(&NetPolicy{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})}
	err = s.Send(context.Background(), &Message{IdemKey: "k", Channel: "sms", To: "+1", Text: "hi"})
	var perm *PermanentError
	if err == nil || !asPerm(err, &perm) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("redirect to 127.0.0.2: %v", err)
	}
	if hitB.Load() != 0 {
		t.Fatal("the redirect target was reached")
	}
	// Allowed, the same redirect is followed.
	s = &WebhookSender{URL: a.URL, Policy: loopbackRelay}
	if err := s.Send(context.Background(), &Message{IdemKey: "k", Channel: "sms", To: "+1", Text: "hi"}); err != nil || hitB.Load() != 1 {
		t.Fatalf("allowed redirect: %v, hits %d", err, hitB.Load())
	}
}

// Through the engine and the workspace settings: a webhook step to this host fails with a
// reason that says what to allow; once the operator allows it, it is delivered.
func TestWebhookStepFollowsSettings(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	db := storetest.SQLite(t)
	senders := func() map[string]Sender {
		s, err := SenderConfig{NetPolicy: SettingsNetPolicy(db)}.Senders()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f := newFixture(t, db, Options{Senders: senders()})
	f.apply(`name: relay
purpose: transactional
entry: {event: Signed Up}
holdout: 0
steps:
  - webhook: {url: "` + srv.URL + `/crm", body: '{"id": {{.Profile.ID}}}'}
`)
	f.track(f.customer(1, nil), "Signed Up", nil)
	var reason string
	if err := db.QueryRow(f.ctx, `SELECT status || ': ' || reason FROM journey_sends`).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 || !strings.HasPrefix(reason, "failed: ") || !strings.Contains(reason, "webhooks.allowed_networks") {
		t.Fatalf("webhook to this host: %q, %d hits", reason, hits.Load())
	}
	if _, err := workspace.Set(f.ctx, db, audit.ActorCLI, "webhooks.allowed_networks", "loopback"); err != nil {
		t.Fatal(err)
	}
	f.eng.opt.Senders = senders()
	f.track(f.customer(2, nil), "Signed Up", nil)
	if hits.Load() != 1 {
		t.Fatalf("allowed relay: %d hits, sends %v", hits.Load(), f.sends("1 = 1"))
	}
	if _, err := NewNetPolicy("", "10.0.0.0/33"); err == nil {
		t.Fatal("a bad prefix was accepted")
	}
	if _, err := workspace.Set(f.ctx, db, audit.ActorCLI, "webhooks.allowed_networks", "intranet"); err == nil {
		t.Fatal("settings accepted an unknown network name")
	}
	u, _ := url.Parse("http://crm.internal/hook")
	if (&NetPolicy{}).CheckURL(u) == nil || (&NetPolicy{HTTPHosts: []string{"crm.internal"}}).CheckURL(u) != nil {
		t.Fatal("plain http allowlist")
	}
}
