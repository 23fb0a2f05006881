// Clicks on links, buttons and anything marked data-cp-*: what was clicked, never what was typed.
// Outbound links and file downloads are marked; 3 clicks within 1 s and 30 px are a rage click.
import { cssPath } from "./css_path.js";
import { maskText } from "./mask.js";

const DOWNLOAD = /\.(pdf|zip|dmg|exe|msi|csv|xlsx?|docx?|pptx?|mp3|mp4|gz|tgz|7z|rar|apk)$/i;
const TARGETS = "a,button,input[type=submit],input[type=button],[role=button],[data-cp-event]";

export function dataAttributes(el) {
  const out = {};
  for (const attr of el.attributes || []) {
    if (attr.name.startsWith("data-cp-")) out[attr.name.slice(8)] = maskText(attr.value, 100);
  }
  return out;
}

export function createRageDetector(windowMs = 1000, radius = 30, count = 3) {
  let recent = [];
  return function isRage(x, y, t) {
    recent = recent.filter((c) => t - c.t < windowMs && Math.abs(c.x - x) <= radius && Math.abs(c.y - y) <= radius);
    recent.push({ x, y, t });
    if (recent.length >= count) {
      recent = [];
      return true;
    }
    return false;
  };
}

export function watchClicks(track, rage) {
  const isRage = createRageDetector();
  addEventListener(
    "click",
    (e) => {
      const target = e.target && e.target.closest ? e.target : null;
      if (rage && target && isRage(e.clientX, e.clientY, Date.now())) {
        track("rage_click", { props: { path: cssPath(target), tag: target.tagName.toLowerCase() } });
      }
      const el = target && target.closest(TARGETS);
      if (!el) return;
      const href = el.href || "";
      let outbound = false;
      try {
        outbound = !!href && new URL(href, location.href).host !== location.host;
      } catch (err) {
        /* not a URL */
      }
      track("click", {
        props: {
          tag: el.tagName.toLowerCase(),
          text: maskText(el.innerText || el.value || el.getAttribute("aria-label")),
          href: href.slice(0, 500),
          id: el.id || "",
          classes: typeof el.className === "string" ? el.className.slice(0, 200) : "",
          path: cssPath(el),
          outbound,
          download: el.hasAttribute("download") || DOWNLOAD.test(href.split("?")[0]),
          data: dataAttributes(el),
        },
      });
    },
    true,
  );
}

export function watchForms(track) {
  addEventListener(
    "submit",
    (e) => {
      const form = e.target;
      if (!form || form.tagName !== "FORM") return;
      track("form_submit", {
        props: { id: form.id || "", name: form.getAttribute("name") || "", action: (form.getAttribute("action") || "").slice(0, 500) },
      });
    },
    true,
  );
}
