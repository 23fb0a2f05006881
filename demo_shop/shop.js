// Loads the Clickpulse snippet with the key and ingest URL from config.js, and runs the tiny cart.
(function () {
  window.clickpulse = window.clickpulse || function () { (clickpulse.q = clickpulse.q || []).push(arguments); };
  var cfg = window.CLICKPULSE_DEMO || {};
  var s = document.createElement("script");
  s.async = true;
  s.src = cfg.api + "/cp.js";
  s.setAttribute("data-key", cfg.key);
  s.setAttribute("data-api", cfg.api);
  document.head.appendChild(s);

  var CART = "demo_cart";
  function cart() { try { return JSON.parse(localStorage.getItem(CART) || "[]"); } catch (e) { return []; } }
  function save(items) { localStorage.setItem(CART, JSON.stringify(items)); render(); }
  function render() {
    var n = document.getElementById("cart-count");
    if (n) n.textContent = cart().length;
    var list = document.getElementById("cart-items");
    if (!list) return;
    var items = cart();
    list.innerHTML = items.length ? "" : "<li>Your cart is empty.</li>";
    var total = 0;
    items.forEach(function (it, i) {
      total += it.price;
      var li = document.createElement("li");
      li.textContent = it.name + " — €" + it.price.toFixed(2) + " ";
      // The remove button describes its product itself: a cart line is not a product view.
      var remove = document.createElement("button");
      remove.textContent = "Remove";
      remove.setAttribute("data-cp-action", "remove_from_cart");
      remove.setAttribute("data-cp-product", it.id);
      remove.setAttribute("data-cp-name", it.name);
      remove.setAttribute("data-cp-price", it.price);
      remove.setAttribute("data-cp-currency", "EUR");
      remove.setAttribute("data-line", i);
      li.appendChild(remove);
      list.appendChild(li);
    });
    var t = document.getElementById("cart-total");
    if (t) t.textContent = "€" + total.toFixed(2);
  }
  // What the checkout page reports when it opens: the cart's value and items.
  window.shopCheckout = function () {
    var items = cart();
    return {
      value: items.reduce(function (s, it) { return s + it.price; }, 0),
      currency: "EUR",
      items: items.map(function (it) { return { product_id: it.id, name: it.name, price: it.price, quantity: 1 }; }),
    };
  };
  document.addEventListener("click", function (e) {
    var removed = e.target.closest && e.target.closest("[data-cp-action=remove_from_cart]");
    if (removed) {
      var rest = cart();
      rest.splice(+removed.getAttribute("data-line"), 1);
      return save(rest);
    }
    var btn = e.target.closest && e.target.closest("[data-cp-action=add_to_cart]");
    if (!btn) return;
    var p = btn.closest("[data-cp-product]");
    var items = cart();
    items.push({ id: p.getAttribute("data-cp-product"), name: p.getAttribute("data-cp-name"), price: +p.getAttribute("data-cp-price") });
    save(items);
  });
  document.addEventListener("submit", function (e) {
    if (e.target.id !== "checkout-form") return;
    e.preventDefault();
    var order = shopCheckout();
    clickpulse("purchase", { order_id: "o-" + Date.now(), revenue: order.value, currency: "EUR", items: order.items });
    save([]);
    document.getElementById("checkout-form").outerHTML = "<p id='thanks'>Thank you for your order!</p>";
  });
  document.addEventListener("DOMContentLoaded", render);
})();
