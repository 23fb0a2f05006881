"""While Redis is down, ingest goes on (rate limits unchecked, the cached site registry) and says so once a minute
with a count, not once per request or per refresh with a traceback: a flood of log lines just when it matters."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from clickpulse.local_stack.ports import REDIS
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.rate_limits import RateLimiter
from ingest.site_cache import SiteCache
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration
REDIS_PORT = TEST_PORT_BASE + 820 + REDIS


def warnings_of(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno >= logging.WARNING]


def test_requests_admitted_unchecked_while_redis_is_down_are_logged_once_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert port_free(REDIS_PORT)
    site = Site(site_id="s_down", name="t", write_key="wk", read_key_sha256="x", created_at=0)

    async def admit_while_redis_is_down() -> RateLimiter:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{REDIS_PORT}/0")
        try:
            # A burst of one event: every request needs a lease, so every one of them asks Redis.
            limiter = RateLimiter(redis, Settings(rate_limit_ip_per_s=1, rate_limit_burst_s=1))
            for i in range(50):
                await limiter.admit(site, f"192.0.2.{i}", "salt", 1)
            return limiter
        finally:
            await redis.aclose()

    with caplog.at_level(logging.WARNING, logger="ingest.rate_limits"):
        limiter = asyncio.run(admit_while_redis_is_down())
    assert limiter.unchecked == 50
    warned = warnings_of(caplog, "ingest.rate_limits")
    assert len(warned) == 1 and "redis unavailable" in warned[0].getMessage()


def test_the_site_registry_refreshes_failing_while_redis_is_down_are_logged_once_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert port_free(REDIS_PORT)
    settings = Settings(redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0", data_dir=tmp_path)
    server = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)

    async def refresh_across_an_outage() -> None:
        while port_free(REDIS_PORT):
            await asyncio.sleep(0.05)
        redis = aioredis.Redis.from_url(settings.redis_url)
        cache = SiteCache(redis, refresh_s=0.2)
        try:
            await cache.start()
            server.terminate()
            await asyncio.to_thread(server.wait, 10)
            await asyncio.sleep(2.0)  # about ten failed refreshes
        finally:
            await cache.stop()
            await redis.aclose()

    try:
        with caplog.at_level(logging.WARNING, logger="ingest.site_cache"):
            asyncio.run(refresh_across_an_outage())
    finally:
        server.kill()
        server.wait()
    warned = warnings_of(caplog, "ingest.site_cache")
    assert len(warned) == 1 and warned[0].exc_info is None
    assert "redis unavailable" in warned[0].getMessage()
