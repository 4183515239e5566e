/* omniroi experiments: assign this visitor a variant of each running experiment, show
 * it, and record the exposure as Segment's "Experiment Viewed" event.
 *
 *   <div data-omniroi-experiment="hero-text" data-variant="control">Fresh bread daily</div>
 *   <div data-omniroi-experiment="hero-text" data-variant="b" hidden>Baked at 5 am, on your table by 8</div>
 *   <script src="https://omniroi.example/v1/experiments.js" data-write-key="wk_..." async></script>
 *
 * Mark every variant but control `hidden`, so the page shows control when the script
 * cannot run. An experiment counts as viewed (and is reported) only on pages that have
 * elements for it. With analytics.js on the page, its anonymousId is the unit and the
 * exposure goes through analytics.track; without it, the script keeps its own id in
 * localStorage and posts the event to /v1/track with the write key.
 * window.omniroiExperiments.ready resolves to the applied assignments.
 */
(function () {
  "use strict";
  var tag = document.currentScript;
  if (!tag || window.omniroiExperiments) return;
  var key = tag.getAttribute("data-write-key") || "";
  var api = (tag.getAttribute("data-api") || new URL(tag.src, location.href).origin).replace(/\/+$/, "");
  var STORE = "omniroi_anonymous_id";
  var resolveReady;
  var state = { assignments: [], ready: new Promise(function (r) { resolveReady = r; }) };
  window.omniroiExperiments = state;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }

  function ownId() {
    try {
      var v = localStorage.getItem(STORE);
      if (!v) { v = uuid(); localStorage.setItem(STORE, v); }
      return v;
    } catch (e) {
      return uuid(); // storage blocked: a per-page id still gives a consistent page
    }
  }

  // identity calls back with (anonymousId, userId, analytics or null).
  function identity(cb) {
    var a = window.analytics;
    if (!a || typeof a.ready !== "function") { cb(ownId(), "", null); return; }
    var done = false;
    var timer = setTimeout(function () { if (!done) { done = true; cb(ownId(), "", null); } }, 2000);
    a.ready(function () {
      if (done) return;
      done = true;
      clearTimeout(timer);
      var u = typeof a.user === "function" ? a.user() : null;
      cb((u && u.anonymousId()) || ownId(), (u && u.id()) || "", a);
    });
  }

  function elementsOf(id) {
    var all = document.querySelectorAll("[data-omniroi-experiment]");
    var out = [];
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-omniroi-experiment") === id) out.push(all[i]);
    }
    return out;
  }

  function expose(asg, anon, analytics) {
    var props = {
      experiment_id: asg.experiment_id, experiment_name: asg.experiment_id,
      variation_id: asg.variation_id, variation_name: asg.variation_name
    };
    if (analytics && typeof analytics.track === "function") {
      analytics.track("Experiment Viewed", props);
      return;
    }
    var body = {
      writeKey: key, type: "track", event: "Experiment Viewed", anonymousId: anon,
      messageId: "exp-" + uuid(), timestamp: new Date().toISOString(), properties: props,
      context: {
        library: { name: "omniroi-experiments.js", version: "1" },
        page: { url: location.href, path: location.pathname, referrer: document.referrer, title: document.title },
        userAgent: navigator.userAgent
      }
    };
    // text/plain keeps this a simple request (no CORS preflight); the key is in the body.
    fetch(api + "/v1/track", { method: "POST", body: JSON.stringify(body), keepalive: true,
      credentials: "omit", headers: { "Content-Type": "text/plain" } }).catch(function () {});
  }

  function run(anon, user, analytics) {
    var url = api + "/v1/experiments?writeKey=" + encodeURIComponent(key) + "&anonymousId=" + encodeURIComponent(anon);
    if (user) url += "&userId=" + encodeURIComponent(user);
    fetch(url, { credentials: "omit" })
      .then(function (r) { if (!r.ok) throw new Error("assignment: HTTP " + r.status); return r.json(); })
      .then(function (body) {
        var applied = [];
        (body.experiments || []).forEach(function (asg) {
          var els = elementsOf(asg.experiment_id);
          if (!els.length) return; // not on this page: not viewed
          var has = els.some(function (el) { return el.getAttribute("data-variant") === asg.variation_id; });
          if (!has) return; // the page has no element for this variant: leave it as authored
          els.forEach(function (el) { el.hidden = el.getAttribute("data-variant") !== asg.variation_id; });
          applied.push(asg);
          expose(asg, anon, analytics);
        });
        state.assignments = applied;
        document.documentElement.setAttribute("data-omniroi-experiments", "applied");
        resolveReady(applied);
      })
      .catch(function (err) {
        document.documentElement.setAttribute("data-omniroi-experiments", "failed");
        state.error = String(err);
        resolveReady([]);
      });
  }

  identity(run);
})();
