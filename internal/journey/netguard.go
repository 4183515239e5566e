package journey

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Outgoing webhooks (webhook steps, and SMS and push relays) go where a journey's author
// or the operator points them. So they must not become a way into the server's own host
// or network: a URL must be https (plain http only to hosts listed in
// webhooks.allowed_hosts), and a connection to a loopback, private, link-local or other
// non-public address is refused unless webhooks.allowed_networks lists it. The address
// is checked when the connection is made (a net.Dialer Control function), after DNS, so
// a name that resolves to an inside address, or that changes its answer between a check
// and the connection (DNS rebinding), gets nowhere; every redirect is checked the same
// way. No proxy is used, since the dialer would then only see the proxy's address.

// NetPolicy says where outgoing webhooks may connect. The zero value allows https to
// public addresses only.
type NetPolicy struct {
	HTTPHosts []string       // hosts that may be called over plain http
	Networks  []netip.Prefix // non-public addresses that may be reached
}

// NewNetPolicy reads the two settings' values (comma-separated lists).
func NewNetPolicy(httpHosts, networks string) (*NetPolicy, error) {
	nets, err := workspace.ParseNetworks(networks)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", workspace.WebhookNetworksKey.Name, err)
	}
	return &NetPolicy{HTTPHosts: workspace.SplitList(httpHosts), Networks: nets}, nil
}

// StaticNetPolicy is a policy source that always answers p.
func StaticNetPolicy(p *NetPolicy) func(context.Context) (*NetPolicy, error) {
	return func(context.Context) (*NetPolicy, error) { return p, nil }
}

// SettingsNetPolicy reads the policy from the workspace settings, again at most every
// 10 seconds, so `omniroi settings set` reaches a running server.
func SettingsNetPolicy(db *store.DB) func(context.Context) (*NetPolicy, error) {
	var mu sync.Mutex
	var cur *NetPolicy
	var raw [2]string
	var at time.Time
	return func(ctx context.Context) (*NetPolicy, error) {
		mu.Lock()
		defer mu.Unlock()
		if cur != nil && time.Since(at) < 10*time.Second {
			return cur, nil
		}
		hosts, err := workspace.Get(ctx, db, workspace.WebhookHTTPHostsKey.Name)
		if err != nil {
			return nil, err
		}
		nets, err := workspace.Get(ctx, db, workspace.WebhookNetworksKey.Name)
		if err != nil {
			return nil, err
		}
		at = time.Now()
		if cur != nil && raw == [2]string{hosts, nets} {
			return cur, nil
		}
		p, err := NewNetPolicy(hosts, nets)
		if err != nil {
			return nil, err
		}
		cur, raw = p, [2]string{hosts, nets}
		return cur, nil
	}
}

// RefusedError is a webhook target the policy does not allow; retrying cannot help.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "webhook refused: " + e.Reason }

// CheckURL checks a URL's scheme and host before any connection.
func (p *NetPolicy) CheckURL(u *url.URL) error {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return &RefusedError{fmt.Sprintf("%q has no host", u.Redacted())}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		for _, h := range p.HTTPHosts {
			if h == host {
				return nil
			}
		}
		if a, err := netip.ParseAddr(host); err == nil && addrKind(a.Unmap()) != "" {
			// An inside address: allowed in webhooks.allowed_networks, it may take plain
			// http (a relay on this host or network); refused, say how to allow it.
			return p.CheckAddr(a)
		}
		return &RefusedError{fmt.Sprintf("plain http to %s: webhooks must use https (or add %s to %s)", host, host, workspace.WebhookHTTPHostsKey.Name)}
	}
	return &RefusedError{fmt.Sprintf("%q is not an https URL", u.Redacted())}
}

func (p *NetPolicy) listed(a netip.Addr) bool {
	for _, n := range p.Networks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// CheckAddr checks the address a connection is about to be made to.
func (p *NetPolicy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	kind := addrKind(a)
	if kind == "" || p.listed(a) {
		return nil
	}
	return &RefusedError{fmt.Sprintf("%s is a %s address (allow it with: omniroi settings set %s %s)", a, kind, workspace.WebhookNetworksKey.Name, suggest(kind, a))}
}

func suggest(kind string, a netip.Addr) string {
	switch kind {
	case "loopback", "private", "link-local":
		return kind
	}
	return a.String()
}

var (
	reserved4 = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"; 0.0.0.0 reaches the host itself
		netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, shared address space
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	}
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4compat  = netip.MustParsePrefix("::/96")
	siteLocal = netip.MustParsePrefix("fec0::/10")
)

// addrKind names why a is not a public address, "" when it is one.
func addrKind(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if a.Is4() {
		for _, p := range reserved4 {
			if p.Contains(a) {
				return "reserved"
			}
		}
		return ""
	}
	b := a.As16()
	switch {
	case nat64.Contains(a): // NAT64 reaches the IPv4 address in the last 32 bits
		return addrKind(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(a): // 6to4 carries an IPv4 address in bits 16-47
		return addrKind(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case v4compat.Contains(a), siteLocal.Contains(a):
		return "reserved"
	}
	return ""
}

// guardedClient is an http.Client whose every connection and redirect the current policy
// allows. The policy is swapped before each send; a change closes pooled connections.
type guardedClient struct {
	once   sync.Once
	policy atomic.Pointer[NetPolicy]
	tr     *http.Transport
	c      *http.Client
}

func (g *guardedClient) client(p *NetPolicy) *http.Client {
	g.once.Do(func() {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
			Control: func(network, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return &RefusedError{fmt.Sprintf("cannot read the address %q", address)}
				}
				pol := g.policy.Load()
				if pol == nil {
					pol = &NetPolicy{}
				}
				return pol.CheckAddr(ap.Addr())
			}}
		g.tr = &http.Transport{Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 10 * time.Second, IdleConnTimeout: 90 * time.Second, MaxIdleConnsPerHost: 4}
		g.c = &http.Client{Transport: g.tr, Timeout: 15 * time.Second,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 3 {
					return &RefusedError{"more than 3 redirects"}
				}
				pol := g.policy.Load()
				if pol == nil {
					pol = &NetPolicy{}
				}
				return pol.CheckURL(req.URL)
			}}
	})
	if old := g.policy.Swap(p); old != nil && old != p {
		g.tr.CloseIdleConnections()
	}
	return g.c
}

// isRefused reports whether err is (or wraps) a policy refusal.
func isRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
