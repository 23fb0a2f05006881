// Engaged time counts only while the page is visible and focused; scroll depth is the deepest
// point reached, in percent of the page. Both are reported with the page_leave event.
export function createEngagement() {
  let engaged = 0;
  let since = null;
  let maxScroll = 0;
  const active = () => document.visibilityState === "visible" && document.hasFocus();
  const tick = () => {
    const now = Date.now();
    if (since !== null) engaged += now - since;
    since = active() ? now : null;
  };
  const scroll = () => {
    const doc = document.documentElement;
    const height = Math.max(doc.scrollHeight - innerHeight, 1);
    maxScroll = Math.max(maxScroll, Math.min(100, Math.round((100 * (scrollY || doc.scrollTop)) / height)));
  };
  for (const name of ["focus", "blur", "visibilitychange"]) addEventListener(name, tick, true);
  addEventListener("scroll", scroll, { passive: true });
  tick();
  scroll();
  return {
    // Read and restart: a new page (or SPA route) begins its own measurement.
    take() {
      tick();
      const out = { engaged_ms: engaged, scroll_pct: maxScroll };
      engaged = 0;
      maxScroll = 0;
      scroll();
      return out;
    },
  };
}
