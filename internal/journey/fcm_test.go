package journey

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGoogle is Google's token endpoint and FCM's messages:send, checking what a real one
// checks: the JWT's RS256 signature against the service account's public key, its claims,
// and the bearer token on each send.
type fakeGoogle struct {
	t       *testing.T
	pub     *rsa.PublicKey
	mu      sync.Mutex
	tokens  int
	sends   []map[string]any
	reject  map[string]int    // device token → HTTP status to answer
	expired map[string]bool   // access tokens that now answer 401
	issued  map[string]string // access token → client email
}

func (g *fakeGoogle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case r.URL.Path == "/token":
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, 400)
			return
		}
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if len(parts) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(g.pub, crypto.SHA256, sum[:], sig) != nil {
			http.Error(w, `{"error":"invalid_grant","error_description":"bad signature"}`, 400)
			return
		}
		var c struct {
			Iss, Scope, Aud string
			Iat, Exp        int64
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(b, &c)
		if c.Scope != fcmScope || !strings.HasSuffix(c.Aud, "/token") || c.Exp-c.Iat != 3600 {
			http.Error(w, `{"error":"invalid_grant","error_description":"claims"}`, 400)
			return
		}
		g.tokens++
		tok := "at-" + string(rune('a'+g.tokens))
		g.issued[tok] = c.Iss
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
	case r.URL.Path == "/v1/projects/bakery-app/messages:send":
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if g.issued[tok] == "" || g.expired[tok] {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":{"status":"UNAUTHENTICATED","message":"token expired"}}`)
			return
		}
		var body struct {
			Message map[string]any `json:"message"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		dev, _ := body.Message["token"].(string)
		if st := g.reject[dev]; st != 0 {
			w.WriteHeader(st)
			_, _ = io.WriteString(w, `{"error":{"status":"NOT_FOUND","message":"Requested entity was not found.","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
			return
		}
		g.sends = append(g.sends, body.Message)
		_, _ = io.WriteString(w, `{"name":"projects/bakery-app/messages/1"}`)
	default:
		http.NotFound(w, r)
	}
}

func TestFCMSender(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGoogle{t: t, pub: &key.PublicKey, reject: map[string]int{"gone-device": 404}, expired: map[string]bool{}, issued: map[string]string{}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "bakery-app", "client_email": "push@bakery-app.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.URL + "/token"})
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	senders, err := SenderConfig{PushURL: "fcm://" + path}.Senders()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := senders["push"].(*FCMSender)
	if !ok {
		t.Fatalf("push sender is %T", senders["push"])
	}
	s.BaseURL = srv.URL
	ctx := context.Background()
	m := &Message{IdemKey: "jr1-s4-push", Channel: "push", Journey: "abandoned-cart", To: "device-1", Title: "Still thinking it over?", Text: "Your cart is waiting", URL: "https://shop.example/cart"}
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	m2 := *m
	m2.To, m2.IdemKey = "device-2", "jr2-s4-push"
	if err := s.Send(ctx, &m2); err != nil {
		t.Fatal(err)
	}
	if g.tokens != 1 {
		t.Errorf("%d token requests for two sends; the token should be cached", g.tokens)
	}
	if len(g.sends) != 2 {
		t.Fatalf("FCM got %d messages", len(g.sends))
	}
	got := g.sends[0]
	n, _ := got["notification"].(map[string]any)
	d, _ := got["data"].(map[string]any)
	if got["token"] != "device-1" || n["title"] != m.Title || n["body"] != m.Text || d["url"] != m.URL || d["idempotency_key"] != m.IdemKey {
		t.Errorf("message: %v", got)
	}
	// An expired token is refreshed on the retry, and the retry goes through.
	for tok := range g.issued {
		g.expired[tok] = true
	}
	err = s.Send(ctx, m)
	var perm *PermanentError
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("401: %v; want a retryable error", err)
	}
	if err := s.Send(ctx, m); err != nil || g.tokens != 2 {
		t.Fatalf("retry after 401: %v, %d token requests", err, g.tokens)
	}
	// An unregistered device is permanent, and says so.
	m3 := *m
	m3.To = "gone-device"
	err = s.Send(ctx, &m3)
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "UNREGISTERED") {
		t.Errorf("unregistered device: %v; want a permanent UNREGISTERED error", err)
	}
	// Token expiry is honoured: an hour later a new token is fetched before sending.
	s.Now = func() time.Time { return time.Now().Add(time.Hour) }
	if err := s.Send(ctx, m); err != nil || g.tokens != 3 {
		t.Errorf("after expiry: %v, %d token requests", err, g.tokens)
	}
	// A key the token endpoint rejects is a permanent failure.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := &FCMSender{ProjectID: "bakery-app", ClientEmail: "x@y", Key: other, TokenURL: srv.URL + "/token", BaseURL: srv.URL}
	if err := bad.Send(ctx, m); !errors.As(err, &perm) {
		t.Errorf("wrong key: %v; want permanent", err)
	}
	for _, bad := range []string{"fcm://", "fcm:///does/not/exist.json", "https://x"} {
		if _, err := ParseFCMURL(bad); err == nil {
			t.Errorf("ParseFCMURL(%q) accepted", bad)
		}
	}
	if _, err := ParseFCMServiceAccount([]byte(`{"type":"authorized_user"}`)); err == nil {
		t.Error("a non-service-account key was accepted")
	}
}
