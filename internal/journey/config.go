package journey

import (
	"fmt"
	"os"
)

// SenderConfig says where each channel goes; Senders builds the adapters. Sends on
// an unset channel fail with "no sender configured".
type SenderConfig struct {
	SMTPURL       string // OMNIROI_SMTP_URL: smtp://user:pass@host:587?from=shop@example.com
	SMSWebhook    string // OMNIROI_SMS_WEBHOOK: signed webhook relaying to the SMS provider
	PushWebhook   string // OMNIROI_PUSH_WEBHOOK: signed webhook relaying to the push provider
	WebhookSecret string // OMNIROI_WEBHOOK_SECRET: HMAC key for outgoing webhooks (and inbound SMS)
}

// SenderConfigFromEnv reads the OMNIROI_* variables above.
func SenderConfigFromEnv() SenderConfig {
	return SenderConfig{
		SMTPURL:       os.Getenv("OMNIROI_SMTP_URL"),
		SMSWebhook:    os.Getenv("OMNIROI_SMS_WEBHOOK"),
		PushWebhook:   os.Getenv("OMNIROI_PUSH_WEBHOOK"),
		WebhookSecret: os.Getenv("OMNIROI_WEBHOOK_SECRET"),
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
	if c.SMSWebhook != "" {
		out["sms"] = &WebhookSender{URL: c.SMSWebhook, Secret: secret}
	}
	if c.PushWebhook != "" {
		out["push"] = &WebhookSender{URL: c.PushWebhook, Secret: secret}
	}
	out["webhook"] = &WebhookSender{Secret: secret} // URL from each webhook step
	return out, nil
}
