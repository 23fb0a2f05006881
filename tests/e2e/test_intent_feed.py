"""Purchase intent end to end: behaviour in, signals with reasons out of /intent, paged by a cursor
that neither repeats nor skips while new signals arrive; identify links the visitor to a customer."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from api.intent_feed import decode_cursor, encode_cursor
from tests.running_stack import RunningStack, send_batch, wait_until


def shopping(ts: int, product: str, customer: str = "") -> list[dict[str, Any]]:
    def e(type_: str, offset: int, **fields: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "type": type_,
            "ts": ts + offset,
            "url": f"https://shop.test/{product}",
            **fields,
        }

    events = [
        e("pageview", 0),
        e("product_view", 1, props={"product_id": product, "category": "shoes", "price": 99}),
        e("product_view", 2, props={"product_id": product, "category": "shoes", "price": 99}),
        e("add_to_cart", 3, props={"product_id": product, "price": 99}),
        e("checkout_start", 4, props={"value": 99}),
    ]
    if customer:
        events.insert(1, e("identify", 1, props={"customer_id": customer}))
    return events


def feed_page(stack: RunningStack, site: dict[str, str], cursor: str | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    response = httpx.get(
        f"{stack.api}/v1/sites/{site['site_id']}/intent",
        params=params,
        headers={"Authorization": f"Bearer {site['read_key']}"},
    )
    response.raise_for_status()
    return response.json()


def test_high_intent_signals_arrive_with_reasons_and_the_customer(stack: RunningStack) -> None:
    site = stack.create_site("intent")
    now = int(time.time() * 1000)
    send_batch(stack.ingest, site, "buyer-1", shopping(now, "sku-9", customer="crm-77"))

    def signals() -> list[dict[str, Any]]:
        return feed_page(stack, site, None, 10)["signals"]

    found = wait_until(signals, timeout_s=60)
    assert found, "no signal arrived"
    (signal,) = found
    assert signal["kind"] == "high_intent" and signal["visitor_id"] == "buyer-1"
    assert signal["customer_id"] == "crm-77" and signal["products"] == ["sku-9"]
    assert 0.7 <= signal["score"] <= 1 and "added sku-9 to cart" in signal["reasons"]
    assert signal["at"].endswith("Z")


def test_the_live_snapshot_lists_the_latest_signals_newest_first_as_the_feed_has_them(stack: RunningStack) -> None:
    # The dashboard's intent panel reads them from Redis with the rest of "now", not from the warehouse.
    site = stack.create_site("intent-live")
    headers = {"Authorization": f"Bearer {site['read_key']}"}

    def live() -> list[dict[str, Any]]:
        url = f"{stack.api}/v1/sites/{site['site_id']}/realtime"
        return httpx.get(url, headers=headers).json()["intent_signals"]  # type: ignore[no-any-return]

    for n, visitor in enumerate(("first", "second")):
        send_batch(stack.ingest, site, visitor, shopping(int(time.time() * 1000), f"sku-{n}"))
        assert wait_until(lambda n=n: len(live()) == n + 1, timeout_s=60), live()
    assert [signal["visitor_id"] for signal in live()] == ["second", "first"]
    assert wait_until(lambda: len(feed_page(stack, site, None, 10)["signals"]) == 2, timeout_s=60)
    by_id = {signal["id"]: signal for signal in feed_page(stack, site, None, 10)["signals"]}
    assert {signal["id"]: signal for signal in live()} == by_id


def test_paging_never_repeats_or_skips_while_new_signals_arrive(stack: RunningStack) -> None:
    site = stack.create_site("intent-paging")
    now = int(time.time() * 1000)
    for n in range(12):
        send_batch(stack.ingest, site, f"v{n}", shopping(now, f"p{n}"))
    assert wait_until(lambda: len(feed_page(stack, site, None, 100)["signals"]) == 12, timeout_s=60)

    seen: list[str] = []
    cursor = None
    for page_number in range(40):
        page = feed_page(stack, site, cursor, 5)
        seen += [s["id"] for s in page["signals"]]
        cursor = page["next_cursor"]
        if page_number == 1:  # more arrive while the client is paging
            for n in range(12, 20):
                send_batch(stack.ingest, site, f"v{n}", shopping(now, f"p{n}"))
        if len(seen) >= 20:
            break
        if not page["signals"]:
            time.sleep(1)
    assert len(seen) == len(set(seen)) == 20
    assert feed_page(stack, site, cursor, 5)["signals"] == []
    assert (
        httpx.get(
            f"{stack.api}/v1/sites/{site['site_id']}/intent",
            params={"cursor": "not-a-cursor"},
            headers={"Authorization": f"Bearer {site['read_key']}"},
        ).status_code
        == 400
    )


def test_a_cursor_past_where_the_feed_ends_reads_it_again_from_its_start_and_says_so(stack: RunningStack) -> None:
    # Such a cursor (the data was reset and its offsets start again, or the cursor was made by hand) waited at its
    # offsets: every page was empty, with nothing said, until new signals passed them.
    site = stack.create_site("intent-past-the-end")
    now = int(time.time() * 1000)
    for n in range(4):
        send_batch(stack.ingest, site, f"v{n}", shopping(now, f"p{n}"))
    assert wait_until(lambda: len(feed_page(stack, site, None, 100)["signals"]) == 4, timeout_s=60)
    first = feed_page(stack, site, None, 100)
    assert first["cursor_reset"] is False
    read = decode_cursor(first["next_cursor"], site["site_id"])

    beyond = feed_page(stack, site, encode_cursor(site["site_id"], {p: 10**12 for p in read}), 100)
    assert beyond["cursor_reset"] is True
    assert sorted(s["id"] for s in beyond["signals"]) == sorted(s["id"] for s in first["signals"])
    after = feed_page(stack, site, beyond["next_cursor"], 100)
    assert (after["signals"], after["cursor_reset"]) == ([], False)
    # A partition the topic does not have is past its end too; the others are read on from the cursor.
    elsewhere = feed_page(stack, site, encode_cursor(site["site_id"], {**read, 999: 0}), 100)
    assert (elsewhere["signals"], elsewhere["cursor_reset"]) == ([], True)
