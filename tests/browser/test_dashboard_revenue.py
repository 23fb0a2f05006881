"""The dashboard's revenue in Chromium: one figure per currency, since amounts in euros and dollars never add up."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect

from tests.running_stack import RunningStack, send_batch

pytestmark = pytest.mark.browser


def test_the_dashboard_shows_revenue_per_currency_never_their_sum(stack: RunningStack, browser: Browser) -> None:
    site = stack.create_site("dashboard-revenue")
    now = int(time.time() * 1000)
    for visitor, order, revenue, currency in (("eu", "o-1", 100, "EUR"), ("us", "o-2", 50, "USD")):
        purchase = {"order_id": order, "revenue": revenue, "currency": currency}
        events = [{"id": f"{visitor}-buy", "type": "purchase", "ts": now, "url": "https://s.test/", "props": purchase}]
        assert send_batch(stack.ingest, site, visitor, events) == 200
    stack.wait_for_stats(site, {"conversions": 2})
    page = browser.new_page()
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    # A locator's assertion, not wait_for_function: the page's CSP refuses the eval that one polls with.
    expect(page.locator("#s-revenue")).to_have_text("100.00 EUR · 50.00 USD", timeout=20_000)
    page.close()
