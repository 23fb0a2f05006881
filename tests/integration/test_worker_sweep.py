"""The worker's sweep against real Kafka and Redis: an idle session is closed by the sweep, a worker restarted on
its table sweeps every row it holds (the full sweep of a new generation) without sending their sessions again or
writing their rows again, and a cart left behind is signalled, also to the dashboard's live signals."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import msgspec
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from clickpulse import live_keys as keys
from clickpulse.records import SESSIONS_TOPIC, EnrichedEvent, IntentSignal, Product, Session, session_decoder
from clickpulse.settings import Settings
from clickpulse.sites import SiteRegistry
from stream_jobs.sessionizer import session_id
from tests.kafka_and_redis import kafka_and_redis_at, settings_of, start_worker, stop_worker
from tests.kafka_records import put_events, table_changelog
from tests.running_stack import TEST_PORT_BASE, wait_until

pytestmark = pytest.mark.integration
BASE = TEST_PORT_BASE + 400
# Sessions close after 1 s of silence, and the sweep looks every second.
TIMERS = {"CLICKPULSE_SESSION_GAP_S": "1", "CLICKPULSE_SESSION_GRACE_S": "0", "CLICKPULSE_SESSION_SWEEP_S": "1"}


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, str]]:
    with kafka_and_redis_at(BASE, "cp-sweep-", TIMERS) as env:
        yield env


def pageview(site: str, visitor: str, ts: int) -> EnrichedEvent:
    now = int(time.time() * 1000)
    return EnrichedEvent(event_id=str(uuid.uuid4()), site_id=site, visitor_id=visitor, type="pageview", ts=ts,
                         received_at=now, path=f"/{ts}")  # fmt: skip


def sessions_of(settings: Settings, site: str) -> list[Session]:
    """Every session record of the site on the sessions topic so far, in the order written (one key, one partition)."""

    async def read() -> list[Session]:
        consumer = AIOKafkaConsumer(settings.topic(SESSIONS_TOPIC), bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", group_id=None)  # fmt: skip
        await consumer.start()
        try:
            out: list[Session] = []
            while batches := await consumer.getmany(timeout_ms=1000):
                for records in batches.values():
                    out += [s for s in map(session_decoder.decode, (r.value for r in records)) if s.site_id == site]
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


def changelog_rows_of(settings: Settings, site: str) -> int:
    """How many records of the site's visitors the table's changelog holds."""
    prefix = f"{site}:".encode()
    return sum(1 for record in table_changelog(settings) if (record.key or b"").startswith(prefix))


def test_an_idle_session_closes_by_sweep_and_a_restarted_worker_sends_nothing_again(
    services: dict[str, str],
) -> None:
    settings = settings_of(services)
    site, t0 = f"s{uuid.uuid4().hex[:8]}", int(time.time() * 1000) - 60_000
    worker = start_worker(services)
    try:
        put_events(settings, [pageview(site, "v", t0), pageview(site, "v", t0 + 2_000)])  # two sessions, 2 s apart
        absorbed = session_id(site, "v", t0 + 2_000)
        assert wait_until(lambda: {s.session_id for s in sessions_of(settings, site) if s.closed} >= {absorbed}, 60)
        put_events(settings, [pageview(site, "v", t0 + 1_000)])  # within the gap of both: merges them
        merged = session_id(site, "v", t0)

        def merged_and_closed() -> bool:
            latest = {s.session_id: s for s in sessions_of(settings, site)}
            return latest.keys() == {absorbed, merged} and latest[absorbed].deleted and latest[merged].closed

        assert wait_until(merged_and_closed, 30) is True  # the absorbed one retracted, the merged one closed
        before = sessions_of(settings, site)
    finally:
        stop_worker(worker)
    rows_before = changelog_rows_of(settings, site)  # the stop sent what it had
    worker = start_worker(services)  # a new process, a new generation: the full sweep visits the whole table
    try:
        put_events(settings, [pageview(site, "w", t0 + 10_000)])

        def w_closed() -> bool:  # by a sweep: the first of a generation is the full one, so v's row was swept too
            return any(s.visitor_id == "w" and s.closed for s in sessions_of(settings, site))

        assert wait_until(w_closed, 60) is True
    finally:
        stop_worker(worker)
    assert [s for s in sessions_of(settings, site) if s.visitor_id == "v"] == before
    assert changelog_rows_of(settings, site) == rows_before + 2  # w's row by its event and by its close, v's never


def test_a_cart_left_behind_is_signalled_by_the_sweep_to_the_live_signals_once(services: dict[str, str]) -> None:
    settings = settings_of(services)

    async def site_abandoning_after_a_second() -> str:
        redis = aioredis.Redis.from_url(settings.redis_url)
        try:
            registry = SiteRegistry(redis)
            site = (await registry.create("abandoning")).site_id
            await registry.tune_intent(site, {"abandon_after_ms": 1_000})
            return site
        finally:
            await redis.aclose()

    async def live_signals(site: str) -> list[IntentSignal]:
        redis = aioredis.Redis.from_url(settings.redis_url)
        try:
            items = await redis.lrange(keys.intent_signals(site), 0, -1)
            return [msgspec.json.decode(item, type=IntentSignal) for item in items]
        finally:
            await redis.aclose()

    site = asyncio.run(site_abandoning_after_a_second())  # before the worker starts: it reads the registry then
    now = int(time.time() * 1000)
    cart = EnrichedEvent(event_id=str(uuid.uuid4()), site_id=site, visitor_id="c", type="add_to_cart", ts=now + 1,
                         received_at=now, path="/p", products=[Product("sku-3")])  # fmt: skip
    worker = start_worker(services)
    try:
        put_events(settings, [pageview(site, "c", now), cart])
        # The session closes after its 1 s gap, and the cart is abandoned a second after that: both by the sweep.
        assert wait_until(lambda: asyncio.run(live_signals(site)), 60)
        time.sleep(3)  # more sweeps: the signal stays one
    finally:
        stop_worker(worker)
    (signal,) = asyncio.run(live_signals(site))
    assert (signal.kind, signal.visitor_id, signal.products) == ("abandoned_cart", "c", ["sku-3"])
