package journey

import (
	"context"
	htmltemplate "html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Click tracking redirects only where the shop can vouch for: its own domains
// (links.allowed_domains, by default shop_url's domain) and URLs the journey's author
// wrote into the template, which the click token marks as fixed when the message is
// rendered. A URL that came from a trait or an event property (anyone with the public
// write key can set those) gets a page that names it instead of a redirect, so the
// shop's tracking domain is no open redirect.

// clickLinker makes click-tracked links for send id.
func (e *Engine) clickLinker(sendID int64) clickLinker {
	return func(u string, fixed bool) string {
		return e.opt.BaseURL + "/j/c/" + signToken(e.secret, token{Kind: "c", SendID: sendID, URL: u, Fixed: fixed})
	}
}

// LinkDomains are the domains click-tracked links may redirect to: links.allowed_domains,
// or when it is unset the domain of shop_url. Each covers its subdomains.
func LinkDomains(ctx context.Context, db *store.DB) ([]string, error) {
	v, err := workspace.Get(ctx, db, workspace.LinkDomainsKey.Name)
	if err != nil {
		return nil, err
	}
	if d := workspace.SplitList(v); len(d) > 0 {
		return d, nil
	}
	shop, err := workspace.ShopURL(ctx, db)
	if err != nil || shop == "" {
		return nil, err
	}
	if h := hostOf(shop); h != "" {
		return []string{h}, nil
	}
	return nil, nil
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// domainMatch reports whether host is one of domains or below one.
func domainMatch(host string, domains []string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range domains {
		if d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
			return true
		}
	}
	return false
}

// linkAllowed reports whether a click may redirect to host without asking.
func (h *handler) linkAllowed(ctx context.Context, host string) bool {
	domains, err := LinkDomains(ctx, h.e.db)
	if err != nil {
		h.e.opt.Logger.Error("journey click: allowed domains", "err", err)
	}
	if s := hostOf(h.e.opt.ShopURL); s != "" { // the shop URL the engine was started with
		domains = append(domains, s)
	}
	return domainMatch(host, domains)
}

var leavingPage = htmltemplate.Must(htmltemplate.New("leaving").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<title>This link leads to another website</title>
<h1>This link leads to another website</h1>
<p>The link you followed in a message from {{.Business}} points to an address {{.Business}} did not write into the message itself:</p>
<p><code>{{.Target}}</code></p>
<p>Go on only if you expected a link to <b>{{.Host}}</b>.</p>
<p><a href="{{.Target}}" rel="noopener noreferrer">Continue to {{.Host}}</a></p>
`))

// leaving answers a click on a link to a domain the shop cannot vouch for: a page that
// names the target and asks the reader to click on. No automatic redirect.
func (h *handler) leaving(w http.ResponseWriter, u *url.URL) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store, private")
	leavingPage.Execute(w, map[string]string{"Business": h.e.opt.Business, "Target": u.String(), "Host": u.Hostname()})
}
