"""The dashboard's breakdown cards in Chromium: each lists what the API's breakdown answers for the last 7 days,
visitor-sent values as text, with no console error."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import page_errors
from tests.running_stack import RunningStack, send_batch

pytestmark = pytest.mark.browser

MARKUP = '<img src=x onerror="window.__ran=1">'
CARDS = ("channel", "source", "entry_page", "country", "device", "product")


def event(kind: str, path: str, **fields: Any) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    return {"id": str(uuid.uuid4()), "type": kind, "ts": ts, "url": f"https://shop.test{path}", **fields}


def breakdown(stack: RunningStack, site: dict[str, str], dimension: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.api}/v1/sites/{site['site_id']}/breakdown/{dimension}",
        params={"limit": 8},
        headers={"Authorization": f"Bearer {site['read_key']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def shown(row: dict[str, Any], kind: str) -> list[str]:
    """A row as its card's list item reads: the value ((none) when empty) and its figure."""
    figure = (
        f"{row['product_views']} · {row['add_to_carts']} · {row['purchases']}"
        if kind == "products"
        else row["visitors"]
    )
    return [row["value"] or "(none)", str(figure)]


def test_the_breakdown_cards_show_what_the_api_answers_as_text(stack: RunningStack, browser: Browser) -> None:
    site = stack.create_site("dashboard-breakdowns")
    sent = {
        "from-google": ([event("pageview", "/", referrer="https://www.google.com/"),
                         event("product_view", "/p/1", props={"product_id": "sku-1"})], {"CF-IPCountry": "DE"}),
        "direct": ([event("pageview", f"/{MARKUP}"), event("product_view", "/p/1", props={"product_id": "sku-1"}),
                    event("add_to_cart", "/p/1", props={"product_id": "sku-1"})], {}),
    }  # fmt: skip
    for visitor, (events, headers) in sent.items():
        assert send_batch(stack.ingest, site, visitor, events, headers=headers) == 200
    stack.wait_for_stats(site, {"pageviews": 2, "sessions": 2})
    answers = {dimension: breakdown(stack, site, dimension) for dimension in CARDS}
    assert [row["value"] for row in answers["entry_page"]["rows"]] == ["/", f"/{MARKUP}"]
    assert shown(answers["product"]["rows"][0], "products") == ["sku-1", "2 · 1 · 0"]

    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page, missing_favicon_counts=True)
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    for dimension in CARDS:
        page.wait_for_selector(f"[data-breakdown={dimension}] li", timeout=20_000)
        items = page.eval_on_selector_all(
            f"[data-breakdown={dimension}] li", "items => items.map(li => [...li.children].map(s => s.textContent))"
        )
        answer = answers[dimension]
        assert items == [shown(row, answer["kind"]) for row in answer["rows"]], dimension
    assert page.eval_on_selector_all("[data-breakdown] img", "images => images.length") == 0
    assert page.evaluate("window.__ran") is None
    assert errors == []
    context.close()
