import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { openPage } from "./fake_page.js";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1e6 }));
afterEach(() => mock.timers.reset());

// An element autocapture sees as clicked; `closest` finds the element itself as the control.
function control(tag, fields = {}, attributes = {}) {
  return {
    nodeType: 1,
    tagName: tag.toUpperCase(),
    id: "",
    innerText: "",
    classList: [],
    parentElement: null,
    attributes: Object.entries(attributes).map(([name, value]) => ({ name, value })),
    getAttribute: (name) => (name in attributes ? attributes[name] : null),
    hasAttribute: (name) => name in attributes,
    closest(selector) {
      return selector.includes("data-cp-action") ? null : this;
    },
    ...fields,
  };
}

const clickTexts = (page) => page.sent().filter((e) => e.type == "click").map((e) => e.props.text);

test("a click on a form field sends no text (what was typed never leaves); a button input its caption", async () => {
  const page = await openPage({ data: { pageviews: "false" } });
  const typed = "my secret words";
  const clicked = [
    control("input", { type: "text", value: typed }, { "data-cp-event": "coupon" }),
    control("textarea", { value: typed }, { role: "button" }),
    control("select", { value: typed, innerText: "Mr\nMrs" }, { "data-cp-event": "title" }),
    control("div", { innerText: typed, isContentEditable: true }, { "data-cp-event": "note" }),
    control("input", { type: "submit", value: "Sign up" }),
    control("input", { type: "reset", value: "Clear" }),
    control("button", { innerText: "Save", value: "draft-42" }),
    control("button", {}, { "aria-label": "Close dialog" }),
  ];
  for (const target of clicked) page.fire("click", { target, clientX: 0, clientY: 0 });
  page.api("flush");
  assert.deepEqual(clickTexts(page), ["", "", "", "", "Sign up", "Clear", "Save", "Close dialog"]);
});

test("a site search query is masked like click text", async () => {
  const page = await openPage({ url: "https://shop.test/search?q=order+jane.doe%40example.com+4111+1111+1111+1111" });
  page.api("flush");
  const search = page.sent().find((e) => e.type == "search");
  assert.equal(search.props.query, "order [email] [number]");
});

test("consent given while the page is still loading starts tracking once the DOM is ready", async () => {
  const page = await openPage({ readyState: "loading", queued: [["consent", "granted"]] });
  // The rest of the page is parsed: it declares a product.
  page.products.push(control("article", {}, { "data-cp-product": "sku-1" }));
  document.readyState = "interactive";
  page.fireOnDocument("DOMContentLoaded");
  page.api("flush");
  const views = page.sent().filter((e) => e.type == "product_view");
  assert.deepEqual(
    views.map((e) => e.props.product_id),
    ["sku-1"],
  );
  assert.equal(page.sent().filter((e) => e.type == "pageview").length, 1);
});

test("consent given after the page has loaded starts tracking at once", async () => {
  const page = await openPage({ data: { consent: "pending" } });
  page.api("flush");
  assert.equal(page.fetches.length, 0, "nothing before consent");
  page.api("consent", "granted");
  page.api("flush");
  assert.deepEqual(
    page.sent().map((e) => e.type),
    ["pageview"],
  );
});
