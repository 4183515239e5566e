package journey

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

type captured struct {
	from, to, auth string
	data           string
}

type smtpBackend struct {
	mu   sync.Mutex
	msgs []captured
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{b: b}, nil }

type smtpSession struct {
	b   *smtpBackend
	cur captured
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "shop" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.cur.auth = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.cur.to = to; return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.cur = captured{auth: s.cur.auth} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs a go-smtp server with STARTTLS (httptest's certificate) and AUTH PLAIN.
func startSMTP(t *testing.T) (*smtpBackend, int, *tls.Config) {
	t.Helper()
	ts := httptest.NewTLSServer(nil)
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	be := &smtpBackend{}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.TLSConfig = &tls.Config{Certificates: ts.TLS.Certificates}
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return be, ln.Addr().(*net.TCPAddr).Port, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestSMTPJourney(t *testing.T) {
	t.Parallel()
	be, port, tlsc := startSMTP(t)
	s, err := ParseSMTPURL("smtp://shop:s3cret@127.0.0.1:" + strconv.Itoa(port) + "?from=hello@bakery.example")
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = tlsc
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{Senders: map[string]Sender{"email": s}, Business: "Crumb & Co"})
	f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
	u := f.customer(7, consented)
	f.track(u, "Product Added", map[string]any{"cart_id": "k", "name": "Rye loaf", "url": "https://bakery.example/cart"})
	f.advance(time.Hour + time.Minute)
	if got := f.sends("1=1"); got["sent"] != 1 {
		t.Fatalf("sends: %v", got)
	}
	if len(be.msgs) != 1 {
		t.Fatalf("server got %d messages", len(be.msgs))
	}
	m := be.msgs[0]
	if m.auth != "shop" || m.from != "hello@bakery.example" || m.to != "c7@example.com" {
		t.Errorf("envelope: %+v", m)
	}
	pm, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(k string) string { return strings.TrimSpace(pm.Header.Get(k)) }
	if !strings.HasPrefix(hdr("List-Unsubscribe"), "<https://shop.example/j/u/") || hdr("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("RFC 8058 headers: %q %q", hdr("List-Unsubscribe"), hdr("List-Unsubscribe-Post"))
	}
	var key string
	if err := db.QueryRow(f.ctx, `SELECT idem_key FROM journey_sends WHERE channel = 'email'`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if hdr("Message-ID") != "<"+key+"@bakery.example>" || hdr("Subject") != "Ada, you left something in your cart" {
		t.Errorf("headers: %v", pm.Header)
	}
	if !strings.HasPrefix(hdr("Content-Type"), "multipart/alternative") {
		t.Errorf("content type %q", hdr("Content-Type"))
	}
	for _, want := range []string{
		"text/html",
		"Rye loaf",
		"Crumb & Co",
	} {
		if !strings.Contains(m.data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.data)
		}
	}
	// The click link in the email redirects through /j/c/ to the cart.
	if !strings.Contains(m.data, "https://shop.example/j/c/") {
		t.Errorf("no tracked link:\n%s", m.data)
	}
}

func TestSMTPAuthFailureIsReported(t *testing.T) {
	t.Parallel()
	_, port, tlsc := startSMTP(t)
	s, err := ParseSMTPURL("smtp://shop:wrong@127.0.0.1:" + strconv.Itoa(port) + "?from=a@b.example")
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = tlsc
	if err := s.Send(t.Context(), &Message{To: "x@y.example", Subject: "s", Text: "t", IdemKey: "k"}); err == nil {
		t.Fatal("wrong password: no error")
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, err string
		port    int
		tls     string
	}{
		{in: "smtp://u%40x.com:p@mail.example:2525", port: 2525, tls: "mandatory"},
		{in: "smtps://u@x.com:p@mail.example", port: 465, tls: "ssl"},
		{in: "smtp://mail.example?from=a@b.c&tls=none", port: 587, tls: "none"},
		{in: "http://mail.example", err: "scheme"},
		{in: "smtp://mail.example", err: "from"},
		{in: "smtp://mail.example?from=a@b.c&tls=maybe", err: "tls=maybe"},
	} {
		s, err := ParseSMTPURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || s.Port != c.port || s.TLS != c.tls {
			t.Errorf("%s: %+v %v", c.in, s, err)
		}
	}
}
