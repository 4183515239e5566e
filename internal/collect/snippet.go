package collect

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// What a site pastes to send events here, for a client source's write key and the URL
// browsers reach omniroi at (base, e.g. https://track.example.com). The Sources page shows
// them; the browser tests run exactly these texts.

func jsString(s string) string {
	b, _ := json.Marshal(s)
	// inside a <script> element, "</" must not close it
	return strings.ReplaceAll(string(b), "</", `<\/`)
}

// Snippet is the standalone form: a <script> element for the page's <head>. It queues
// calls made before the bundle arrives, names the write key and where omniroi is
// (analytics._writeKey, analytics._cdn) and loads the bundle omniroi serves; the bundle
// reads its settings from omniroi, which tell it to send the events to omniroi too.
func Snippet(base, writeKey string) string {
	base = strings.TrimRight(base, "/")
	return `<script>
!function () {
  var a = window.analytics = window.analytics || [];
  if (a.initialize || a.invoked) return;
  a.invoked = true;
  // Calls made before analytics.js has loaded wait in this queue.
  var calls = ["track", "page", "identify", "group", "alias", "screen", "reset", "ready", "debug",
    "on", "once", "off", "trackLink", "trackForm", "trackClick", "trackSubmit", "pageview",
    "setAnonymousId", "addSourceMiddleware", "addIntegrationMiddleware", "addDestinationMiddleware", "register"];
  calls.forEach(function (name) {
    a[name] = function () {
      var args = Array.prototype.slice.call(arguments);
      args.unshift(name);
      a.push(args);
      return a;
    };
  });
  a._writeKey = ` + jsString(writeKey) + `;
  a._cdn = ` + jsString(base) + `; // omniroi serves analytics.js, its settings and the events API
  var s = document.createElement("script");
  s.async = true;
  s.src = a._cdn + "/analytics.js/v1/" + encodeURIComponent(a._writeKey) + "/analytics.min.js";
  var first = document.getElementsByTagName("script")[0];
  first.parentNode.insertBefore(s, first);
  a.page();
}();
</script>`
}

// LoadCall is the AnalyticsBrowser.load call of the npm form: settings from omniroi
// (cdnURL), events to omniroi (apiHost and protocol, also when the settings name another
// host, e.g. behind a proxy).
func LoadCall(base, writeKey string) string {
	base = strings.TrimRight(base, "/")
	host, proto := base, "https"
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		host, proto = u.Host+strings.TrimRight(u.Path, "/"), u.Scheme
	}
	return fmt.Sprintf(`AnalyticsBrowser.load(
  { writeKey: %s, cdnURL: %s },
  { integrations: { "Segment.io": { apiHost: %s, protocol: %s } } }
)`, jsString(writeKey), jsString(base), jsString(host+"/v1"), jsString(proto))
}

// NPMSnippet is the npm form, for sites built with a bundler: npm install @segment/analytics-next.
func NPMSnippet(base, writeKey string) string {
	return `import { AnalyticsBrowser } from "@segment/analytics-next";

export const analytics = ` + LoadCall(base, writeKey) + `;

analytics.page();`
}

// ShopifyPixel is code for a Shopify custom pixel (Settings → Customer events → Add custom
// pixel). The pixel runs in Shopify's sandbox, where analytics.js cannot: it sends page
// views and the checkout's start and completion to /v1 with a client source's write key
// (in the body, so the browser sends it without a preflight). The order itself comes
// from the shop's order webhook (a Shopify connector); the pixel joins the visitor's
// pages and campaign to the buyer, by Shopify's customer id and the checkout's email and
// phone (unverified, as anything a public key sends).
func ShopifyPixel(base, writeKey string) string {
	base = strings.TrimRight(base, "/")
	return `// omniroi: page views and checkouts, sent to ` + base + `
const OMNIROI = ` + jsString(base) + `;
const WRITE_KEY = ` + jsString(writeKey) + `;

function send(type, body) {
  body.writeKey = WRITE_KEY;
  body.context = Object.assign({ library: { name: "omniroi-shopify-pixel", version: "1" } }, body.context);
  return fetch(OMNIROI + "/v1/" + type, {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: JSON.stringify(body),
    keepalive: true,
  });
}

function page(event) {
  const doc = event.context && event.context.document;
  return doc ? { url: doc.location.href, referrer: doc.referrer, title: doc.title } : undefined;
}

function userId(checkout) {
  const c = checkout && checkout.order && checkout.order.customer;
  return c && c.id ? "shopify-" + String(c.id).replace(/^gid:\/\/shopify\/Customer\//, "") : undefined;
}

analytics.subscribe("page_viewed", (event) => {
  send("page", { anonymousId: event.clientId, messageId: "shopify-pixel-" + event.id,
    timestamp: event.timestamp, context: { page: page(event) } });
});

analytics.subscribe("checkout_started", (event) => {
  const c = event.data.checkout;
  send("track", { event: "Checkout Started", anonymousId: event.clientId, messageId: "shopify-pixel-" + event.id,
    timestamp: event.timestamp, context: { page: page(event) },
    properties: { checkout_token: c.token, value: c.totalPrice && c.totalPrice.amount, currency: c.currencyCode } });
});

analytics.subscribe("checkout_completed", (event) => {
  const c = event.data.checkout;
  const uid = userId(c);
  const traits = {};
  if (c.email) traits.email = c.email;
  if (c.phone) traits.phone = c.phone;
  send("identify", { userId: uid, anonymousId: event.clientId, messageId: "shopify-pixel-id-" + event.id,
    timestamp: event.timestamp, traits: traits });
  // Not "Order Completed": the order webhook counts the order; this is the visitor's step.
  send("track", { event: "Checkout Completed", userId: uid, anonymousId: event.clientId,
    messageId: "shopify-pixel-" + event.id, timestamp: event.timestamp, context: { page: page(event) },
    properties: { checkout_token: c.token, shopify_order_id: c.order && c.order.id,
      value: c.totalPrice && c.totalPrice.amount, currency: c.currencyCode } });
});`
}
