import assert from "node:assert/strict";
import { test } from "node:test";
import { cssPath } from "../src/css_path.js";
import { maskText } from "../src/mask.js";
import { createRageDetector, dataAttributes } from "../src/clicks.js";
import { productFrom } from "../src/commerce.js";
import { uuid } from "../src/identity.js";
import { pageKey } from "../src/navigation.js";
import { trackingAllowed } from "../src/privacy.js";

test("e-mail addresses and long digit runs are masked, short numbers kept", () => {
  assert.equal(maskText("Mail jane.doe@example.com now"), "Mail [email] now");
  assert.equal(maskText("Card 4111 1111 1111 1111"), "Card [number]");
  assert.equal(maskText("Call +44 20 7946 0958"), "Call +[number]");
  assert.equal(maskText("Buy 2 for 19.99"), "Buy 2 for 19.99");
  assert.equal(maskText("  lots   of\n space "), "lots of space");
  assert.equal(maskText("x".repeat(300)).length, 100);
});

test("DNT and GPC stop tracking unless the visitor granted consent", () => {
  assert.equal(trackingAllowed(null, true, {}), true);
  assert.equal(trackingAllowed(null, true, { doNotTrack: "1" }), false);
  assert.equal(trackingAllowed(null, true, { globalPrivacyControl: true }), false);
  assert.equal(trackingAllowed(null, false, { doNotTrack: "1" }), true);
  assert.equal(trackingAllowed("granted", true, { doNotTrack: "1" }), true);
  assert.equal(trackingAllowed("denied", true, {}), false);
  assert.equal(trackingAllowed("pending", true, {}), false);
});

function el(tag, { id = "", className = "", parent = null } = {}) {
  return { nodeType: 1, tagName: tag.toUpperCase(), id, classList: className.split(" ").filter(Boolean), parentElement: parent };
}

test("the CSS path is short and stops at an id", () => {
  const main = el("main", { id: "content" });
  const card = el("div", { className: "card featured", parent: main });
  const link = el("a", { className: "", parent: el("p", { parent: card }) });
  assert.equal(cssPath(link), "main#content>div.card>p>a");
  const deep = el("span", { parent: el("b", { parent: el("i", { parent: el("u", { parent: el("em") }) }) }) });
  assert.equal(cssPath(deep).split(">").length, 4);
});

test("three clicks within a second and 30 px are a rage click", () => {
  const isRage = createRageDetector();
  assert.equal(isRage(10, 10, 0), false);
  assert.equal(isRage(15, 12, 300), false);
  assert.equal(isRage(20, 15, 600), true);
  const slow = createRageDetector();
  slow(10, 10, 0);
  slow(10, 10, 700);
  assert.equal(slow(10, 10, 1500), false, "spread over more than a second");
  const far = createRageDetector();
  far(10, 10, 0);
  far(100, 10, 100);
  assert.equal(far(200, 10, 200), false, "spread over more than 30 px");
});

test("SPA page keys ignore plain anchors but keep hash routes and queries", () => {
  assert.equal(pageKey("https://s.test/a?x=1#top", true), "https://s.test/a?x=1");
  assert.equal(pageKey("https://s.test/#/cart", true), "https://s.test/#/cart");
  assert.equal(pageKey("https://s.test/#/cart", false), "https://s.test/");
});

function element(attributes) {
  return {
    attributes: Object.entries(attributes).map(([name, value]) => ({ name, value })),
    getAttribute: (name) => (name in attributes ? attributes[name] : null),
  };
}

test("data-cp-* attributes are captured without their prefix and masked", () => {
  const el = element({ "data-cp-plan": "pro", "data-cp-contact": "jane@example.com", "data-other": "x", id: "b" });
  assert.deepEqual(dataAttributes(el), { plan: "pro", contact: "[email]" });
});

test("a declared product reads its data-cp-* fields; a bad price is left out", () => {
  const p = element({ "data-cp-product": "sku-1", "data-cp-name": "Shoes", "data-cp-price": "129.5", "data-cp-currency": "EUR" });
  assert.deepEqual(productFrom(p), { product_id: "sku-1", quantity: 1, name: "Shoes", currency: "EUR", price: 129.5 });
  const q = element({ "data-cp-product": "sku-2", "data-cp-price": "call us", "data-cp-quantity": "3" });
  assert.deepEqual(productFrom(q), { product_id: "sku-2", quantity: 3 });
});

test("ids are random and unique", () => {
  const ids = new Set(Array.from({ length: 10_000 }, uuid));
  assert.equal(ids.size, 10_000);
  for (const id of ids) assert.match(id, /^\d+-\d+-\d+-\d+$/);
});
