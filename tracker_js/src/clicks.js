// Clicks on links, buttons and anything marked data-cp-*: what was clicked, never what was typed.
// Outbound links and file downloads are marked; 3 clicks within 1 s and 30 px are a rage click;
// data-cp-action buttons send their commerce action. Form submissions name the form, never its values.
import { ACTIONS, attr, productFrom } from "./commerce.js";
import { cssPath } from "./css_path.js";
import { maskText } from "./mask.js";
import { on } from "./guard.js";

const DOWNLOAD = /\.(pdf|zip|dmg|exe|msi|csv|xlsx?|docx?|pptx?|mp[34]|t?gz|7z|rar|apk)$/i;
const CONTROLS = "a,button,[type=submit],[type=button],[role=button],[data-cp-event]";
const FIELDS = /^(INPUT|TEXTAREA|SELECT)$/;

// The words on a control, never what was typed: a field (or editable text) marked as a control gives no
// text; only a button-like input's value is its caption.
const caption = (el) => {
  if (el.tagName == "INPUT" && /^(submit|button|reset)$/.test(el.type)) return el.value;
  return FIELDS.test(el.tagName) || el.isContentEditable ? "" : el.innerText || el.getAttribute("aria-label");
};

export function dataAttributes(el) {
  const out = {};
  for (const { name, value } of el.attributes) if (name.startsWith("data-cp-")) out[name.slice(8)] = maskText(value);
  return out;
}

export function createRageDetector(windowMs = 1000, radius = 30, count = 3) {
  let recent = [];
  return (x, y, t) => {
    recent = recent.filter((c) => t - c.t < windowMs && Math.hypot(c.x - x, c.y - y) <= radius);
    if (recent.push({ x, y, t }) < count) return false;
    recent = [];
    return true;
  };
}

export function watchClicks(track, config) {
  const isRage = createRageDetector();
  on("click", (e) => {
    const target = e.target;
    if (!target.closest) return;
    const tag = (el) => el.tagName.toLowerCase();
    if (config.rageClicks && isRage(e.clientX, e.clientY, Date.now()))
      track("rage_click", { props: { path: cssPath(target), tag: tag(target) } });
    const el = target.closest(CONTROLS);
    if (config.clicks && el) {
      // SVG links have an object for href and className: read what is a plain string only.
      const href = typeof el.href == "string" ? el.href : "";
      const url = href && new URL(href);
      track("click", {
        props: {
          tag: tag(el),
          text: maskText(caption(el)),
          href: href.slice(0, 500),
          id: el.id,
          classes: (el.getAttribute("class") || "").slice(0, 200),
          path: cssPath(el),
          outbound: !!url && /^http/.test(url.protocol) && url.host != location.host,
          download: el.hasAttribute("download") || (!!url && DOWNLOAD.test(url.pathname)),
          data: dataAttributes(el),
        },
      });
    }
    const button = target.closest("[data-cp-action]");
    const action = button && attr(button, "action");
    if (ACTIONS.includes(action)) {
      const holder = attr(button, "product") ? button : button.closest("[data-cp-product]");
      track(action, { props: holder ? productFrom(holder) : {} });
    }
  });
  if (config.forms)
    on("submit", (e) => {
      const form = e.target;
      // Attributes, not properties: a field named "id" or "action" would shadow form.id or form.action.
      const get = (name) => (form.getAttribute(name) || "").slice(0, 500);
      track("form_submit", { props: { id: get("id"), name: get("name"), action: get("action") } });
    });
}
