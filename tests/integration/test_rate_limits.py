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


def test_requests_spend_a_leased_chunk_locally_so_most_cost_no_redis_round_trip(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=100, rate_limit_site_per_s=10_000, rate_limit_burst_s=30)

    async def scenario(redis: aioredis.Redis) -> None:
        limiter = RateLimiter(redis, settings)
        s = site("s_lease")
        for _ in range(200):
            assert await refusal(limiter, s, "192.0.2.60", 1) is None
        # The client's bucket leases a second of its rate (100 tokens): two leases pay for 200 events.
        assert limiter.round_trips == 2
        client_bucket = next(k for k in await redis.keys("cp:rl:ip:s_lease:*"))
        assert float(await redis.hget(client_bucket, "tokens")) < 3000 - 200 + 1  # Redis counted the leases

    run(redis_port, scenario)


def test_replicas_leasing_from_one_bucket_never_admit_more_than_it_hands_out(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=10, rate_limit_site_per_s=10_000, rate_limit_burst_s=10)

    async def scenario(redis: aioredis.Redis) -> None:
        replicas = [RateLimiter(redis, settings) for _ in range(3)]
        s = site("s_shared")
        admitted = 0
        for n in range(300):
            if await refusal(replicas[n % 3], s, "192.0.2.70", 1) is None:
                admitted += 1
        # A burst of 100 tokens plus what refills while the loop runs (well under a second).
        assert 100 <= admitted <= 110

    run(redis_port, scenario)


def test_a_refused_client_is_refused_locally_with_retry_after_until_its_bucket_could_refill(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=1, rate_limit_site_per_s=1000, rate_limit_burst_s=5)

    async def scenario(redis: aioredis.Redis) -> None:
        limiter = RateLimiter(redis, settings)
        s = site("s_flood")
        assert await refusal(limiter, s, "192.0.2.80", 5) is None
        first = await refusal(limiter, s, "192.0.2.80", 3)
        trips = limiter.round_trips
        for _ in range(50):
            again = await refusal(limiter, s, "192.0.2.80", 3)
            assert again is not None and (again.status, again.reason, again.retry_after) == (429, "rate_limited_ip", 3)
        assert first is not None and first.retry_after == 3
        assert limiter.round_trips == trips  # the flood never reached Redis
        await asyncio.sleep(1.1)
        assert await refusal(limiter, s, "192.0.2.80", 1) is None  # one token came back: Redis is asked again

    run(redis_port, scenario)


def test_concurrent_requests_wait_for_the_lease_in_flight_instead_of_each_taking_one(redis_port: int) -> None:
    settings = Settings(rate_limit_ip_per_s=100, rate_limit_site_per_s=0, rate_limit_burst_s=10)

    async def scenario(redis: aioredis.Redis) -> None:
        limiter = RateLimiter(redis, settings)
        s = site("s_concurrent")
        # 50 leases of 100 tokens would drain the 1,000-token bucket and refuse most of these.
        refusals = await asyncio.gather(*(refusal(limiter, s, "192.0.2.90", 1) for _ in range(50)))
        assert refusals == [None] * 50
        assert limiter.round_trips == 1

    run(redis_port, scenario)
