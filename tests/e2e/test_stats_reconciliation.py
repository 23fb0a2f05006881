"""/stats reconciled against figures worked out by hand, as an analyst signs off numbers before marketing uses them:
hand-built visits on two whole UTC days (one across midnight, two at its very edge), a retried batch, a crawler,
a reloaded receipt page sending its order again, and purchases in two currencies and in none."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import httpx

from tests.running_stack import BROWSER_HEADERS, RunningStack

S, MIN, H = 1000, 60_000, 3_600_000
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def event(eid: str, kind: str, ts: int, path: str = "/", **fields: Any) -> dict[str, Any]:
    return {"id": eid, "type": kind, "ts": ts, "url": f"https://shop.test{path}", **fields}


def leave(eid: str, ts: int, engaged_ms: int) -> dict[str, Any]:
    return event(eid, "page_leave", ts, engaged_ms=engaged_ms)


def purchase(eid: str, ts: int, order: str, revenue: float, currency: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {"order_id": order, "revenue": revenue, "items": [{"product_id": "p1"}]}
    if currency:
        props["currency"] = currency
    return event(eid, "purchase", ts, props=props)


def post(
    stack: RunningStack, site: dict[str, str], visitor: str, events: list[dict[str, Any]], agent: str = ""
) -> None:
    # No sent_at: the event times stay exactly as written, to the millisecond of a day's edge.
    body = {"write_key": site["write_key"], "visitor_id": visitor, "events": events}
    headers = {**BROWSER_HEADERS, "User-Agent": agent} if agent else BROWSER_HEADERS
    response = httpx.post(f"{stack.ingest}/collect", content=json.dumps(body), headers=headers, timeout=10)
    assert response.status_code == 200, response.text


def test_stats_of_two_utc_days_match_the_figures_worked_out_by_hand(stack: RunningStack) -> None:
    site = stack.create_site("reconciliation")
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    m = int(midnight.timestamp() * 1000)  # day 2 (yesterday) starts here; day 1 is the day before
    day1, day2 = (midnight - dt.timedelta(days=1)).date().isoformat(), midnight.date().isoformat()
    t = m + H
    post(stack, site, "bounce", [event("a1", "pageview", t, referrer="https://g.test/"), leave("a2", t + 5 * S, 5000)])
    t = m + 2 * H
    reading = [event("b1", "pageview", t), leave("b2", t + 30 * S, 30000), event("b3", "pageview", t + 30 * S, "/p")]
    post(stack, site, "reader", [*reading, leave("b4", t + 90 * S, 50000)])
    night = [event("d1", "pageview", m - 10 * MIN), event("d2", "pageview", m + 10 * MIN, "/b")]
    post(stack, site, "night", [*night, leave("d3", m + 12 * MIN, 20000)])
    t = m + 4 * H
    retried = [event("e1", "pageview", t), event("e2", "pageview", t + 10 * S, "/x"), leave("e3", t + 20 * S, 20000)]
    post(stack, site, "retrier", retried)
    post(stack, site, "retrier", retried)
    post(stack, site, "retrier", [event("e2", "pageview", t + 15 * S, "/x")])  # the same id sent again later
    t = m + 5 * H
    checkout = [event("f1", "pageview", t), event("f2", "identify", t + 5 * S, props={"customer_id": "crm-recon"})]
    receipt = [purchase("f3", t + 10 * S, "o-1", 100, "eur"), event("f4", "pageview", t + 20 * S, "/thanks")]
    reloaded = [purchase("f5", t + 25 * S, "o-1", 100, "EUR"), leave("f6", t + 40 * S, 30000)]  # the same order again
    post(stack, site, "buyer", [*checkout, *receipt, *reloaded])
    t = m + 6 * H
    post(stack, site, "dollars", [event("g1", "pageview", t), purchase("g2", t + 5 * S, "o-2", 50, "USD")])
    t = m + 8 * H
    post(stack, site, "untagged", [event("x1", "pageview", t), purchase("x2", t + 2 * S, "o-3", 7, None)])
    post(stack, site, "crawler", [event("h1", "pageview", m + 7 * H), event("h2", "pageview", m + 7 * H + S, "/p")],
         agent=GOOGLEBOT)  # fmt: skip
    post(stack, site, "edge", [event("k1", "pageview", m - 1, "/before"), event("k2", "pageview", m, "/at")])

    # Day 2: sessions bounce, reader, retrier, buyer, dollars and untagged start in it (night and edge on day 1).
    # Only bounce bounced: one page, 5 s; dollars and untagged had one short page but bought.
    # Durations 5 + 90 + 20 + 40 + 5 + 2 s; engaged 5 + 80 + 20 + 30 + 0 + 0 s.
    day2_figures = {
        "pageviews": 11,  # bounce 1, reader 2, night 1, retrier 2, buyer 2, dollars 1, untagged 1, edge 1
        "visitors": 8,
        "sessions": 6,
        "bounce_rate": 0.1667,
        "avg_session_seconds": 27.0,
        "avg_engaged_seconds": 22.5,
        "conversions": 3,
        "revenue": 157.0,  # the reloaded receipt's order counts once
        "revenue_by_currency": {"EUR": 100.0, "USD": 50.0, "XXX": 7.0},
    }
    stats = wait_for(stack, site, day2_figures, **{"from": day2, "to": day2})
    assert {k: stats.get(k) for k in day2_figures} == day2_figures
    assert (stats["from"], stats["to"]) == (f"{day2}T00:00:00.000Z", f"{day2}T23:59:59.999Z")
    # Day 1 ends a millisecond before day 2: night's and edge's sessions start in it, 22 min and 1 ms long.
    day1_figures = {"pageviews": 2, "visitors": 2, "sessions": 2, "bounce_rate": 0.0, "avg_session_seconds": 660.0}
    day1_stats = wait_for(stack, site, day1_figures, **{"from": day1, "to": day1})  # sessions come after events
    assert {k: day1_stats[k] for k in day1_figures} == day1_figures
    bot_figures = {"pageviews": 13, "visitors": 9, "sessions": 7}
    with_bots = wait_for(stack, site, bot_figures, **{"from": day2, "to": day2, "include_bots": "true"})
    assert {k: with_bots[k] for k in bot_figures} == bot_figures
    instant = stack.stats(site, **{"from": str(m), "to": str(m)})  # both ends inclusive
    assert (instant["pageviews"], instant["visitors"], instant["sessions"]) == (1, 1, 0)
    customer = httpx.get(
        f"{stack.api}/v1/sites/{site['site_id']}/customers/crm-recon",
        headers={"Authorization": f"Bearer {site['read_key']}"},
        timeout=10,
    ).json()
    assert (customer["conversions"], customer["revenue"], customer["revenue_by_currency"]) == (1, 100.0, {"EUR": 100.0})
    # The breakdowns agree: the direct sessions' revenue per currency, and p1's three orders (one of them sent twice).
    (direct,) = [row for row in breakdown(stack, site, "channel", day2)["rows"] if row["value"] == "Direct"]
    assert (direct["sessions"], direct["revenue_by_currency"]) == (5, {"EUR": 100.0, "USD": 50.0, "XXX": 7.0})
    (p1,) = breakdown(stack, site, "product", day2)["rows"]
    assert (p1["value"], p1["purchases"]) == ("p1", 3)


def breakdown(stack: RunningStack, site: dict[str, str], dimension: str, day: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.api}/v1/sites/{site['site_id']}/breakdown/{dimension}",
        params={"from": day, "to": day},
        headers={"Authorization": f"Bearer {site['read_key']}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def wait_for(stack: RunningStack, site: dict[str, str], figures: dict[str, Any], **params: str) -> dict[str, Any]:
    """The range's stats once they show the figures (the loader writes within a second), or the last answer."""
    deadline = time.monotonic() + 20
    while True:
        stats = stack.stats(site, **params)
        if all(stats.get(k) == v for k, v in figures.items()) or time.monotonic() > deadline:
            return stats
        time.sleep(0.5)
