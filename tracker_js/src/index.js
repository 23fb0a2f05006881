// Clickpulse beacon: wires capture, privacy, batching and delivery. Every entry point is guarded:
// nothing the tracker does may throw into the host page.
import { watchClicks, watchForms } from "./clicks.js";
import { declaredProducts, watchDeclarativeActions } from "./commerce.js";
import { createEngagement } from "./engagement.js";
import { forgetVisitor, uuid, visitorId } from "./identity.js";
import { createNavigationTracker, watchNavigation } from "./navigation.js";
import { trackingAllowed } from "./privacy.js";
import { createQueue, splitBatches } from "./queue.js";
import { sendBody } from "./transport.js";

function safe(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      /* never break the page */
    }
  };
}

(function () {
  const w = window;
  if (!w.document || (w.clickpulse && w.clickpulse.loaded)) return;
  const script = document.currentScript || document.querySelector("script[data-key]");
  const data = (script && script.dataset) || {};
  const bool = (v, d) => (v === undefined ? d : v !== "false" && v !== "0");
  const config = {
    key: data.key,
    api: data.api || (script && script.src ? new URL(script.src).origin : ""),
    cookieless: bool(data.cookieless, false),
    consent: data.consent || null,
    respectDnt: bool(data.respectDnt, true),
    pageviews: bool(data.pageviews, true),
    spa: bool(data.spa, true),
    hashRouting: bool(data.hashRouting, true),
    clicks: bool(data.clicks, true),
    forms: bool(data.forms, true),
    engagement: bool(data.engagement, true),
    rageClicks: bool(data.rageClicks, true),
    searchParam: data.searchParam || "q",
    flushAt: +data.flushAt || 10,
    flushInterval: +data.flushInterval || 2000,
  };
  let storage = null;
  try {
    storage = config.cookieless ? null : w.localStorage;
  } catch (e) {
    /* storage blocked */
  }
  const queue = createQueue({ flushAt: config.flushAt, storage });
  let engagement = null;
  let currentUrl = null;
  let started = false;
  let timer = null;

  const allowed = () => trackingAllowed({ consent: config.consent, respectDnt: config.respectDnt, nav: navigator });

  const flush = safe(function (unloading) {
    clearTimeout(timer);
    timer = null;
    if (!config.key || !allowed()) return;
    const { events, attempt } = queue.take(unloading);
    if (!events.length) return;
    const envelope = { write_key: config.key, visitor_id: visitorId(config.cookieless), sent_at: 0, events: [] };
    for (const batch of splitBatches(events, envelope)) {
      envelope.sent_at = Date.now();
      envelope.events = batch;
      sendBody(config.api + "/collect", JSON.stringify(envelope), unloading).then(
        safe((ok) => (ok ? queue.succeeded() : queue.failed(batch, attempt))),
      );
    }
  });

  const track = safe(function (type, fields) {
    if (!allowed()) return;
    const event = Object.assign({ id: uuid(), type, ts: Date.now(), url: location.href }, fields);
    if (queue.add(event)) flush(false);
    else if (!timer) timer = setTimeout(() => flush(false), config.flushInterval);
  });

  function leavePage() {
    if (engagement && currentUrl) track("page_leave", Object.assign({ url: currentUrl }, engagement.take()));
  }

  const pageview = safe(function () {
    leavePage();
    currentUrl = location.href;
    track("pageview", { referrer: document.referrer, title: document.title });
    const query = new URLSearchParams(location.search).get(config.searchParam);
    if (query) track("search", { props: { query: query.slice(0, 200) } });
  });

  const commands = {
    init: (options) => Object.assign(config, options || {}),
    track: (name, props) => track("custom", { name: String(name).slice(0, 200), props: props || {} }),
    pageview: () => pageview(),
    product: (p) => track("product_view", { props: p }),
    addToCart: (p) => track("add_to_cart", { props: p }),
    removeFromCart: (p) => track("remove_from_cart", { props: p }),
    checkout: (p) => track("checkout_start", { props: p }),
    purchase: (p) => track("purchase", { props: p }),
    identify: (customerId, traits) => track("identify", { props: { customer_id: String(customerId), traits: traits || {} } }),
    reset: () => forgetVisitor(),
    consent: (decision) => {
      config.consent = decision;
      if (decision === "denied") forgetVisitor();
      else start();
    },
    flush: () => flush(false),
  };

  const start = safe(function () {
    if (started || !allowed()) return;
    started = true;
    if (config.engagement) engagement = createEngagement();
    const check = createNavigationTracker(() => config.pageviews && pageview(), config.hashRouting);
    if (config.spa) watchNavigation(check);
    if (config.clicks) watchClicks(track, config.rageClicks);
    if (config.forms) watchForms(track);
    watchDeclarativeActions(track);
    const hide = safe(() => {
      leavePage();
      currentUrl = null;
      flush(true);
    });
    addEventListener("pagehide", hide);
    addEventListener("pageshow", (e) => e.persisted && (currentUrl = location.href));
    document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && flush(true));
    check(true);
    for (const product of declaredProducts(document)) track("product_view", { props: product });
    if (queue.pendingRetry()) setTimeout(() => flush(false), 500);
  });

  const api = safe(function (name) {
    const fn = commands[name];
    if (fn) fn.apply(null, Array.prototype.slice.call(arguments, 1));
  });
  const early = (w.clickpulse && w.clickpulse.q) || [];
  w.clickpulse = api;
  api.loaded = true;
  for (const args of early) if (args[0] === "init" || args[0] === "consent") api.apply(null, args);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  for (const args of early) if (args[0] !== "init" && args[0] !== "consent") api.apply(null, args);
})();
