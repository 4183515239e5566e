package demojourney

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/omniroi/omniroi/internal/store"
)

// Delivery is one message the outbox received.
type Delivery struct {
	Channel string // email, sms, push
	Key     string // the send's idempotency key (email Message-ID, webhook idempotency_key)
	To      string
	Raw     []byte // the RFC 5322 message or the webhook JSON
}

// Outbox stands in for the business's mail server and SMS and push providers: a real SMTP
// server and an HTTP webhook receiver on loopback, writing every message it accepts into
// a directory (email as .eml files a mail client opens) and reporting it to OnDelivery.
type Outbox struct {
	Dir        string
	OnDelivery func(Delivery)

	SMTPAddr string // host:port, once started
	HTTPURL  string // http://host:port, once started

	smtpSrv  *smtp.Server
	httpSrv  *http.Server
	mu       sync.Mutex
	counts   map[string]int
	confirms map[string]int // confirmation messages (double opt-in), by channel
}

// Start listens on two loopback ports.
func (o *Outbox) Start() error {
	o.counts, o.confirms = map[string]int{}, map[string]int{}
	for _, d := range []string{"email", "sms", "push"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), store.DirMode); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	o.smtpSrv = smtp.NewServer(&smtpBackend{o: o})
	o.smtpSrv.Domain = "localhost"
	o.smtpSrv.ReadTimeout, o.smtpSrv.WriteTimeout = 30*time.Second, 30*time.Second
	o.smtpSrv.MaxMessageBytes = 10 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("outbox smtp: %w", err)
	}
	o.SMTPAddr = ln.Addr().String()
	go o.smtpSrv.Serve(ln)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /sms", func(w http.ResponseWriter, r *http.Request) { o.hook(w, r, "sms") })
	mux.HandleFunc("POST /push", func(w http.ResponseWriter, r *http.Request) { o.hook(w, r, "push") })
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		o.smtpSrv.Close()
		return fmt.Errorf("outbox http: %w", err)
	}
	o.HTTPURL = "http://" + hl.Addr().String()
	o.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go o.httpSrv.Serve(hl)
	return nil
}

// Close stops both servers.
func (o *Outbox) Close() error {
	var errs []error
	if o.smtpSrv != nil {
		errs = append(errs, o.smtpSrv.Close())
	}
	if o.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, o.httpSrv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Counts is how many messages arrived per channel.
func (o *Outbox) Counts() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.counts))
	for k, v := range o.counts {
		out[k] = v
	}
	return out
}

// Confirmations is how many confirmation messages (double opt-in) arrived per channel;
// Counts leaves them out.
func (o *Outbox) Confirmations() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.confirms))
	for k, v := range o.confirms {
		out[k] = v
	}
	return out
}

// safeName keeps a key usable as a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (o *Outbox) store(d Delivery, ext string) error {
	// One file per idempotency key: a retried send overwrites its own file, as a
	// provider that deduplicates on the key would.
	name := filepath.Join(o.Dir, d.Channel, safeName(d.Key)+ext)
	if err := os.WriteFile(name, d.Raw, store.FileMode); err != nil {
		return err
	}
	o.mu.Lock()
	if strings.HasPrefix(d.Key, "confirm-") {
		o.confirms[d.Channel]++
	} else {
		o.counts[d.Channel]++
	}
	o.mu.Unlock()
	if o.OnDelivery != nil {
		o.OnDelivery(d)
	}
	return nil
}

func (o *Outbox) hook(w http.ResponseWriter, r *http.Request, channel string) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var body struct {
		Key string `json:"idempotency_key"`
		To  string `json:"to"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Key == "" {
		http.Error(w, "want a JSON body with idempotency_key", http.StatusBadRequest)
		return
	}
	if err := o.store(Delivery{Channel: channel, Key: body.Key, To: body.To, Raw: b}, ".json"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type smtpBackend struct{ o *Outbox }

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{o: b.o}, nil }

type smtpSession struct {
	o  *Outbox
	to string
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *smtpSession) Reset()                                    { s.to = "" }
func (s *smtpSession) Logout() error                             { return nil }

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	key := messageKey(b)
	if key == "" {
		return &smtp.SMTPError{Code: 554, Message: "no Message-ID"}
	}
	return s.o.store(Delivery{Channel: "email", Key: key, To: s.to, Raw: b}, ".eml")
}

// messageKey is the local part of the Message-ID header: the engine writes the send's
// idempotency key there.
func messageKey(msg []byte) string {
	hdr, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	for _, line := range strings.Split(hdr, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Message-ID") {
			v = strings.Trim(strings.TrimSpace(v), "<>")
			local, _, _ := strings.Cut(v, "@")
			return local
		}
	}
	return ""
}
