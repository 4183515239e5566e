package collect_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestClientIPRecorded: each event keeps the address its request came from; a proxy's
// X-Forwarded-For is believed only when the proxy is configured as trusted.
func TestClientIPRecorded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		lastIP := func() string {
			t.Helper()
			var ip string
			if err := db.QueryRow(ctx, `SELECT client_ip FROM events ORDER BY seq DESC LIMIT 1`).Scan(&ip); err != nil {
				t.Fatal(err)
			}
			return ip
		}
		f := newFixture(t, db, collect.Options{})
		if r := f.post(t, "/v1/track", f.key, []byte(`{"event":"a","userId":"u"}`), "X-Forwarded-For", "203.0.113.9"); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if ip := lastIP(); ip != "127.0.0.1" {
			t.Fatalf("untrusted X-Forwarded-For: recorded %q, want the connection's 127.0.0.1", ip)
		}

		trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
		h := collect.NewHandler(db, collect.Options{TrustedProxies: trusted})
		t.Cleanup(func() { _ = h.Close(context.Background()) })
		g := &fixture{db: db, h: h, srv: serve(t, h), key: f.key, src: f.src}
		for _, c := range []struct{ xff, want string }{
			{"203.0.113.9, 10.0.0.2", "203.0.113.9"},     // client, then an inner trusted proxy
			{"198.51.100.1, 203.0.113.9", "203.0.113.9"}, // a spoofed first hop is not believed
			{"", "127.0.0.1"},                            // no header: the proxy itself
			{"not-an-ip", "127.0.0.1"},                   // a garbled header is ignored
			{"::ffff:203.0.113.7", "203.0.113.7"},        // IPv4-mapped IPv6 is unmapped
		} {
			hdr := []string{}
			if c.xff != "" {
				hdr = []string{"X-Forwarded-For", c.xff}
			}
			if r := g.post(t, "/v1/batch", g.key, []byte(`{"batch":[{"type":"track","event":"a","userId":"u"}]}`), hdr...); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if ip := lastIP(); ip != c.want {
				t.Errorf("X-Forwarded-For %q: recorded %q, want %q", c.xff, ip, c.want)
			}
		}
	})
}

func serve(t *testing.T, h *collect.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
