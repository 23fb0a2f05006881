"""The dashboard's purchase-intent panel in Chromium: a signal shows live, with who it is about (the CRM id once the
visitor identified), the products, the score and the model's reasons."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_intent_feed import shopping
from tests.running_stack import RunningStack, send_batch

pytestmark = pytest.mark.browser


def test_a_signal_shows_on_the_dashboard_as_it_happens_with_the_customer_score_and_reasons(
    stack: RunningStack, browser: Browser
) -> None:
    site = stack.create_site("dashboard-intent")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    page.wait_for_selector("#status.on", timeout=20_000)
    assert page.locator("#signals li").count() == 0
    send_batch(stack.ingest, site, "buyer-7", shopping(int(time.time() * 1000), "sku-9", customer="crm-77"))
    signal = page.locator("#signals li").first
    expect(signal).to_contain_text("high intent  crm-77  sku-9", timeout=30_000)
    expect(signal).to_contain_text("added sku-9 to cart")
    score = float(signal.locator("span").last.text_content() or "")
    assert 0.7 <= score <= 1
    context.close()
