"""Real Segment SDKs from PyPI and npm, pointed at our ingest, deliver a shopping visit that shows up in /stats."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer
from segment.analytics import Client

from clickpulse.records import EVENTS_TOPIC, EnrichedEvent
from tests.running_stack import RunningStack

NODE_CLIENT = Path(__file__).parent / "segment_node"
SAFARI_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Safari/605.1.15"
)
VISIT_TYPES = ["add_to_cart", "identify", "pageview", "pageview", "pageview", "product_view", "purchase"]
CONTEXT = {"ip": "198.51.100.23", "userAgent": SAFARI_UA}
PRODUCT = {"product_id": "sku-42", "sku": "sku-42", "name": "Lamp", "price": 21.25, "quantity": 2}
# What one visit (a buyer with 2 page views and an order, a browser with 1 page view) must add up to.
EXPECTED_STATS = {"pageviews": 3, "visitors": 2, "conversions": 1, "revenue": 42.5}


def events_of(stack: RunningStack, site_id: str, count: int, timeout_s: float = 30) -> list[EnrichedEvent]:
    """The enriched events of one site as ingest published them to Kafka."""

    async def read() -> list[EnrichedEvent]:
        consumer = AIOKafkaConsumer(
            stack.settings.topic(EVENTS_TOPIC),
            bootstrap_servers=stack.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: dict[str, EnrichedEvent] = {}
        try:
            deadline = time.monotonic() + timeout_s
            while len(found) < count and time.monotonic() < deadline:
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    for m in messages:
                        if m.key and m.key.startswith(f"{site_id}:".encode()):
                            event = msgspec.json.decode(m.value, type=EnrichedEvent)
                            found[event.event_id] = event
        finally:
            await consumer.stop()
        return list(found.values())

    return asyncio.run(read())


def assert_visit_arrived(stack: RunningStack, site: dict[str, str], prefix: str) -> None:
    stats = stack.wait_for_stats(site, EXPECTED_STATS, timeout_s=90)
    assert {k: stats[k] for k in EXPECTED_STATS} == EXPECTED_STATS
    events = events_of(stack, site["site_id"], count=7)
    assert sorted(e.type for e in events) == VISIT_TYPES
    # The visitor's agent from context.userAgent, not the SDK's own; a server SDK is not a bot.
    assert all(e.browser == "Safari" and e.os == "Mac OS X" for e in events), [(e.browser, e.os) for e in events]
    assert not any(e.is_bot for e in events)
    # The visitor's network from context.ip, anonymised; not the SDK's own address.
    assert {e.ip for e in events} == {"198.51.100.0"}
    assert {e.visitor_id for e in events} == {f"{prefix}-buyer", f"{prefix}-browser"}
    purchase = next(e for e in events if e.type == "purchase")
    assert (purchase.revenue, purchase.order_id) == (42.5, f"{prefix}-o1")
    assert [p.product_id for p in purchase.products] == ["sku-42"]


def test_python_sdk_from_pypi_delivers_a_shopping_visit_to_stats(stack: RunningStack) -> None:
    site = stack.create_site("sdk-python")
    prefix = f"py-{uuid.uuid4().hex[:8]}"
    errors: list[str] = []
    client = Client(
        site["write_key"],
        host=stack.ingest,
        gzip=True,  # the SDK's compressed form must work too
        max_retries=2,
        on_error=lambda error, batch: errors.append(repr(error)),
    )
    buyer = f"{prefix}-buyer"
    client.identify(anonymous_id=buyer, user_id=f"{prefix}-crm", traits={"plan": "pro"}, context=CONTEXT)
    client.page(
        anonymous_id=buyer, name="Home", properties={"url": "https://shop.test/", "title": "Home"}, context=CONTEXT
    )
    client.page(anonymous_id=buyer, name="Lamp", properties={"url": "https://shop.test/p/sku-42"}, context=CONTEXT)
    client.track(anonymous_id=buyer, event="Product Viewed", properties=PRODUCT, context=CONTEXT)
    client.track(anonymous_id=buyer, event="Product Added", properties=PRODUCT, context=CONTEXT)
    order = {"order_id": f"{prefix}-o1", "total": 42.5, "currency": "USD", "products": [PRODUCT]}
    client.track(anonymous_id=buyer, event="Order Completed", properties=order, context=CONTEXT)
    client.page(anonymous_id=f"{prefix}-browser", properties={"url": "https://shop.test/"}, context=CONTEXT)
    client.flush()
    client.join()
    assert errors == []
    assert_visit_arrived(stack, site, prefix)


def test_node_sdk_from_npm_delivers_a_shopping_visit_to_stats(stack: RunningStack) -> None:
    site = stack.create_site("sdk-node")
    prefix = f"node-{uuid.uuid4().hex[:8]}"
    sent = subprocess.run(
        ["node", "send_events.mjs", stack.ingest, site["write_key"], prefix],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert_visit_arrived(stack, site, prefix)
