package workspace

import (
	"fmt"
	"net/netip"
	"strings"
)

// Where links in messages and outgoing webhooks may lead. Secrets (signing keys, auth
// tokens) are not settings: settings are listed to every dashboard user and copied into
// backups, so secrets stay in the environment (docs/journeys.md, Security).
var (
	LinkDomainsKey = Register(Key{Name: "links.allowed_domains", Group: "security", Default: "",
		Summary: "domains click-tracked links may redirect to (comma-separated; each covers its subdomains); other targets get a page that names them. Empty: shop_url's domain",
		Check:   checkDomains})
	WebhookHTTPHostsKey = Register(Key{Name: "webhooks.allowed_hosts", Group: "security", Default: "",
		Summary: "hosts webhooks may call over plain http:// (comma-separated); everything else must be https://",
		Check:   checkDomains})
	WebhookNetworksKey = Register(Key{Name: "webhooks.allowed_networks", Group: "security", Default: "",
		Summary: "non-public addresses webhooks may reach, e.g. loopback for a relay on this host (comma-separated: loopback, private, link-local, or CIDRs like 10.1.2.0/24); empty: public addresses only",
		Check:   checkNetworks})
)

// SplitList splits a comma-separated setting into its trimmed, lower-cased, non-empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func checkDomains(v string) (string, error) {
	items := SplitList(v)
	for i, d := range items {
		d = strings.TrimSuffix(strings.Trim(d, "[]"), ".")
		if _, err := netip.ParseAddr(d); err != nil && !isHostName(d) {
			return "", fmt.Errorf("%q is not a host name (like shop.example.com) or an address", items[i])
		}
		items[i] = d
	}
	return strings.Join(items, ","), nil
}

func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// Named address ranges for webhooks.allowed_networks.
var namedNetworks = map[string][]string{
	"loopback":   {"127.0.0.0/8", "::1/128"},
	"private":    {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"},
	"link-local": {"169.254.0.0/16", "fe80::/10"},
}

// ParseNetworks reads webhooks.allowed_networks: names (loopback, private, link-local),
// CIDR prefixes and single addresses.
func ParseNetworks(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range SplitList(v) {
		if names, ok := namedNetworks[item]; ok {
			for _, n := range names {
				out = append(out, netip.MustParsePrefix(n))
			}
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		return nil, fmt.Errorf("%q is not loopback, private, link-local, a CIDR prefix or an address", item)
	}
	return out, nil
}

func checkNetworks(v string) (string, error) {
	if _, err := ParseNetworks(v); err != nil {
		return "", err
	}
	return strings.Join(SplitList(v), ","), nil
}
