// Delivery: sendBeacon when the page is going away (it survives unload), fetch with keepalive
// otherwise. Bodies are text/plain, so no CORS preflight is ever needed.
export function sendBody(url, body, unloading) {
  if (unloading && navigator.sendBeacon) {
    try {
      if (navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) return Promise.resolve(true);
    } catch (e) {
      /* fall through to fetch */
    }
  }
  return fetch(url, { method: "POST", body, keepalive: true, credentials: "omit", headers: { "Content-Type": "text/plain" } })
    .then((r) => r.status < 500 && r.status !== 429)
    .catch(() => false);
}
