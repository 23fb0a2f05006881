// A page for the whole tracker (src/index.js) in node: just enough of window, document, navigator, location,
// localStorage, fetch and sendBeacon to load a fresh copy of the tracker and see every request it makes.
// Timers and the clock are node:test's mock timers, so a test decides when backoffs and batches are due.

export class FakeStorage {
  getItem(key) {
    return Object.hasOwn(this, key) ? this[key] : null;
  }
  setItem(key, value) {
    this[key] = String(value);
  }
  removeItem(key) {
    delete this[key];
  }
}

function listeners() {
  const byType = {};
  return {
    addEventListener: (type, fn) => (byType[type] ||= []).push(fn),
    dispatch: (type, event = {}) => (byType[type] || []).forEach((fn) => fn(event)),
  };
}

let copies = 0;

// Loads the tracker into a fresh page. `data` are the script tag's data-* attributes (camelCase), `queued`
// the calls the snippet's stub holds, `products` the elements the document declares.
export async function openPage({ data = {}, queued = [], url = "https://shop.test/", readyState = "complete" } = {}) {
  const win = listeners();
  const doc = listeners();
  const page = {
    fetches: [],
    beacons: [],
    products: [],
    storage: new FakeStorage(),
    // Every event the tracker sent, by fetch or sendBeacon, in order.
    sent: () => [...page.fetches, ...page.beacons].flatMap((r) => JSON.parse(r.body).events),
    // The retry queue holds each event as its JSON.
    stored: () => JSON.parse(page.storage.getItem("cp_retry") || "[]").map((json) => JSON.parse(json)),
    fire: win.dispatch,
    fireOnDocument: doc.dispatch,
  };
  const document = {
    ...doc,
    readyState,
    visibilityState: "visible",
    title: "Shop",
    referrer: "",
    cookie: "",
    documentElement: { scrollHeight: 800 },
    currentScript: { src: "https://collect.test/cp.js", dataset: { key: "wk_test", ...data } },
    hasFocus: () => true,
    querySelector: () => null,
    querySelectorAll: () => page.products,
  };
  const fetch = (url, init) =>
    new Promise((resolve, reject) => {
      const fail = () => reject(new TypeError("Failed to fetch"));
      page.fetches.push({ url, ...init, answer: (status) => resolve({ status }), fail });
    });
  const sendBeacon = (url, body) => page.beacons.push({ url, body }) > 0;
  const globals = {
    window: { ...win, clickpulse: { q: queued } },
    document,
    navigator: { onLine: true, sendBeacon },
    location: new URL(url),
    history: { pushState() {}, replaceState() {} },
    localStorage: page.storage,
    fetch,
    scrollY: 0,
    innerHeight: 800,
  };
  for (const [name, value] of Object.entries(globals))
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  page.api = (...args) => globalThis.window.clickpulse(...args);
  await import("../src/index.js?copy=" + ++copies);
  return page;
}

// Lets settled fetches run their handlers (the promise jobs), with timers mocked.
export const settle = () => new Promise((resolve) => setImmediate(resolve));
