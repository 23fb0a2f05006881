"""Rate limits in a real Redis: token buckets per site and per client IP, refusals with a wait, site overrides."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from clickpulse.local_stack.redis_server import redis_command
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.rate_limits import RateLimiter
from ingest.rejection import RequestRejected
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration
REDIS_PORT = TEST_PORT_BASE + 320


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    folder = tempfile.mkdtemp(prefix="cp-ratelimit-")
    settings = Settings(redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0", data_dir=Path(folder))
    server = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if not port_free(REDIS_PORT):
                break
            subprocess.run(["sleep", "0.05"], check=True)
        yield REDIS_PORT
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def site(site_id: str, **overrides: float) -> Site:
    return Site(site_id=site_id, name="t", write_key="wk", read_key_sha256="x", created_at=0, **overrides)


async def refusal(limiter: RateLimiter, s: Site, ip: str, cost: int) -> RequestRejected | None:
    try:
        await limiter.admit(s, ip, "salt", cost)
    except RequestRejected as exc:
        return exc
    return None


def run(redis_port: int, scenario: Callable[[aioredis.Redis], Awaitable[None]]) -> None:
    async def wrapped() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{redis_port}/0")
        try:
            await scenario(redis)
        finally:
            await redis.aclose()

    asyncio.run(wrapped())


def test_a_client_past_its_burst_gets_429_with_retry_after_while_another_client_passes(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=2, rate_limit_site_per_s=1000, rate_limit_burst_s=5)

    async def scenario(redis: aioredis.Redis) -> None:
        limiter = RateLimiter(redis, settings)
        s = site("s_ip")
        assert await refusal(limiter, s, "198.51.100.7", 10) is None  # the whole burst of 10 events
        refused = await refusal(limiter, s, "198.51.100.7", 4)
        assert refused is not None and (refused.status, refused.reason) == (429, "rate_limited_ip")
        assert refused.retry_after == 2  # 4 events at 2 events/s
        assert await refusal(limiter, s, "198.51.100.8", 4) is None
        assert not [k for k in await redis.keys("cp:rl:*") if b"198.51" in k]  # no IP address in Redis

    run(redis_port, scenario)


def test_the_site_bucket_is_shared_by_all_clients_and_refills_with_time(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=1000, rate_limit_site_per_s=20, rate_limit_burst_s=1)

    async def scenario(redis: aioredis.Redis) -> None:
        limiter = RateLimiter(redis, settings)
        s = site("s_site")
        assert await refusal(limiter, s, "192.0.2.1", 15) is None
        refused = await refusal(limiter, s, "192.0.2.2", 15)
        assert refused is not None and refused.reason == "rate_limited_site"
        await asyncio.sleep(0.6)  # 12 tokens come back at 20/s: 5 + 12 >= 15
        assert await refusal(limiter, s, "192.0.2.3", 15) is None

    run(redis_port, scenario)


def test_a_refused_request_takes_no_tokens_and_site_overrides_replace_the_defaults(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=1, rate_limit_site_per_s=1, rate_limit_burst_s=3)

    async def scenario(redis: aioredis.Redis) -> None:
        limiter = RateLimiter(redis, settings)
        tight = site("s_tight")
        assert await refusal(limiter, tight, "192.0.2.9", 2) is None
        assert await refusal(limiter, tight, "192.0.2.9", 3) is not None
        assert await refusal(limiter, tight, "192.0.2.9", 1) is None  # the refused 3 took nothing: 1 was left
        generous = site("s_generous", rate_limit_per_s=100, ip_rate_limit_per_s=-1)
        for _ in range(5):
            assert await refusal(limiter, generous, "192.0.2.9", 50) is None  # 300 tokens, no IP bucket at all
        assert len(limiter.buckets(generous, "192.0.2.9", "salt")) == 1

    run(redis_port, scenario)


def test_an_unreachable_redis_admits_requests_and_counts_them_unchecked() -> None:
    unused = TEST_PORT_BASE + 329
    assert port_free(unused)

    async def scenario() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{unused}/0")
        try:
            limiter = RateLimiter(redis, Settings(rate_limit_ip_per_s=1, rate_limit_burst_s=1))
            assert await refusal(limiter, site("s_down"), "192.0.2.50", 100) is None
            assert limiter.unchecked == 1
        finally:
            await redis.aclose()

    asyncio.run(scenario())
