package journey

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	mail "github.com/wneessen/go-mail"
)

// SMTPSender sends email with go-mail. Each Send dials; small businesses send few
// mails, and a dead pooled connection is a worse failure than a TCP handshake.
type SMTPSender struct {
	Host      string
	Port      int
	Username  string
	Password  string
	TLS       string // mandatory (STARTTLS), opportunistic, none, ssl (implicit TLS, smtps)
	From      string
	TLSConfig *tls.Config // tests trust their own CA through it
}

// ParseSMTPURL reads smtp://user:pass@host:587?from=shop@example.com[&tls=none|opportunistic]
// and smtps://user:pass@host:465.
func ParseSMTPURL(raw string) (*SMTPSender, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	s := &SMTPSender{Host: u.Hostname(), TLS: "mandatory", From: u.Query().Get("from")}
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.TLS = 465, "ssl"
	default:
		return nil, fmt.Errorf("SMTP URL %q: scheme must be smtp or smtps", u.Redacted())
	}
	if s.Host == "" {
		return nil, fmt.Errorf("SMTP URL %q: no host", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP URL %q: port: %w", u.Redacted(), err)
		}
	}
	if t := u.Query().Get("tls"); t != "" {
		if t != "none" && t != "opportunistic" && t != "mandatory" {
			return nil, fmt.Errorf("SMTP URL %q: tls=%s is not none, opportunistic or mandatory", u.Redacted(), t)
		}
		s.TLS = t
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if s.From == "" {
		s.From = s.Username
	}
	if !strings.Contains(s.From, "@") {
		return nil, fmt.Errorf("SMTP URL %q: add ?from=address (no sender address)", u.Redacted())
	}
	return s, nil
}

func (s *SMTPSender) client() (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(s.Port)}
	switch s.TLS {
	case "none":
		opts = append(opts, mail.WithTLSPortPolicy(mail.NoTLS), mail.WithPort(s.Port))
	case "opportunistic":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "ssl":
		opts = append(opts, mail.WithSSL())
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.TLSConfig))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	return mail.NewClient(s.Host, opts...)
}

// Send builds a multipart message (text and HTML) whose Message-ID derives from the
// idempotency key, so a retried send is recognisably the same message.
func (s *SMTPSender) Send(ctx context.Context, m *Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return Permanent(fmt.Errorf("from %q: %w", s.From, err))
	}
	if err := msg.To(m.To); err != nil {
		return Permanent(fmt.Errorf("to %q: %w", m.To, err))
	}
	msg.Subject(m.Subject)
	domain := "omniroi.local"
	if _, d, ok := strings.Cut(s.From, "@"); ok {
		domain = d
	}
	msg.SetMessageIDWithValue(m.IdemKey + "@" + domain)
	msg.SetDate()
	for k, v := range m.Headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(mail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(mail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(mail.TypeTextPlain, m.Text)
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp send to %s: %w", m.To, err)
	}
	return nil
}
