"""The dashboard's period and shopping funnel in Chromium: the figures below the live ones cover today, 7 or 30 days
as chosen, the choice stays in the page's address, and the funnel shows visitors per step and the share who went on."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import page_errors
from tests.running_stack import RunningStack, send_batch

pytestmark = pytest.mark.browser
DAY_MS = 86_400_000


def event(kind: str, ts: int, **props: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "ts": ts, "url": "https://shop.test/p/1", "props": props}


def test_the_figures_follow_the_chosen_period_and_the_funnel_shows_each_steps_visitors(
    stack: RunningStack, browser: Browser
) -> None:
    site = stack.create_site("dashboard-periods")
    now = int(time.time() * 1000)
    three_days_ago = now - 3 * DAY_MS  # before today's midnight wherever the browser is
    looked = [event("pageview", three_days_ago), event("product_view", three_days_ago + 1, product_id="sku-1")]
    bought = [
        event("pageview", now),
        event("product_view", now + 1, product_id="sku-1"),
        event("add_to_cart", now + 2, product_id="sku-1"),
        event("checkout_start", now + 3, value=10),
        event("purchase", now + 4, order_id="o-1", revenue=10, currency="EUR", items=[{"product_id": "sku-1"}]),
    ]
    for visitor, events in (("looked", looked), ("bought", bought)):
        assert send_batch(stack.ingest, site, visitor, events) == 200
    stack.wait_for_stats(site, {"pageviews": 2, "sessions": 2, "conversions": 1})

    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page, missing_favicon_counts=True)
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    funnel = page.locator("#funnel li")
    expect(page.locator("#periods button.on")).to_have_text("7 days")
    expect(funnel).to_have_text(
        ["viewed a product2", "added to cart1 (50%)", "started checkout1 (100%)", "bought1 (100%)"], timeout=20_000
    )
    expect(page.locator("#s-pageviews")).to_have_text("2")

    page.click("#periods button[data-period=today]")
    expect(funnel).to_have_text(
        ["viewed a product1", "added to cart1 (100%)", "started checkout1 (100%)", "bought1 (100%)"], timeout=20_000
    )
    expect(page.locator("#s-pageviews")).to_have_text("1")
    expect(page.locator("h2 .period").first).to_have_text("today")
    assert "period=today" in page.evaluate("location.hash")

    page.reload()  # the address keeps the choice
    expect(page.locator("#periods button.on")).to_have_text("Today")
    expect(page.locator("#s-pageviews")).to_have_text("1", timeout=20_000)
    assert errors == []
    context.close()
