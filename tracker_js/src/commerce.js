// The declarative form of the commerce API: an element with data-cp-product describes a product
// (a product view on load); a data-cp-action button sends that action for its product: the button's
// own data-cp-product, else the nearest one around it.
export const attr = (el, name) => el.getAttribute("data-cp-" + name);

export const ACTIONS = ["add_to_cart", "remove_from_cart", "checkout_start", "purchase"];

export function productFrom(el) {
  const product = { product_id: attr(el, "product"), quantity: +attr(el, "quantity") || 1 };
  for (const key of ["name", "category", "currency"]) if (attr(el, key)) product[key] = attr(el, key);
  const price = attr(el, "price");
  if (price && price == +price) product.price = +price;
  return product;
}

export const declaredProducts = (root) => Array.from(root.querySelectorAll("[data-cp-product]:not([data-cp-action])"), productFrom);
