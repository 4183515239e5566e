package journey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Sender delivers one message. It must treat m.IdemKey as the message's identity: the
// outbox retries a send whose outcome it did not record (a crash between the provider
// accepting it and our commit), always with the same key.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, m *Message) error

func (f SenderFunc) Send(ctx context.Context, m *Message) error { return f(ctx, m) }

// PermanentError marks a failure retrying cannot fix (a rejected address, a 4xx).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the outbox fails the send instead of retrying it.
func Permanent(err error) error { return &PermanentError{Err: err} }

// SignatureHeader carries HMAC-SHA256 over "timestamp.body" in hex, as "sha256=HEX";
// TimestampHeader carries the unix seconds signed, so receivers can refuse replays.
const (
	SignatureHeader   = "X-Omniroi-Signature"
	TimestampHeader   = "X-Omniroi-Timestamp"
	IdempotencyHeader = "Idempotency-Key"
)

// Sign computes the SignatureHeader value for body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a SignatureHeader value; maxAge bounds replays (0: no bound).
func VerifySignature(secret []byte, tsHeader, sig string, body []byte, maxAge time.Duration) error {
	return verifySignatureAt(secret, tsHeader, sig, body, time.Now(), maxAge)
}

func verifySignatureAt(secret []byte, tsHeader, sig string, body []byte, now time.Time, maxAge time.Duration) error {
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return errors.New("missing or bad " + TimestampHeader)
	}
	if maxAge > 0 && now.Sub(time.Unix(ts, 0)).Abs() > maxAge {
		return errors.New("signature too old")
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig)) {
		return errors.New("bad signature")
	}
	return nil
}

// WebhookSender is the generic signed HTTP adapter: it POSTs the message as JSON with
// Idempotency-Key and an HMAC-SHA256 signature. SMS and push providers sit behind it
// (a small relay, or any provider accepting signed webhooks); the webhook action uses it
// with the step's URL. Where it may connect is Policy's to say (netguard.go).
type WebhookSender struct {
	URL    string // empty: the message's To (webhook steps)
	Secret []byte
	// Policy says where webhooks may connect (SettingsNetPolicy reads the workspace
	// settings). nil: https to public addresses only.
	Policy func(context.Context) (*NetPolicy, error)

	guard guardedClient
}

var publicHTTPSOnly = &NetPolicy{}

// webhookBody is the JSON a WebhookSender posts.
type webhookBody struct {
	IdempotencyKey string          `json:"idempotency_key"`
	Channel        string          `json:"channel"`
	Purpose        string          `json:"purpose"`
	Journey        string          `json:"journey"`
	CustomerID     int64           `json:"customer_id"`
	To             string          `json:"to,omitempty"`
	Subject        string          `json:"subject,omitempty"`
	Title          string          `json:"title,omitempty"`
	Text           string          `json:"text,omitempty"`
	HTML           string          `json:"html,omitempty"`
	URL            string          `json:"url,omitempty"`
	Data           json.RawMessage `json:"data,omitempty"`
}

func (s *WebhookSender) Send(ctx context.Context, m *Message) error {
	url := s.URL
	if url == "" {
		url = m.To
	}
	pol := publicHTTPSOnly
	if s.Policy != nil {
		p, err := s.Policy(ctx)
		if err != nil {
			return fmt.Errorf("webhook policy: %w", err)
		}
		pol = p
	}
	body, err := json.Marshal(webhookBody{IdempotencyKey: m.IdemKey, Channel: m.Channel, Purpose: m.Purpose, Journey: m.Journey, CustomerID: m.CustomerID,
		To: m.To, Subject: m.Subject, Title: m.Title, Text: m.Text, HTML: m.HTML, URL: m.URL, Data: m.Data})
	if err != nil {
		return Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("webhook request: %w", err))
	}
	if err := pol.CheckURL(req.URL); err != nil {
		return Permanent(err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, m.IdemKey)
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	if len(s.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(s.Secret, ts, body))
	}
	resp, err := s.guard.client(pol).Do(req)
	if err != nil {
		if isRefused(err) {
			return Permanent(fmt.Errorf("webhook %s: %w", url, err))
		}
		return fmt.Errorf("webhook %s: %w", url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s: %s: %s", url, resp.Status, msg)
	default:
		return Permanent(fmt.Errorf("webhook %s: %s: %s", url, resp.Status, msg))
	}
}
