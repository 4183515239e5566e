package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TwilioSender sends SMS through Twilio's Messages API. Twilio honours
// I-Twilio-Idempotency-Token, so a retried send is not sent twice.
type TwilioSender struct {
	AccountSID string
	AuthToken  string
	From       string // sender number or messaging service SID (MG…)
	BaseURL    string // default https://api.twilio.com; tests point it elsewhere
	Client     *http.Client
}

// ParseTwilioURL reads twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15551234567.
func ParseTwilioURL(raw string) (*TwilioSender, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "twilio" || u.User == nil {
		return nil, fmt.Errorf("twilio URL: want twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=NUMBER")
	}
	s := &TwilioSender{AccountSID: u.User.Username(), From: u.Query().Get("from")}
	s.AuthToken, _ = u.User.Password()
	if s.AccountSID == "" || s.AuthToken == "" || s.From == "" {
		return nil, fmt.Errorf("twilio URL %q: account SID, auth token and ?from= are required", u.Redacted())
	}
	if u.Host != "" && u.Host != "api.twilio.com" {
		s.BaseURL = "https://" + u.Host
	}
	return s, nil
}

func (s *TwilioSender) Send(ctx context.Context, m *Message) error {
	base := s.BaseURL
	if base == "" {
		base = "https://api.twilio.com"
	}
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if strings.HasPrefix(s.From, "MG") {
		form.Set("MessagingServiceSid", s.From)
	} else {
		form.Set("From", s.From)
	}
	endpoint := base + "/2010-04-01/Accounts/" + url.PathEscape(s.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Permanent(err)
	}
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("I-Twilio-Idempotency-Token", m.IdemKey)
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("twilio: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &e)
	err = fmt.Errorf("twilio: %s: %d %s", resp.Status, e.Code, e.Message)
	if resp.StatusCode == 429 || resp.StatusCode >= 500 {
		return err
	}
	return Permanent(err)
}
