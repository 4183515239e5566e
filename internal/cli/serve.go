package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/server"
)

func init() {
	c := &Command{
		Name:    "serve",
		Summary: "run the server: the Segment-compatible collection API, the dashboard, the JSON API and the journey engine",
		Usage: `omniroi serve [--addr 127.0.0.1:8080] [--public-url URL] [--data DIR | --db DSN] [--cpuprofile FILE]

Journeys send through what the environment configures (docs/journeys.md, "Channels"):
  OMNIROI_SMTP_URL        smtp://user:pass@host:587?from=shop@example.com
  OMNIROI_SMS_URL         twilio://SID:TOKEN@api.twilio.com?from=NUMBER, or an https:// webhook
  OMNIROI_PUSH_URL        fcm:///path/to/service-account.json, or an https:// webhook
  OMNIROI_WEBHOOK_SECRET  HMAC key for outgoing webhooks and inbound SMS and delivery reports
  OMNIROI_MAILGUN_SIGNING_KEY  Mailgun's HTTP webhook signing key, for its delivery reports
  OMNIROI_SHOP_URL        the shop's website, for links in the built-in templates
Provider routes need a credential (docs/journeys.md, "Security"); a route whose secret is
unset is off: it answers 503, processes nothing, and serve logs so at start.
  POST /j/status          omniroi's HMAC: needs OMNIROI_WEBHOOK_SECRET
  POST /j/status/mailgun  Mailgun's signature: needs OMNIROI_MAILGUN_SIGNING_KEY
  POST /j/sms/inbound     Twilio's X-Twilio-Signature (the auth token in a twilio:// OMNIROI_SMS_URL)
                          or omniroi's HMAC (OMNIROI_WEBHOOK_SECRET); Twilio signs the URL it
                          calls, so behind a proxy set --public-url to that URL's base.
Webhooks go to https:// and public addresses only, unless the settings webhooks.allowed_hosts
(plain http) and webhooks.allowed_networks (e.g. loopback, for a relay on this host) allow more.
The segment feed (RFM segment and P(alive) per customer, for win-back) refreshes hourly.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		addr := StringFlag(fs, "addr", "127.0.0.1:8080", "address to listen on")
		cpuProfile := StringFlag(fs, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it)")
		public := StringFlag(fs, "public-url", "", "URL browsers reach this server at, e.g. https://track.example.com (default: the Host each request names)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return ErrUsage
		}
		if *cpuProfile != "" {
			stop, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
		}
		if _, err := publicURLOptions(*public); err != nil {
			return err
		}
		pub := *public
		if pub == "" {
			pub = "http://" + *addr
		}
		return serveStore(ctx, env, sf, *addr, *public, serveConfigFromEnv(pub, env.Log))
	}
	Register(c)
}

// serveStore opens the store, builds the server, wires it (wireServe) and serves on addr
// until ctx ends. public is --public-url as given (empty: the Host each request names).
func serveStore(ctx context.Context, env *Env, sf *StoreFlags, addr, public string, cfg serveConfig) error {
	db, err := sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	copt, err := publicURLOptions(public)
	if err != nil {
		return err
	}
	s, err := server.New(db, server.Options{Logger: env.Log, Collect: copt})
	if err != nil {
		return err
	}
	wireServe(s, cfg)
	where := sf.Data
	if sf.DB != "" {
		where = "postgres"
	}
	env.Log.Info("omniroi serve", "version", Version, "store", where)
	if srcs, err := db.Sources(ctx); err == nil && len(srcs) == 0 {
		env.Log.Info("no event sources yet: create one (and its write key) with omniroi source add NAME")
	}
	if err := s.ListenAndServe(ctx, addr); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// publicURLOptions turns --public-url into where analytics.js is told to send events.
func publicURLOptions(public string) (collect.Options, error) {
	if public == "" {
		return collect.Options{}, nil
	}
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return collect.Options{}, fmt.Errorf("--public-url %q: want http(s)://host[:port][/path]", public)
	}
	return collect.Options{APIHost: u.Host + strings.TrimSuffix(u.Path, "/") + "/v1", APIProtocol: u.Scheme}, nil
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
