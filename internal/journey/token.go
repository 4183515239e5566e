package journey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// token is what tracking and unsubscribe links carry, signed so nobody can forge an
// unsubscribe for someone else or turn the click redirect into an open redirect.
type token struct {
	Kind     string `json:"k"`           // o open, c click, u unsubscribe
	SendID   int64  `json:"s,omitempty"` // journey_sends.id
	Customer int64  `json:"c,omitempty"`
	Channel  string `json:"ch,omitempty"`
	Purpose  string `json:"p,omitempty"`
	URL      string `json:"u,omitempty"`
	Fixed    bool   `json:"f,omitempty"` // click: URL is a literal the journey's author wrote, not a value from a trait or an event
}

var b64 = base64.RawURLEncoding

func signToken(secret []byte, t token) string {
	body, _ := json.Marshal(t)
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return b64.EncodeToString(body) + "." + b64.EncodeToString(m.Sum(nil)[:16])
}

var errBadToken = errors.New("invalid or tampered link")

func parseToken(secret []byte, s string) (token, error) {
	var t token
	body64, sig64, ok := strings.Cut(s, ".")
	if !ok {
		return t, errBadToken
	}
	body, err1 := b64.DecodeString(body64)
	sig, err2 := b64.DecodeString(sig64)
	if err1 != nil || err2 != nil {
		return t, errBadToken
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(sig, m.Sum(nil)[:16]) {
		return t, errBadToken
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return t, errBadToken
	}
	return t, nil
}
