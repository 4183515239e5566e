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
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// FCMSender sends push notifications through Firebase Cloud Messaging's HTTP v1 API with a
// service account: a signed JWT is exchanged for an access token (cached until shortly
// before it expires), then each message is one POST to messages:send. The push address
// is the customer's device registration token (trait push_token or device_token).
//
// FCM has no idempotency key: the outbox keeps a send from being repeated, except one
// whose POST went out just before a crash, which FCM may then deliver twice.
type FCMSender struct {
	ProjectID   string
	ClientEmail string
	Key         *rsa.PrivateKey
	TokenURL    string // the service account's token_uri; default https://oauth2.googleapis.com/token
	BaseURL     string // default https://fcm.googleapis.com; tests point it elsewhere
	Client      *http.Client
	Now         func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// ParseFCMURL reads fcm:///path/to/service-account.json (the JSON key file downloaded
// from the Firebase console), optionally with ?project=ID to override its project_id.
func ParseFCMURL(raw string) (*FCMSender, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "fcm" || u.Path == "" {
		return nil, errors.New("FCM URL: want fcm:///path/to/service-account.json")
	}
	b, err := os.ReadFile(u.Path)
	if err != nil {
		return nil, fmt.Errorf("FCM service account: %w", err)
	}
	s, err := ParseFCMServiceAccount(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.Path, err)
	}
	if p := u.Query().Get("project"); p != "" {
		s.ProjectID = p
	}
	return s, nil
}

// ParseFCMServiceAccount reads a Google service account JSON key.
func ParseFCMServiceAccount(b []byte) (*FCMSender, error) {
	var sa struct {
		Type        string `json:"type"`
		ProjectID   string `json:"project_id"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, fmt.Errorf("service account JSON: %w", err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" || sa.ProjectID == "" {
		return nil, errors.New(`service account JSON: want "type": "service_account" with project_id, client_email and private_key`)
	}
	blk, _ := pem.Decode([]byte(sa.PrivateKey))
	if blk == nil {
		return nil, errors.New("service account JSON: private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if k1, err1 := x509.ParsePKCS1PrivateKey(blk.Bytes); err1 == nil {
			k, err = k1, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("service account private_key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("service account private_key: not an RSA key")
	}
	return &FCMSender{ProjectID: sa.ProjectID, ClientEmail: sa.ClientEmail, Key: rk, TokenURL: sa.TokenURI}, nil
}

func (s *FCMSender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *FCMSender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// accessToken returns a cached OAuth2 token, fetching a new one with a JWT bearer grant
// (RFC 7523) when it is missing or expires within a minute.
func (s *FCMSender) accessToken(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Add(time.Minute).Before(s.expiry) {
		return s.token, nil
	}
	tokenURL := s.TokenURL
	if tokenURL == "" {
		tokenURL = "https://oauth2.googleapis.com/token"
	}
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"iss": s.ClientEmail, "scope": fcmScope, "aud": tokenURL,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	signing := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", Permanent(fmt.Errorf("FCM: sign token request: %w", err))
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signing + "." + enc.EncodeToString(sig)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("FCM token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(b, &t)
	if resp.StatusCode != http.StatusOK || t.AccessToken == "" {
		err := fmt.Errorf("FCM token: %s: %s %s", resp.Status, t.Error, t.Description)
		if resp.StatusCode == 400 || resp.StatusCode == 401 || resp.StatusCode == 403 {
			return "", Permanent(err) // a revoked or wrong key does not heal by retrying
		}
		return "", err
	}
	s.token, s.expiry = t.AccessToken, now.Add(time.Duration(t.ExpiresIn)*time.Second)
	return s.token, nil
}

func (s *FCMSender) Send(ctx context.Context, m *Message) error {
	if m.To == "" {
		return Permanent(errors.New("FCM: no device token"))
	}
	tok, err := s.accessToken(ctx)
	if err != nil {
		return err
	}
	data := map[string]string{"idempotency_key": m.IdemKey, "journey": m.Journey}
	if m.URL != "" {
		data["url"] = m.URL
	}
	msg := map[string]any{"token": m.To, "notification": map[string]string{"title": m.Title, "body": m.Text}, "data": data}
	if m.URL != "" {
		msg["webpush"] = map[string]any{"fcm_options": map[string]string{"link": m.URL}}
	}
	body, err := json.Marshal(map[string]any{"message": msg})
	if err != nil {
		return Permanent(err)
	}
	base := s.BaseURL
	if base == "" {
		base = "https://fcm.googleapis.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/projects/"+url.PathEscape(s.ProjectID)+"/messages:send", strings.NewReader(string(body)))
	if err != nil {
		return Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client().Do(req)
	if err != nil {
		return fmt.Errorf("FCM: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var e struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
			Details []struct {
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	code := e.Error.Status
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			code = d.ErrorCode
		}
	}
	err = fmt.Errorf("FCM: %s: %s %s", resp.Status, code, e.Error.Message)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		s.mu.Lock()
		s.token = "" // expired or revoked: fetch a new one on the retry
		s.mu.Unlock()
		return err
	case resp.StatusCode == 429 || resp.StatusCode >= 500:
		return err
	}
	return Permanent(err) // UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH: retrying will not help
}
