package workspace

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/omniroi/omniroi/internal/store"
)

// Limits on what a public (client) write key can make the shop do, and how the
// collection API tells a client's address behind a proxy.
var (
	NewRecipientsPerSourceKey = Register(Key{Name: "limits.new_recipients_per_source_hour", Group: "security", Default: "100",
		Summary: "confirmation messages per hour to new, unverified addresses brought by one client source; over it the events are kept and nothing is sent",
		Check:   CheckInt(0, 1_000_000)})
	NewRecipientsPerIPKey = Register(Key{Name: "limits.new_recipients_per_ip_hour", Group: "security", Default: "10",
		Summary: "confirmation messages per hour to new, unverified addresses brought from one client IP address; over it the events are kept and nothing is sent",
		Check:   CheckInt(0, 1_000_000)})
	TrustedProxiesKey = Register(Key{Name: "collect.trusted_proxies", Group: "security", Default: "",
		Summary: "proxies whose X-Forwarded-For the collection API believes (comma-separated IPs or CIDRs, e.g. 127.0.0.1,10.0.0.0/8); empty: the connection's address is the client's. Read when serve starts",
		Check: func(v string) (string, error) {
			ps, err := ParsePrefixes(v)
			if err != nil {
				return "", err
			}
			out := make([]string, len(ps))
			for i, p := range ps {
				out[i] = p.String()
			}
			return strings.Join(out, ","), nil
		}})
)

// ParsePrefixes reads a comma-separated list of IP addresses and CIDR prefixes.
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// TrustedProxies reads collect.trusted_proxies.
func TrustedProxies(ctx context.Context, db *store.DB) ([]netip.Prefix, error) {
	v, err := Get(ctx, db, TrustedProxiesKey.Name)
	if err != nil {
		return nil, err
	}
	return ParsePrefixes(v)
}
