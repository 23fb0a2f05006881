"""Live state is best-effort: with Redis unreachable its writes fail quietly, so the worker's batches,
erasures and sweep go on, and the failure is logged once, not once per batch."""

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
                await live.record([event], Counter({"s": 1}), wall_ms=1_000)
            await live.forget("s", "v")
            await live.heartbeat("w1", wall_ms=1_000)
        finally:
            await redis.aclose()

    with caplog.at_level(logging.WARNING, logger="stream_jobs.live_state"):
        asyncio.run(write_while_redis_is_down())
    warnings = [r for r in caplog.records if r.name == "stream_jobs.live_state"]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0].getMessage()
