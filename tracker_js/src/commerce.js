// The commerce API and its declarative form: elements with data-cp-product describe a product on
// the page (a product view on load); data-cp-action="add_to_cart" (and friends) on a button sends
// that event for the nearest product.
const ACTIONS = { add_to_cart: 1, remove_from_cart: 1, checkout_start: 1, purchase: 1 };

export function productFrom(el) {
  const num = (v) => (v === null || v === "" || isNaN(+v) ? undefined : +v);
  return {
    product_id: el.getAttribute("data-cp-product"),
    name: el.getAttribute("data-cp-name") || undefined,
    category: el.getAttribute("data-cp-category") || undefined,
    price: num(el.getAttribute("data-cp-price")),
    currency: el.getAttribute("data-cp-currency") || undefined,
    quantity: num(el.getAttribute("data-cp-quantity")) || 1,
  };
}

export function declaredProducts(root) {
  return Array.from(root.querySelectorAll("[data-cp-product]:not([data-cp-action])"), productFrom);
}

export function watchDeclarativeActions(track) {
  addEventListener(
    "click",
    (e) => {
      const button = e.target && e.target.closest && e.target.closest("[data-cp-action]");
      if (!button) return;
      const action = button.getAttribute("data-cp-action");
      if (!ACTIONS[action]) return;
      const holder = button.hasAttribute("data-cp-product") ? button : button.closest("[data-cp-product]");
      track(action, { props: holder ? productFrom(holder) : {} });
    },
    true,
  );
}
