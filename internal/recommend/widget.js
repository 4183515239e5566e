/* omniroi recommendations widget: renders a product strip into every element with
   data-omniroi-recommendations and sends "Product Clicked" (with the recommendation id)
   when a product is clicked. No dependencies, no build step.

   <div data-omniroi-recommendations data-placement="product" data-product-id="p-1" data-limit="4"></div>
   <script src="https://YOUR-OMNIROI/v1/recommendations/widget.js" data-write-key="wk_..." async></script>

   Optional on the element: data-location (web, store...), data-title (heading text),
   data-user-id with data-user-hash (signed by your back end) for a signed-in customer. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll("script[data-write-key]");
    script = all[all.length - 1];
  }
  if (!script) return;
  var base = new URL(script.src, location.href).origin;
  var writeKey = script.getAttribute("data-write-key") || "";

  function readStored(name) {
    try {
      var v = localStorage.getItem(name);
      if (v) {
        try { var p = JSON.parse(v); if (typeof p === "string") return p; } catch (e) { return v; }
      }
    } catch (e) {}
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    if (m) {
      var c = decodeURIComponent(m[1]);
      try { var q = JSON.parse(c); if (typeof q === "string") return q; } catch (e) {}
      return c;
    }
    return "";
  }

  // The same anonymous id analytics.js uses, so views, clicks and orders join up.
  function anonymousId() {
    var id = readStored("ajs_anonymous_id");
    if (id) return id;
    id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() :
      "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
        var r = Math.random() * 16 | 0;
        return (c === "x" ? r : (r & 3 | 8)).toString(16);
      });
    try { localStorage.setItem("ajs_anonymous_id", JSON.stringify(id)); } catch (e) {}
    document.cookie = "ajs_anonymous_id=" + encodeURIComponent(JSON.stringify(id)) + "; path=/; max-age=31536000; SameSite=Lax";
    return id;
  }

  function safeURL(u) {
    try {
      var p = new URL(u, location.href);
      return (p.protocol === "https:" || p.protocol === "http:") ? p.href : "";
    } catch (e) { return ""; }
  }

  function style() {
    if (document.getElementById("omniroi-rec-style")) return;
    var s = document.createElement("style");
    s.id = "omniroi-rec-style";
    s.textContent = ".omniroi-strip{display:flex;gap:12px;overflow-x:auto;padding:4px 0}" +
      ".omniroi-item{flex:0 0 160px;text-decoration:none;color:inherit;font:14px/1.3 system-ui,sans-serif}" +
      ".omniroi-item img{width:160px;height:160px;object-fit:cover;border-radius:6px;background:#eee;display:block}" +
      ".omniroi-title{font-weight:600;margin-top:6px}.omniroi-price{margin-top:2px}" +
      ".omniroi-reason{color:#666;font-size:12px;margin-top:4px}";
    document.head.appendChild(s);
  }

  function track(props) {
    var body = JSON.stringify({
      writeKey: writeKey, type: "track", event: "Product Clicked", anonymousId: anonymousId(),
      properties: props,
      context: { page: { url: location.href, path: location.pathname, referrer: document.referrer, title: document.title },
        library: { name: "omniroi-widget", version: "1" } },
      messageId: "rec-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10)
    });
    // text/plain keeps it a simple request (no preflight); keepalive lets it finish
    // while the browser follows the link.
    return fetch(base + "/v1/track", { method: "POST", body: body, keepalive: true,
      headers: { "Content-Type": "text/plain" }, credentials: "omit" });
  }

  function render(el) {
    if (el.getAttribute("data-omniroi-state")) return;
    el.setAttribute("data-omniroi-state", "loading");
    var q = new URLSearchParams();
    q.set("writeKey", writeKey);
    q.set("placement", el.getAttribute("data-placement") || "home");
    var pid = el.getAttribute("data-product-id");
    if (pid) q.set("productId", pid);
    var loc = el.getAttribute("data-location");
    if (loc) q.set("location", loc);
    q.set("limit", el.getAttribute("data-limit") || "4");
    var uid = el.getAttribute("data-user-id"), hash = el.getAttribute("data-user-hash");
    if (uid && hash) { q.set("userId", uid); q.set("userHash", hash); }
    q.set("anonymousId", anonymousId());
    fetch(base + "/v1/recommendations?" + q.toString(), { credentials: "omit" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        style();
        el.textContent = "";
        var recs = data.recommendations || [];
        if (!recs.length) { el.setAttribute("data-omniroi-state", "empty"); return; }
        var title = el.getAttribute("data-title");
        if (title) {
          var h = document.createElement("h3");
          h.textContent = title;
          el.appendChild(h);
        }
        var strip = document.createElement("div");
        strip.className = "omniroi-strip";
        recs.forEach(function (rec, i) {
          var href = safeURL(rec.url);
          var a = document.createElement(href ? "a" : "div");
          a.className = "omniroi-item";
          if (href) a.href = href;
          a.setAttribute("data-recommendation-id", rec.recommendation_id);
          var img = safeURL(rec.image_url);
          if (img) {
            var im = document.createElement("img");
            im.src = img;
            im.alt = rec.title;
            im.loading = "lazy";
            a.appendChild(im);
          }
          [["omniroi-title", rec.title], ["omniroi-price", rec.price + (rec.currency ? " " + rec.currency : "")],
            ["omniroi-reason", rec.reason]].forEach(function (p) {
            var d = document.createElement("div");
            d.className = p[0];
            d.textContent = p[1];
            a.appendChild(d);
          });
          a.addEventListener("click", function () {
            track({ product_id: rec.product_id, name: rec.title, price: parseFloat(rec.price), url: href,
              recommendation_id: rec.recommendation_id, list: rec.list, placement: data.placement, position: i + 1 });
          });
          strip.appendChild(a);
        });
        el.appendChild(strip);
        el.setAttribute("data-omniroi-state", "ready");
        el.dispatchEvent(new CustomEvent("omniroi:rendered", { bubbles: true, detail: data }));
      })
      .catch(function () { el.setAttribute("data-omniroi-state", "error"); });
  }

  function renderAll() {
    var els = document.querySelectorAll("[data-omniroi-recommendations]");
    for (var i = 0; i < els.length; i++) render(els[i]);
  }
  window.omniroiRecommendations = { render: render, renderAll: renderAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderAll);
  else renderAll();
})();
