"""Breakdowns and funnels against the real stack: hand-built traffic in through ingest, exact figures out."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.running_stack import RunningStack, send_batch

MIN_MS = 60_000
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
Site = dict[str, str]


def event(kind: str, ts: int, path: str, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "ts": ts, "url": f"https://shop.test{path}", **fields}


def product(kind: str, ts: int, path: str, product_id: str) -> dict[str, Any]:
    return event(kind, ts, path, props={"product_id": product_id, "price": 50})


@pytest.fixture(scope="module")
def shop(stack: RunningStack) -> Site:
    """Four visitors and a crawler, all within the last half hour:
    v1 from Google (DE, desktop) goes home -> /product/1 -> cart -> buys p1 for 50, 10 minutes after arriving;
    v2 comes direct (FR, phone) and bounces on the home page;
    v3 comes from the newsletter (DE, desktop) on /product/2, views p2, then goes home;
    v4 comes direct (no country, phone) on /blog, goes home, then /product/2 and views p2;
    a Googlebot (US) requests the home page and the cart."""
    site = stack.create_site("breakdowns")
    t = int(time.time() * 1000) - 30 * MIN_MS
    purchase = {"order_id": "o-1", "revenue": 50, "currency": "EUR", "items": [{"product_id": "p1", "price": 50}]}
    visits: list[tuple[str, dict[str, str], list[dict[str, Any]]]] = [
        ("v1", {"CF-IPCountry": "DE"}, [
            event("pageview", t, "/", referrer="https://www.google.com/"),
            event("pageview", t + MIN_MS, "/product/1"),
            product("product_view", t + MIN_MS + 1000, "/product/1", "p1"),
            product("add_to_cart", t + 2 * MIN_MS, "/product/1", "p1"),
            event("pageview", t + 2 * MIN_MS + 1000, "/cart"),
            event("purchase", t + 10 * MIN_MS, "/cart", props=purchase),
        ]),
        ("v2", {"CF-IPCountry": "FR", "User-Agent": IPHONE}, [event("pageview", t, "/")]),
        ("v3", {"CF-IPCountry": "DE"}, [
            event("pageview", t, "/product/2?utm_source=newsletter&utm_medium=email&utm_campaign=nov"),
            product("product_view", t + 1000, "/product/2", "p2"),
            event("pageview", t + MIN_MS, "/"),
        ]),
        ("v4", {"User-Agent": IPHONE}, [
            event("pageview", t, "/blog"),
            event("pageview", t + MIN_MS, "/"),
            event("pageview", t + 2 * MIN_MS, "/product/2"),
            product("product_view", t + 2 * MIN_MS + 1000, "/product/2", "p2"),
        ]),
        ("bot", {"CF-IPCountry": "US", "User-Agent": GOOGLEBOT}, [
            event("pageview", t, "/"), event("pageview", t + 1000, "/cart"),
        ]),
    ]  # fmt: skip
    for visitor, headers, events in visits:
        assert send_batch(stack.ingest, site, visitor, events, headers=headers) == 200
    # Every session in its final form: v1 converted, v2 alone bounced.
    settled = {"pageviews": 9, "visitors": 4, "sessions": 4, "bounce_rate": 0.25, "conversions": 1, "revenue": 50.0}
    stats = stack.wait_for_stats(site, settled)
    assert {figure: stats[figure] for figure in settled} == settled
    # The crawler's session may land a moment after the others.
    with_bots = stack.wait_for_stats(site, {"pageviews": 11, "sessions": 5}, include_bots="true")
    assert (with_bots["pageviews"], with_bots["sessions"]) == (11, 5)
    return site


def ask(stack: RunningStack, site: Site, route: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{stack.api}/v1/sites/{site['site_id']}/{route}",
        params=params,
        headers={"Authorization": f"Bearer {site['read_key']}"},
        timeout=30,
    )


def rows(stack: RunningStack, site: Site, dimension: str, **params: Any) -> list[dict[str, Any]]:
    response = ask(stack, site, f"breakdown/{dimension}", **params)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def visitors_by(stack: RunningStack, site: Site, dimension: str) -> list[tuple[str, int]]:
    return [(row["value"], row["visitors"]) for row in rows(stack, site, dimension)]


def session_row(
    value: str, visitors: int, bounce_rate: float = 0.0, conversions: int = 0, revenue: float = 0.0
) -> dict[str, Any]:
    """A row of a session dimension in this traffic, where every visitor has one session and v1 paid in EUR."""
    return {"value": value, "visitors": visitors, "sessions": visitors, "bounce_rate": bounce_rate,
            "conversions": conversions, "revenue": revenue,
            "revenue_by_currency": {"EUR": revenue} if revenue else {}}  # fmt: skip


def test_sessions_break_down_by_where_they_came_from_and_where_they_entered(stack: RunningStack, shop: Site) -> None:
    # Most visitors first; ties by value.
    assert rows(stack, shop, "channel") == [
        session_row("Direct", 2, bounce_rate=0.5),
        session_row("Email", 1),
        session_row("Organic Search", 1, conversions=1, revenue=50.0),
    ]
    assert rows(stack, shop, "source") == [
        session_row("", 2, bounce_rate=0.5),
        session_row("Google", 1, conversions=1, revenue=50.0),
        session_row("newsletter", 1),
    ]
    assert visitors_by(stack, shop, "medium") == [("", 2), ("email", 1), ("organic", 1)]
    assert visitors_by(stack, shop, "campaign") == [("", 3), ("nov", 1)]
    assert rows(stack, shop, "entry_page") == [
        session_row("/", 2, bounce_rate=0.5, conversions=1, revenue=50.0),
        session_row("/blog", 1),
        session_row("/product/2", 1),
    ]
    assert visitors_by(stack, shop, "exit_page") == [("/", 2), ("/cart", 1), ("/product/2", 1)]


def test_sessions_break_down_by_country_device_browser_and_os(stack: RunningStack, shop: Site) -> None:
    assert rows(stack, shop, "country") == [
        session_row("DE", 2, conversions=1, revenue=50.0),
        session_row("", 1),
        session_row("FR", 1, bounce_rate=1.0),
    ]
    assert rows(stack, shop, "device") == [
        session_row("desktop", 2, conversions=1, revenue=50.0),
        session_row("mobile", 2, bounce_rate=0.5),
    ]
    assert visitors_by(stack, shop, "browser") == [("Chrome", 2), ("Mobile Safari", 2)]
    assert visitors_by(stack, shop, "os") == [("Linux", 2), ("iOS", 2)]


def test_pages_break_down_by_page_views_and_products_by_views_carts_and_purchases(
    stack: RunningStack, shop: Site
) -> None:
    assert rows(stack, shop, "page") == [
        {"value": "/", "pageviews": 4, "visitors": 4},
        {"value": "/product/2", "pageviews": 2, "visitors": 2},
        {"value": "/blog", "pageviews": 1, "visitors": 1},
        {"value": "/cart", "pageviews": 1, "visitors": 1},
        {"value": "/product/1", "pageviews": 1, "visitors": 1},
    ]
    assert rows(stack, shop, "product") == [
        {"value": "p2", "product_views": 2, "add_to_carts": 0, "purchases": 0, "visitors": 2},
        {"value": "p1", "product_views": 1, "add_to_carts": 1, "purchases": 1, "visitors": 1},
    ]


def test_the_rows_and_other_add_up_to_stats(stack: RunningStack, shop: Site) -> None:
    stats = stack.stats(shop)
    channels = ask(stack, shop, "breakdown/channel", limit=1).json()
    assert channels["rows"] == [session_row("Direct", 2, bounce_rate=0.5)]
    assert channels["other"] == {"values": 2, "visitors": 2, "sessions": 2, "bounce_rate": 0.0, "conversions": 1,
                                 "revenue": 50.0, "revenue_by_currency": {"EUR": 50.0}}  # fmt: skip
    summed = channels["rows"] + [channels["other"]]
    for figure in ("sessions", "conversions", "revenue"):
        assert sum(row[figure] for row in summed) == stats[figure], figure
    assert [row["revenue_by_currency"] for row in summed] == [{}, stats["revenue_by_currency"]]
    pages = ask(stack, shop, "breakdown/page", limit=1).json()
    # A visitor of several other pages counts once there: v1, v3 and v4.
    assert pages["other"] == {"values": 4, "pageviews": 5, "visitors": 3}
    assert pages["rows"][0]["pageviews"] + pages["other"]["pageviews"] == stats["pageviews"]


def test_bots_are_left_out_unless_asked_for(stack: RunningStack, shop: Site) -> None:
    assert "US" not in [value for value, _ in visitors_by(stack, shop, "country")]
    countries = rows(stack, shop, "country", include_bots="true")
    assert ("US", 1) in [(row["value"], row["visitors"]) for row in countries]
    pages = rows(stack, shop, "page", include_bots="true")
    assert pages[:2] == [{"value": "/", "pageviews": 5, "visitors": 5}, {"value": "/cart", "pageviews": 2,
                                                                         "visitors": 2}]  # fmt: skip


def test_a_funnel_counts_visitors_reaching_each_step_in_order_within_the_window(
    stack: RunningStack, shop: Site
) -> None:
    steps = ["/", "/product/*", "/cart", "purchase"]
    day = ask(stack, shop, "funnel", step=steps, window="1d")
    assert day.status_code == 200, day.text
    # v3 saw a product before the home page, not after it; the crawler is no visitor.
    assert [(s["step"], s["visitors"], s["conversion_from_previous"], s["conversion_from_first"])
            for s in day.json()["steps"]] == [("/", 4, None, 1.0), ("/product/*", 2, 0.5, 0.5), ("/cart", 1, 0.5, 0.25),
                                              ("purchase", 1, 1.0, 0.25)]  # fmt: skip
    # v1 bought 10 minutes after arriving: outside a 5-minute window.
    short = ask(stack, shop, "funnel", step=steps, window="5m").json()
    assert (short["window_seconds"], [s["visitors"] for s in short["steps"]]) == (300, [4, 2, 1, 0])
    by_event = ask(stack, shop, "funnel", step=["product_view", "add_to_cart", "purchase"]).json()
    assert [s["visitors"] for s in by_event["steps"]] == [3, 1, 1]


def test_a_bad_dimension_step_or_window_is_400_saying_what_is_allowed_and_a_bad_limit_422(
    stack: RunningStack, shop: Site
) -> None:
    for limit in (0, 101):  # out of its range, as every route's parameters: 422
        response = ask(stack, shop, "breakdown/page", limit=limit)
        assert (response.status_code, response.json()["error"]) == (422, "invalid_parameter"), response.text
    cases = [
        ("breakdown/colour", {}, "bad_dimension"),
        ("breakdown/source; DROP TABLE events", {}, "bad_dimension"),
        ("funnel", {"step": ["/"]}, "bad_step"),
        ("funnel", {"step": ["/", "teleport"]}, "bad_step"),
        ("funnel", {"step": ["/", "/cart"], "window": "forever"}, "bad_window"),
        ("funnel", {"step": ["/", "/cart"], "window": "100d"}, "bad_window"),
    ]
    for route, params, error in cases:
        response = ask(stack, shop, route, **params)
        assert (response.status_code, response.json()["error"]) == (400, error), (route, params, response.text)
    detail = ask(stack, shop, "breakdown/colour").json()["detail"]
    assert all(name in detail for name in ("channel", "entry_page", "country", "page", "product")), detail
