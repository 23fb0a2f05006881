"""Stored XSS, as Matomo's and PostHog's CVEs had it: markup that visitors send as page addresses, campaign tags and
product ids, through the beacon, Segment's API and the pixel, reaches the dashboard's live lists, intent signals and
7-day cards as text and never runs; and the dashboard's policy refuses any script it did not ship, should a change
ever write such text as markup."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import pytest
from playwright.sync_api import Browser

from tests.running_stack import BROWSER_HEADERS, RunningStack, send_batch, wait_until

pytestmark = pytest.mark.browser

MARKUP = '"\'><img src=x onerror="window.__ran=1"><script>window.__ran=2</script><svg onload="window.__ran=3">'


def send_markup_through_every_route(stack: RunningStack, site: dict[str, str]) -> list[str]:
    """The markup as a page path (beacon, Segment, pixel) and a product id (beacon, Segment); the names the
    dashboard's lists should show."""
    now = int(time.time() * 1000)
    beacon = [
        {"id": uuid.uuid4().hex, "type": "pageview", "ts": now, "title": MARKUP,
         "url": f"https://shop.test/b/{MARKUP}?utm_source={MARKUP}"},
        {"id": uuid.uuid4().hex, "type": "product_view", "ts": now, "url": "https://shop.test/p",
         "props": {"product_id": f"b-{MARKUP}", "name": MARKUP, "price": 1}},
        # Enough intent for a signal, whose products and reasons name the product id.
        {"id": uuid.uuid4().hex, "type": "product_view", "ts": now + 1, "url": "https://shop.test/p",
         "props": {"product_id": f"b-{MARKUP}", "name": MARKUP, "price": 1}},
        {"id": uuid.uuid4().hex, "type": "add_to_cart", "ts": now + 2, "url": "https://shop.test/p",
         "props": {"product_id": f"b-{MARKUP}", "price": 1}},
        {"id": uuid.uuid4().hex, "type": "checkout_start", "ts": now + 3, "url": "https://shop.test/c"},
    ]  # fmt: skip
    assert send_batch(stack.ingest, site, f"v-{MARKUP[:20]}", beacon) == 200
    segment = {
        "batch": [
            {"type": "page", "messageId": uuid.uuid4().hex, "anonymousId": "seg", "name": MARKUP,
             "properties": {"url": f"https://shop.test/s/{MARKUP}", "title": MARKUP, "referrer": MARKUP}},
            {"type": "track", "messageId": uuid.uuid4().hex, "anonymousId": "seg", "event": "Product Viewed",
             "properties": {"product_id": f"s-{MARKUP}", "name": MARKUP}},
        ]
    }  # fmt: skip
    basic = base64.b64encode(f"{site['write_key']}:".encode()).decode()
    headers = {**BROWSER_HEADERS, "Content-Type": "application/json", "Authorization": f"Basic {basic}"}
    assert httpx.post(f"{stack.ingest}/v1/batch", json=segment, headers=headers, timeout=10).status_code == 200
    pixel = {"k": site["write_key"], "u": f"https://shop.test/px/{MARKUP}", "t": MARKUP, "r": MARKUP, "v": "px"}
    assert httpx.get(f"{stack.ingest}/pixel.gif", params=pixel, headers=BROWSER_HEADERS, timeout=10).status_code == 200
    return sorted([f"/b/{MARKUP}", f"/s/{MARKUP}", f"/px/{MARKUP}", f"b-{MARKUP}", f"s-{MARKUP}"])


def test_markup_sent_as_tracked_data_shows_as_text_and_the_dashboard_refuses_scripts_it_did_not_ship(
    stack: RunningStack, browser: Browser
) -> None:
    site = stack.create_site("dashboard-hostile-data")
    expected = send_markup_through_every_route(stack, site)
    # The 7-day cards read the warehouse: wait until the visitor's session is there, with its entry page and source.
    key = {"Authorization": f"Bearer {site['read_key']}"}

    def in_warehouse() -> bool:
        answer = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/breakdown/source", headers=key, timeout=10)
        return MARKUP in [row["value"] for row in answer.json()["rows"]]

    assert wait_until(in_warehouse, 60)
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    shown = "[...document.querySelectorAll('#top-pages li, #top-products li')].map((li) => li.firstChild.textContent)"
    # Polled from here: Playwright's wait_for_function may run its string through eval, which the page's policy refuses.
    assert wait_until(lambda: len(page.evaluate(shown)) == 5, 30, every_s=0.5)
    assert sorted(page.evaluate(shown)) == expected
    cards = "[...document.querySelectorAll('[data-breakdown=entry_page] li, [data-breakdown=source] li')]"
    carded = f"{cards}.map((li) => li.firstChild.textContent)"
    assert wait_until(lambda: {MARKUP, f"/b/{MARKUP}"} <= set(page.evaluate(carded)), 20, every_s=0.5)
    signal = "[...document.querySelectorAll('#signals li span')].map((span) => span.textContent).join(' ')"
    assert wait_until(lambda: f"added b-{MARKUP} to cart" in page.evaluate(signal), 20, every_s=0.5)
    assert f"  b-{MARKUP}" in page.evaluate(signal)
    assert page.evaluate("document.querySelectorAll('main img, main script, main svg').length") == 0
    assert page.evaluate("window.__ran") is None
    assert refused == []  # the page's own script and style run under its policy

    # What a change that wrote tracked text as markup would do: the policy refuses both kinds of inline script.
    page.evaluate(f"document.getElementById('feed').insertAdjacentHTML('beforeend', {json.dumps(MARKUP)})")
    page.evaluate("const s = document.createElement('script'); s.text = 'window.__ran = 4'; document.body.append(s)")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__ran") is None
    assert refused
    context.close()
