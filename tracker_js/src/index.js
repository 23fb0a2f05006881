// Clickpulse beacon: wires capture, privacy, batching and delivery. Every entry point is guarded:
// nothing the tracker does may throw into the host page.
import { watchClicks } from "./clicks.js";
import { declaredProducts } from "./commerce.js";
import { createEngagement } from "./engagement.js";
import { forgetVisitor, uuid, visitorId } from "./identity.js";
import { pageKey, watchNavigation } from "./navigation.js";
import { maskText } from "./mask.js";
import { trackingAllowed } from "./privacy.js";
import { createQueue, splitBatches } from "./queue.js";
import { on, safe } from "./guard.js";

const w = window;
const nav = navigator;
const CONSENT_KEY = "cp_consent";
// Switches that default to on; data-cookieless is the one that defaults to off.
const SWITCHES = ["respectDnt", "pageviews", "spa", "hashRouting", "clicks", "rageClicks", "forms", "engagement"];

safe(() => {
  // The snippet's stub holds the calls made before we loaded; a second copy of the script does nothing.
  const stub = w.clickpulse || {};
  if (stub.loaded) return;
  const early = stub.q || [];
  const script = document.currentScript || document.querySelector("script[data-key]");
  const data = (script && script.dataset) || {};
  const config = {
    key: data.key,
    api: data.api || (script && script.src ? new URL(script.src).origin : ""),
    consent: data.consent,
    searchParam: data.searchParam || "q",
    flushAt: +data.flushAt || 10,
    flushInterval: +data.flushInterval || 2e3,
  };
  for (const name of ["cookieless", ...SWITCHES]) {
    const value = data[name];
    config[name] = value == null ? name != "cookieless" : value != "false" && value != "0";
  }
  // Options given with clickpulse('init', ...) before load apply before anything is stored.
  for (const args of early) if (args[0] == "init") Object.assign(config, args[1]);

  let storage = null;
  try {
    storage = !config.cookieless && localStorage;
    // The visitor's own consent decision, kept from an earlier page, wins over the site's default.
    config.consent = storage[CONSENT_KEY] || config.consent;
  } catch (e) {
    /* storage blocked: retries live in memory */
  }
  const queue = createQueue(config.flushAt, storage || null);
  let takeEngagement = null;
  let currentUrl = null;
  let lastKey = null;
  let started = false;
  let timer = 0;
  let soon = 0;
  let inflight = 0;
  let gone = 0;

  const allowed = () => trackingAllowed(config.consent, config.respectDnt, nav);

  // Keep events that could not go (offline, refused, failed) and try again after a backoff.
  const retry = (events) => setTimeout(flush, queue.failed(events) + 9);

  // Forget the visitor (reset, consent denied). A send of theirs still in flight belongs to an older
  // generation: if it fails, its events are dropped, not stored, or they would go out under the next
  // visitor's id (linking two people on a shared computer) or re-create the storage a denial deleted.
  // Their events not yet sent (pending after a denial, or waiting for a retry, stored or in memory) are dropped
  // for the same reason, and the next visitor's backoff starts afresh.
  let generation = 0;
  const forget = () => {
    generation++;
    queue.clear();
    forgetVisitor();
  };

  // mode: 0 normal, 1 retries forced (back online), 2 the page is hidden or going away (by sendBeacon).
  // A beacon's delivery is never known, so it takes stored events only once their backoff is over (they
  // are safe in storage meanwhile): events refused with a 429 or 5xx are not sent into the same error on a
  // mere tab switch. Once the page is gone, stored events wait for the next page: Chromium can still run this
  // page's handlers as its tab closes (even tell it 'online' while the browser is offline), and what it took
  // out of storage then would be lost with the page. Its own last events still go, by sendBeacon.
  const flush = safe((mode) => {
    clearTimeout(timer);
    timer = soon = 0;
    if (!config.key || !allowed()) return;
    const events = queue.take(gone ? -1 : mode == 1 ? 1 : 0);
    if (!events.length) return;
    // Offline, a beacon would be accepted and lost, and a fetch would only fail: keep them for 'online'.
    if (nav.onLine === false) return retry(events);
    const url = config.api + "/collect";
    const head = JSON.stringify({ write_key: config.key, visitor_id: visitorId(config.cookieless), sent_at: Date.now() });
    const sentBy = generation;
    for (const chunk of splitBatches(events)) {
      // A string body is text/plain: no CORS preflight.
      const body = head.slice(0, -1) + ',"events":[' + chunk + "]}";
      const failed = () => sentBy == generation && retry(chunk);
      if ((gone || mode > 1) && nav.sendBeacon) nav.sendBeacon(url, body) || failed();
      else {
        // keepalive lets a request outlive the page, but browsers allow 64 KB of them in flight: a burst
        // beyond that would be refused, so the rest go as plain requests. Bytes, not characters: a character
        // is up to 3 bytes in UTF-8.
        const bytes = new Blob([body]).size;
        const kept = inflight + bytes < 6e4 && bytes;
        inflight += kept;
        const done = (ok) => {
          inflight -= kept;
          ok ? queue.sent() : failed();
        };
        // A network failure rejects: its events are kept, like those of a 5xx or 429.
        fetch(url, { method: "POST", body, keepalive: !!kept, credentials: "omit" }).then(
          (r) => done(r.status < 500 && r.status != 429),
          () => done(false),
        );
      }
    }
  });

  // Every caller of track is guarded already (commands, listeners, check).
  const track = (type, fields) => {
    if (!allowed()) return;
    // A full batch goes right after the current task (so a burst of events makes one request, not one per
    // flushAt events, and the host page's handler is not held up); else within flushInterval.
    // Serialized now: the page may change its objects afterwards, and one that cannot be serialized
    // (a cycle) is dropped alone instead of spoiling its batch.
    // Offline, an event is stored at once (as a failed send): a tab can be killed before it hears pagehide.
    const full =
      queue.add(JSON.stringify({ id: uuid(), type, ts: Date.now(), url: location.href, ...fields })) ||
      nav.onLine === false;
    if (full ? !soon : !timer) {
      clearTimeout(timer);
      soon = full;
      timer = setTimeout(flush, full ? 0 : config.flushInterval);
    }
  };

  const leavePage = () => {
    if (takeEngagement && currentUrl) track("page_leave", { url: currentUrl, ...takeEngagement() });
  };

  // A new page (or route) begins: the last one is left. Automatic page views can be switched off,
  // engagement is still measured per page.
  const pageview = (auto) => {
    leavePage();
    currentUrl = location.href;
    if (auto && !config.pageviews) return;
    track("pageview", { referrer: document.referrer, title: document.title });
    const query = new URLSearchParams(location.search).get(config.searchParam);
    // Masked like click text: a search for an e-mail address or an order number is personal data.
    if (query) track("search", { props: { query: maskText(query, 200) } });
  };

  // A page view when the page's key changed, or always when forced (first load, bfcache restore),
  // with a product view for each product the page (or SPA route) declares.
  // (Guarded itself: the history wrappers call it from a timer.)
  const check = safe((force) => {
    const key = pageKey(location.href, config.hashRouting);
    if (force || key != lastKey) {
      lastKey = key;
      pageview(1);
      for (const props of declaredProducts(document)) track("product_view", { props });
    }
  });

  const commerce = (type) => (props) => track(type, { props });
  const commands = {
    init: (options) => Object.assign(config, options),
    track: (name, props) => track("custom", { name: String(name).slice(0, 200), props: props || {} }),
    pageview: () => pageview(),
    product: commerce("product_view"),
    addToCart: commerce("add_to_cart"),
    removeFromCart: commerce("remove_from_cart"),
    checkout: commerce("checkout_start"),
    purchase: commerce("purchase"),
    identify: (customerId, traits) =>
      (customerId || customerId === 0) && track("identify", { props: { customer_id: "" + customerId, traits: traits || {} } }),
    // What is queued still belongs to the visitor who leaves: send it before forgetting them.
    reset: () => {
      flush();
      forget();
    },
    consent: (decision) => {
      config.consent = decision;
      if (decision == "denied") forget();
      // While the page loads, start waits for DOMContentLoaded (see below): the page's declared
      // products are not parsed yet.
      if (document.readyState != "loading") start();
      // Remember the visitor's decision for the next pages (not in cookieless mode, which stores nothing).
      if (storage) storage[CONSENT_KEY] = decision;
    },
    flush: () => flush(),
  };

  const start = safe(() => {
    if (started || !allowed()) return;
    started = true;
    if (config.engagement) takeEngagement = createEngagement();
    if (config.spa) watchNavigation(check);
    watchClicks(track, config);
    on("pagehide", () => {
      leavePage();
      currentUrl = null;
      flush(2);
      gone = 1;
    });
    // A page restored from the back-forward cache is a new view of it, though its URL did not change.
    on("pageshow", (e) => {
      if (e.persisted) {
        gone = 0;
        check(1);
      }
    });
    on("visibilitychange", () => document.visibilityState == "hidden" && flush(2), document);
    on("online", () => flush(1));
    on("offline", () => flush());
    check(1);
    // Events kept by an earlier page: try them once this page has settled.
    if (queue.waiting()) setTimeout(flush, 500);
  });

  const api = safe((name, ...args) => commands[name] && commands[name](...args));
  w.clickpulse = api;
  api.loaded = true;
  for (const args of early) if (args[0] == "consent") api(...args);
  if (document.readyState == "loading") on("DOMContentLoaded", start, document);
  else start();
  for (const args of early) if (args[0] != "init" && args[0] != "consent") api(...args);
})();
