"""SPA navigation in Chromium counts exactly one page view per route change (pushState, hash routes, back
with popstate, back-forward-cache restores) and none for the same URL pushed again, same-path replaceState or
plain #anchors; a product a route's view declares is viewed with that route. Every page view is closed by one
page_leave carrying its engaged time (visible and focused time only) and its deepest scroll."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

from tests.browser.conftest import KafkaTap, close_tab, count, launch, of_type, page_errors, snippet
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser
APP = """<!doctype html><html><head><title>Home</title>{snippet}
<script>addEventListener("pageshow", (e) => {{ if (e.persisted) document.title = "restored"; }});
const TENT = '<article data-cp-product="sku-tent" data-cp-name="Tent" data-cp-price="349">Tent</article>';
function route(path, view) {{ document.getElementById("view").innerHTML = view; history.pushState({{}}, "", path); }}
</script></head>
<body style="margin:0"><div style="height:4000px">
<button id="push" onclick="history.pushState({{}}, '', '/app/cart.html'); document.title = 'Cart'">cart</button>
<button id="push-same" onclick="history.pushState({{}}, '', location.href)">again</button>
<button id="replace-same" onclick="history.replaceState({{n: 1}}, '', location.pathname)">same</button>
<a id="hash-route" href="#/settings">settings</a>
<a id="anchor" href="#top">top</a>
<button id="push-product" onclick="route('/app/tent.html', TENT)">tent</button>
<button id="push-checkout" onclick="route('/app/checkout.html', '')">checkout</button><div id="view"></div>
<a id="away" href="/other.html">away</a></div></body></html>"""
# Makes the page look hidden, or unfocused, to the tracker, as switching tabs or windows would.
HIDE = """Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
document.dispatchEvent(new Event("visibilitychange"));"""
SHOW = """delete document.visibilityState; document.dispatchEvent(new Event("visibilitychange"));"""
BLUR = """document.hasFocus = () => false; window.dispatchEvent(new FocusEvent("blur"));"""
FOCUS = """delete document.hasFocus; window.dispatchEvent(new FocusEvent("focus"));"""


@pytest.fixture(scope="module")
def bfcache_browser(playwright: Playwright) -> Iterator[Browser]:
    launched = launch(playwright, bfcache=True)
    yield launched
    launched.close()


def write_app(root: Path, ingest: str, key: str) -> None:
    (root / "app").mkdir(exist_ok=True)
    for name in ("index.html", "other.html", "app/cart.html", "app/checkout.html"):
        (root / name).write_text(APP.format(snippet=snippet(ingest, key)))


def test_each_route_change_is_one_page_view_and_one_page_leave(
    stack: RunningStack, kafka: KafkaTap, bfcache_browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("spa", origin)
    write_app(root, stack.ingest, site["write_key"])
    context = bfcache_browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    started = time.monotonic()
    page.goto(f"{origin}/index.html")  # 1: /index.html
    page.evaluate("scrollTo(0, (document.documentElement.scrollHeight - innerHeight) / 2)")
    page.wait_for_timeout(300)
    page.click("#push")  # 2: /app/cart.html
    page.wait_for_function("document.title === 'Cart'")
    page.wait_for_timeout(20)  # the tracker sees the route after the router's task
    first_page_s = time.monotonic() - started  # the first page's engagement ended within this
    page.click("#push-same")  # the same URL again: no page view
    page.click("#replace-same")  # same path, new state: no page view
    page.click("#hash-route")  # 3: /app/cart.html#/settings
    page.wait_for_timeout(50)
    page.go_back()  # 4: popstate back to /app/cart.html
    page.click("#anchor")  # a plain anchor is not a route: no page view
    page.click("#push-product")  # 5: /app/tent.html, whose view declares a product
    page.wait_for_timeout(50)
    page.click("#push-checkout")  # 6: /app/checkout.html
    page.wait_for_timeout(50)
    page.click("#away")  # 7: /other.html, a full page load
    page.wait_for_load_state()
    # Events of two page loads are ordered by their skew-corrected times, into which each request's transit time
    # goes: on a busy machine this page's beacon once came out later than the restored page's, 50 ms after it.
    page.wait_for_timeout(1000)
    page.go_back(wait_until="commit")  # 8: /app/checkout.html again, restored from the back-forward cache
    page.wait_for_function("document.title === 'restored'")
    page.wait_for_timeout(50)
    close_tab(page)
    elapsed_s = time.monotonic() - started

    routes = ["/index.html", "/app/cart.html", "/app/cart.html#/settings", "/app/cart.html", "/app/tent.html",
              "/app/checkout.html", "/other.html", "/app/checkout.html"]  # fmt: skip
    events = kafka.wait_for(site["site_id"], count("page_leave", at_least=len(routes)))
    events = sorted(kafka.quiet(site["site_id"]), key=lambda e: e["ts"])
    context.close()
    assert errors == []
    assert [e["path"] for e in of_type(events, "pageview")] == routes
    leaves = of_type(events, "page_leave")
    assert [e["path"] for e in leaves] == routes
    assert leaves[0]["scroll_pct"] == 50
    assert 0 < leaves[0]["engaged_ms"] <= first_page_s * 1000 + 50
    assert sum(e["engaged_ms"] for e in leaves) <= elapsed_s * 1000 + 50
    assert of_type(events, "pageview")[1]["title"] == "Cart"  # read after the route's own title update
    (product,) = of_type(events, "product_view")  # declared by the SPA route's view, counted with that route
    assert (product["path"], product["products"]) == ("/app/tent.html", [{"product_id": "sku-tent", "name": "Tent",
                                                                           "price": 349.0}])  # fmt: skip
    assert len({e["event_id"] for e in events}) == len(events)


def test_engaged_time_leaves_out_hidden_and_unfocused_time(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("engagement", origin)
    write_app(root, stack.ingest, site["write_key"])
    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    started = time.monotonic()
    page.goto(f"{origin}/index.html")
    page.evaluate(HIDE)
    page.wait_for_timeout(1000)
    page.evaluate(SHOW)
    page.evaluate(BLUR)
    page.wait_for_timeout(1000)
    page.evaluate(FOCUS)
    page.wait_for_timeout(200)
    page.evaluate("scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(100)
    close_tab(page)
    elapsed_ms = (time.monotonic() - started) * 1000

    events = kafka.wait_for(site["site_id"], count("page_leave"))
    context.close()
    assert errors == []
    (leave,) = of_type(events, "page_leave")
    assert 0 < leave["engaged_ms"] <= elapsed_ms - 2000
    assert leave["scroll_pct"] == 100
