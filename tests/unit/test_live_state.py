"""Live counters are best-effort: with Redis unreachable their writes fail quietly, so the worker's batches and
sweep go on, and the failure is logged once, not once per batch. An erasure's cleanup is not: it waits for Redis."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
import redis.asyncio as aioredis

from clickpulse.records import EnrichedEvent
from stream_jobs.live_state import LiveState
from tests.running_stack import TEST_PORT_BASE, port_free

NOBODY_LISTENS = TEST_PORT_BASE + 999


def test_live_writes_go_on_without_redis_and_warn_once_not_once_per_batch(caplog: pytest.LogCaptureFixture) -> None:
    assert port_free(NOBODY_LISTENS)
    event = EnrichedEvent(event_id="e", site_id="s", visitor_id="v", type="pageview", ts=1_000, received_at=1_000)

    async def write_while_redis_is_down() -> None:
        # A real client against a closed port: every command fails as it does when Redis stops.
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{NOBODY_LISTENS}/0", socket_connect_timeout=2.0)
        live = LiveState(redis)
        try:
            for _ in range(3):
                await live.record([event], Counter({"s": 1}), wall_ms=1_000, signals=[])
        finally:
            await redis.aclose()

    with caplog.at_level(logging.WARNING, logger="stream_jobs.live_state"):
        asyncio.run(write_while_redis_is_down())
    warnings = [r for r in caplog.records if r.name == "stream_jobs.live_state"]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0].getMessage()


def test_forgetting_a_visitor_keeps_trying_while_redis_is_down_instead_of_dropping_the_erasure() -> None:
    assert port_free(NOBODY_LISTENS)

    async def forget_while_redis_is_down() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{NOBODY_LISTENS}/0", socket_connect_timeout=0.5)
        try:
            with pytest.raises(TimeoutError):  # still trying when we stop waiting: it did not give up
                await asyncio.wait_for(LiveState(redis).forget("s", "v"), timeout=2.5)
        finally:
            await redis.aclose()

    asyncio.run(forget_while_redis_is_down())
