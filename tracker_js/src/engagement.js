// Engaged time counts only while the page is visible and focused; scroll depth is the deepest
// point reached, in percent of the page. Both are reported with the page_leave event.
import { on } from "./guard.js";

export function createEngagement() {
  let engaged = 0;
  let since = 0;
  let deepest = 0;
  const tick = () => {
    const now = Date.now();
    if (since) engaged += now - since;
    since = document.visibilityState == "visible" && document.hasFocus() && now;
  };
  const scroll = () => {
    const doc = document.documentElement;
    deepest = Math.max(deepest, Math.min(100, Math.round((100 * scrollY) / Math.max(doc.scrollHeight - innerHeight, 1))));
  };
  for (const type of ["focus", "blur", "visibilitychange"]) on(type, tick);
  on("scroll", scroll, window, { passive: true });
  tick();
  scroll();
  // Read and restart: a new page (or SPA route) begins its own measurement.
  return () => {
    tick();
    const out = { engaged_ms: engaged, scroll_pct: deepest };
    engaged = deepest = 0;
    scroll();
    return out;
  };
}
