"""Commerce in Chromium on the demo shop, end to end to Kafka: declared products (data-cp-product) are product
views on load and data-cp-action buttons send add_to_cart and remove_from_cart for their product; the JS API
sends product views, cart changes, checkout and purchase with order id, revenue, currency and items, custom
events, and identify; calls made before the script loaded are kept; reset() starts a new visitor; typed
checkout details never leave the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from clickpulse.demo.shop_server import serve_shop
from tests.browser.conftest import KafkaTap, of_type, page_errors
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser
P1 = {"product_id": "p1", "name": "Trail running shoes", "category": "shoes", "price": 129.0}
P2 = {"product_id": "p2", "name": "Merino base layer", "category": "apparel", "price": 79.0}


@pytest.fixture
def shop(stack: RunningStack) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo shop on a port of its own, for a site of its own (any origin, as the port is known only later)."""
    site = stack.create_site("demo-shop")
    server = serve_shop("127.0.0.1", 0, site["write_key"], stack.ingest)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


def test_a_shopping_trip_sends_every_commerce_event_with_its_products(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, shop: tuple[str, dict[str, str]]
) -> None:
    origin, site = shop
    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(f"{origin}/product/p1.html")  # a declared product: a view on load
    page.click("#add")  # data-cp-action="add_to_cart"
    page.goto(f"{origin}/product/p2.html")
    page.click("#add")
    page.evaluate(
        """() => {
        clickpulse('product', {product_id: 'sku-js', name: 'Gift card', category: 'gifts', price: 25, currency: 'eur'});
        clickpulse('addToCart', {product_id: 'sku-js', price: 25, currency: 'EUR', quantity: 2});
        clickpulse('removeFromCart', {product_id: 'sku-js', quantity: 2});
        clickpulse('track', 'newsletter_signup', {plan: 'weekly'});
        clickpulse('identify', 'crm-42', {plan: 'pro'});
    }"""
    )
    page.goto(f"{origin}/cart.html")
    page.click("button[data-cp-product=p2]")  # a declared remove_from_cart on the cart line
    page.click("#to-checkout")  # checkout.html calls clickpulse('checkout', ...) before the script has loaded
    page.wait_for_load_state()
    page.fill("input[name=name]", "Jane Buyer")
    page.click("#pay")  # the shop sends the purchase with the JS API
    page.wait_for_selector("#thanks")
    page.evaluate("clickpulse('reset'); clickpulse('track', 'after_logout'); clickpulse('flush')")
    events = kafka.wait_for(site["site_id"], lambda es: any(e.get("name") == "after_logout" for e in es))
    events = kafka.quiet(site["site_id"])
    context.close()

    assert errors == []
    views = {v["products"][0]["product_id"]: (v["products"], v["currency"]) for v in of_type(events, "product_view")}
    gift_card = {"product_id": "sku-js", "name": "Gift card", "category": "gifts", "price": 25.0}
    assert views == {"p1": ([P1], "EUR"), "p2": ([P2], "EUR"), "sku-js": ([gift_card], "EUR")}
    adds = {a["products"][0]["product_id"]: a["products"][0] for a in of_type(events, "add_to_cart")}
    assert adds == {"p1": P1, "p2": P2, "sku-js": {"product_id": "sku-js", "price": 25.0, "quantity": 2}}
    removes = sorted(r["products"][0]["product_id"] for r in of_type(events, "remove_from_cart"))
    assert removes == ["p2", "sku-js"]
    (checkout,) = of_type(events, "checkout_start")
    assert (checkout["revenue"], checkout["currency"]) == (129.0, "EUR")
    assert checkout["products"] == [{"product_id": "p1", "name": "Trail running shoes", "price": 129.0}]
    (purchase,) = of_type(events, "purchase")
    assert purchase["order_id"].startswith("o-")
    assert (purchase["revenue"], purchase["currency"]) == (129.0, "EUR")
    assert purchase["products"] == [{"product_id": "p1", "name": "Trail running shoes", "price": 129.0}]
    (signup,) = [e for e in of_type(events, "custom") if e["name"] == "newsletter_signup"]
    assert signup["props"] == {"plan": "weekly"}
    (identify,) = of_type(events, "identify")
    assert identify["customer_id"] == "crm-42" and identify["props"]["traits"] == {"plan": "pro"}
    (submit,) = of_type(events, "form_submit")
    assert submit["props"]["id"] == "checkout-form" and "Jane" not in repr(events)
    before, after = (
        [e for e in events if e.get("name") != "after_logout"],
        [e for e in events if e.get("name") == "after_logout"],
    )
    assert len({e["visitor_id"] for e in before}) == 1 and len(after) == 1
    assert after[0]["visitor_id"] != before[0]["visitor_id"]  # reset() forgot the visitor
    assert len({e["event_id"] for e in events}) == len(events)
