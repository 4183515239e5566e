package journey

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials of the routes providers call. Every inbound route needs one: a request
// without a valid signature is refused (401), and a route whose secret is not configured
// is off (503) and processes nothing.

// TwilioSignatureHeader is the header Twilio signs its webhooks with.
const TwilioSignatureHeader = "X-Twilio-Signature"

// DefaultMaxAge is how old a signed request (omniroi's HMAC, Mailgun) may be.
const DefaultMaxAge = 5 * time.Minute

// InboundRoute says whether one inbound route is on and which credentials it takes.
type InboundRoute struct {
	Path    string
	On      bool
	Accepts string // the schemes it verifies, when on
	Missing string // what to configure, when off
}

// InboundRoutes lists the provider routes and whether opt turns each on; serve logs it at start.
func InboundRoutes(opt HandlerOptions) []InboundRoute {
	var sms []string
	if opt.TwilioAuthToken != "" {
		sms = append(sms, "Twilio's X-Twilio-Signature")
	}
	if len(opt.InboundSecret) > 0 {
		sms = append(sms, "omniroi's HMAC (OMNIROI_WEBHOOK_SECRET)")
	}
	return []InboundRoute{
		{Path: "/j/status", On: len(opt.InboundSecret) > 0, Accepts: "omniroi's HMAC (OMNIROI_WEBHOOK_SECRET)",
			Missing: "set OMNIROI_WEBHOOK_SECRET to accept signed delivery reports"},
		{Path: "/j/status/mailgun", On: opt.MailgunSigningKey != "", Accepts: "Mailgun's webhook signature (OMNIROI_MAILGUN_SIGNING_KEY)",
			Missing: "set OMNIROI_MAILGUN_SIGNING_KEY (Mailgun's HTTP webhook signing key) to accept Mailgun's reports"},
		{Path: "/j/sms/inbound", On: len(sms) > 0, Accepts: strings.Join(sms, " or "),
			Missing: "send SMS through twilio:// in OMNIROI_SMS_URL (its auth token checks Twilio's signature) or set OMNIROI_WEBHOOK_SECRET for a signing relay"},
	}
}

// HandlerOptions are the inbound credentials c configures: omniroi's secret, the auth
// token of a twilio:// SMS URL, and Mailgun's signing key. publicURL is where providers
// reach this server.
func (c SenderConfig) HandlerOptions(publicURL string) HandlerOptions {
	o := HandlerOptions{InboundSecret: []byte(c.WebhookSecret), MailgunSigningKey: c.MailgunKey, PublicURL: publicURL}
	if strings.HasPrefix(c.SMSURL, "twilio://") {
		if s, err := ParseTwilioURL(c.SMSURL); err == nil {
			o.TwilioAuthToken = s.AuthToken
		}
	}
	return o
}

func (o HandlerOptions) route(path string) InboundRoute {
	for _, r := range InboundRoutes(o) {
		if r.Path == path {
			return r
		}
	}
	return InboundRoute{Path: path}
}

// TwilioSignature is the X-Twilio-Signature Twilio sends with a request to fullURL
// (scheme, host, path and query exactly as configured at Twilio) carrying form: the URL
// followed by each POST parameter's name and value, names sorted (repeated values of a
// name sorted too), HMAC-SHA1 keyed by the account's auth token, base64.
func TwilioSignature(authToken, fullURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vals := append([]string(nil), form[k]...)
		sort.Strings(vals)
		for i, v := range vals {
			if i > 0 && v == vals[i-1] {
				continue
			}
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyTwilio checks a Twilio signature on a request to fullURL. Form requests are signed
// over their parameters; requests with another body (JSON) carry bodySHA256 in the URL and
// are signed over the URL alone. Twilio's own libraries accept the URL with and without
// the port (its signer is not consistent about the default one), and so does this.
func VerifyTwilio(authToken, fullURL, sig string, form url.Values, body []byte) error {
	if sig == "" {
		return errors.New("missing " + TwilioSignatureHeader)
	}
	u, err := url.Parse(fullURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("public URL %q is not absolute: set serve --public-url", fullURL)
	}
	if want := u.Query().Get("bodySHA256"); want != "" {
		sum := sha256.Sum256(body)
		if !hmac.Equal([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(want))) {
			return errors.New("body does not match bodySHA256")
		}
		form = nil
	}
	withPort, withoutPort := *u, *u
	withoutPort.Host = u.Hostname()
	if strings.Contains(withoutPort.Host, ":") { // IPv6 literal
		withoutPort.Host = "[" + withoutPort.Host + "]"
	}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		withPort.Host = withoutPort.Host + ":" + port
	}
	for _, c := range []string{fullURL, withPort.String(), withoutPort.String()} {
		if hmac.Equal([]byte(TwilioSignature(authToken, c, form)), []byte(sig)) {
			return nil
		}
	}
	return errors.New("bad " + TwilioSignatureHeader + " (is serve's --public-url the URL Twilio calls?)")
}

// MailgunSignature is Mailgun's webhook signature: HMAC-SHA256 of timestamp followed by
// token, keyed by the HTTP webhook signing key, in hex.
func MailgunSignature(signingKey, timestamp, token string) string {
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write([]byte(timestamp))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// verifyMailgun checks a Mailgun signature block and its age.
func verifyMailgun(signingKey, timestamp, token, sig string, now time.Time, maxAge time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || token == "" || sig == "" {
		return errors.New(`missing or bad "signature": {"timestamp", "token", "signature"}`)
	}
	if now.Sub(time.Unix(ts, 0)).Abs() > maxAge {
		return errors.New("signature too old")
	}
	if !hmac.Equal([]byte(MailgunSignature(signingKey, timestamp, token)), []byte(strings.ToLower(sig))) {
		return errors.New("bad Mailgun signature")
	}
	return nil
}

// replays remembers signatures already accepted until they would be too old anyway, so
// a captured request cannot be sent again inside the age window. Only requests with a
// valid signature get here, so its size follows the providers' real traffic.
type replays struct {
	mu     sync.Mutex
	seen   map[string]time.Time // key → forget after
	pruned int
}

// first reports whether key is new, and remembers it until until.
func (c *replays) first(key string, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if t, ok := c.seen[key]; ok && now.Before(t) {
		return false
	}
	c.seen[key] = until
	if len(c.seen) > 2*c.pruned+1024 {
		for k, t := range c.seen {
			if !now.Before(t) {
				delete(c.seen, k)
			}
		}
		c.pruned = len(c.seen)
	}
	return true
}

// forget lets key through again: the request it named failed before it took effect.
func (c *replays) forget(key string) {
	c.mu.Lock()
	delete(c.seen, key)
	c.mu.Unlock()
}
