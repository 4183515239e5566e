package journey

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// SenderConfig says where each channel goes; Senders builds the adapters. Sends on
// an unset channel fail with "no sender configured".
type SenderConfig struct {
	SMTPURL       string // OMNIROI_SMTP_URL: smtp://user:pass@host:587?from=shop@example.com
	SMSURL        string // OMNIROI_SMS_URL: twilio://SID:TOKEN@api.twilio.com?from=NUMBER, or an https:// signed webhook
	PushURL       string // OMNIROI_PUSH_URL: fcm:///path/service-account.json (Firebase Cloud Messaging), or an https:// signed webhook relaying to the push provider
	WebhookSecret string // OMNIROI_WEBHOOK_SECRET: HMAC key for outgoing webhooks, and for inbound SMS and delivery reports from relays
	MailgunKey    string // OMNIROI_MAILGUN_SIGNING_KEY: Mailgun's HTTP webhook signing key, for /j/status/mailgun

	// NetPolicy says where webhook senders may connect (SettingsNetPolicy); nil: https
	// to public addresses only.
	NetPolicy func(context.Context) (*NetPolicy, error)
}

// SenderConfigFromEnv reads the OMNIROI_* variables above.
func SenderConfigFromEnv() SenderConfig {
	return SenderConfig{
		SMTPURL:       os.Getenv("OMNIROI_SMTP_URL"),
		SMSURL:        os.Getenv("OMNIROI_SMS_URL"),
		PushURL:       os.Getenv("OMNIROI_PUSH_URL"),
		WebhookSecret: os.Getenv("OMNIROI_WEBHOOK_SECRET"),
		MailgunKey:    os.Getenv("OMNIROI_MAILGUN_SIGNING_KEY"),
	}
}

// Senders builds the channel adapters.
func (c SenderConfig) Senders() (map[string]Sender, error) {
	out := map[string]Sender{}
	secret := []byte(c.WebhookSecret)
	if c.SMTPURL != "" {
		s, err := ParseSMTPURL(c.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("OMNIROI_SMTP_URL: %w", err)
		}
		out["email"] = s
	}
	switch {
	case strings.HasPrefix(c.SMSURL, "twilio://"):
		s, err := ParseTwilioURL(c.SMSURL)
		if err != nil {
			return nil, fmt.Errorf("OMNIROI_SMS_URL: %w", err)
		}
		out["sms"] = s
	case c.SMSURL != "":
		if !strings.HasPrefix(c.SMSURL, "https://") && !strings.HasPrefix(c.SMSURL, "http://") {
			return nil, fmt.Errorf("OMNIROI_SMS_URL: want twilio://… or an http(s) webhook URL")
		}
		out["sms"] = &WebhookSender{URL: c.SMSURL, Secret: secret, Policy: c.NetPolicy}
	}
	switch {
	case strings.HasPrefix(c.PushURL, "fcm://"):
		s, err := ParseFCMURL(c.PushURL)
		if err != nil {
			return nil, fmt.Errorf("OMNIROI_PUSH_URL: %w", err)
		}
		out["push"] = s
	case c.PushURL != "":
		if !strings.HasPrefix(c.PushURL, "https://") && !strings.HasPrefix(c.PushURL, "http://") {
			return nil, fmt.Errorf("OMNIROI_PUSH_URL: want fcm:///path/to/service-account.json or an http(s) webhook URL")
		}
		out["push"] = &WebhookSender{URL: c.PushURL, Secret: secret, Policy: c.NetPolicy}
	}
	out["webhook"] = &WebhookSender{Secret: secret, Policy: c.NetPolicy} // URL from each webhook step
	return out, nil
}
