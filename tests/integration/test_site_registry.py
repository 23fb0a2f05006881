"""Sites in real Redis: keys are issued, read keys are stored only hashed, revoked sites stop working."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as aioredis

from clickpulse.local_stack.redis_server import redis_command
from clickpulse.settings import Settings
from clickpulse.sites import SITES_KEY, SiteRegistry
from ingest.rejection import RequestRejected
from ingest.site_cache import SiteCache
from stream_jobs.sessionizer import Windowing
from stream_jobs.site_settings import SiteSettings
from tests.running_stack import TEST_PORT_BASE, RunningStack, port_free

pytestmark = pytest.mark.integration


def test_read_keys_are_hashed_checked_and_revocable(stack: RunningStack) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(stack.settings.redis_url)
        try:
            registry = SiteRegistry(redis)
            created = await registry.create("registry-test", ["https://shop.test"])
            raw = await redis.hget(SITES_KEY, created.site_id)
            assert created.read_key.encode() not in raw
            assert await registry.check_key(created.site_id, "read", created.read_key) is not None
            assert await registry.check_key(created.site_id, "read", "rk_wrong") is None

            cache = SiteCache(redis)
            await cache.refresh()
            site = await cache.by_write_key(created.write_key)
            assert site is not None and site.origins == ["https://shop.test"]

            assert await registry.revoke(created.site_id)
            await cache.refresh()
            assert await cache.by_write_key(created.write_key) is None
            assert await registry.check_key(created.site_id, "read", created.read_key) is None
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_cli_site_create_prints_the_keys_once_and_site_list_shows_the_site_without_them(stack: RunningStack) -> None:
    created = json.loads(stack.clickpulse("site", "create", "listed", "--origin", "https://a.test"))
    assert set(created) == {"site_id", "name", "write_key", "read_key", "admin_key", "origins"}
    assert created["origins"] == ["https://a.test"]
    assert (created["read_key"][:3], created["admin_key"][:3]) == ("rk_", "ak_")
    listing = stack.clickpulse("site", "list")
    assert created["site_id"] in listing and created["write_key"] in listing
    assert created["read_key"] not in listing and created["admin_key"] not in listing


def test_cli_tunes_intent_settings_and_refuses_unknown_or_out_of_range_ones_saving_nothing(stack: RunningStack) -> None:
    created = stack.create_site("tuned")
    out = stack.clickpulse("site", "tune-intent", created["site_id"], "threshold=0.55", "half_life_ms=3600000")
    assert '"threshold": 0.55' in out

    async def stored() -> dict[str, float]:
        redis = aioredis.Redis.from_url(stack.settings.redis_url)
        try:
            site = await SiteRegistry(redis).get(created["site_id"])
            assert site is not None
            return site.intent
        finally:
            await redis.aclose()

    assert asyncio.run(stored()) == {"threshold": 0.55, "half_life_ms": 3600000}
    for pair, says in (("bogus=1", "unknown intent setting"), ("scale=0", "scale"), ("half_life_ms=0.5", "half_life")):
        refused = subprocess.run(
            [sys.executable, "-m", "clickpulse.cli", "site", "tune-intent", created["site_id"], "threshold=0.9", pair],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert refused.returncode != 0 and says in refused.stderr
    assert asyncio.run(stored()) == {"threshold": 0.55, "half_life_ms": 3600000}  # nothing saved


def test_cli_sets_a_webhook_with_a_new_secret_each_time_stops_it_and_refuses_a_url_that_is_not_http(
    stack: RunningStack,
) -> None:
    created = stack.create_site("hooked")
    first = json.loads(stack.clickpulse("site", "webhook", created["site_id"], "https://crm.test/hook"))
    again = json.loads(stack.clickpulse("site", "webhook", created["site_id"], "https://crm.test/hook"))
    assert first["webhook_secret"].startswith("whsec_") and again["webhook_secret"] != first["webhook_secret"]
    assert again["webhook_secret"] not in stack.clickpulse("site", "list")
    stopped = json.loads(stack.clickpulse("site", "webhook", created["site_id"], ""))
    assert stopped == {"site_id": created["site_id"], "webhook_url": "", "webhook_secret": ""}
    for url in ("file:///etc/passwd", "crm.test/hook"):
        refused = subprocess.run(
            [sys.executable, "-m", "clickpulse.cli", "site", "webhook", created["site_id"], url],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert refused.returncode != 0 and "http:// or https://" in refused.stderr


def test_a_new_read_or_admin_key_replaces_the_old_one_and_a_site_made_before_admin_keys_erases_with_none(
    stack: RunningStack,
) -> None:
    created = stack.create_site("rotated")
    site_id = created["site_id"]
    assert created["admin_key"].startswith("ak_") and created["admin_key"] != created["read_key"]
    read = json.loads(stack.clickpulse("site", "new-key", site_id, "read"))["read_key"]
    admin = json.loads(stack.clickpulse("site", "new-key", site_id, "admin"))["admin_key"]

    async def scenario() -> None:
        redis = aioredis.Redis.from_url(stack.settings.redis_url)
        try:
            registry = SiteRegistry(redis)
            assert await registry.check_key(site_id, "read", created["read_key"]) is None
            assert await registry.check_key(site_id, "admin", created["admin_key"]) is None
            assert await registry.check_key(site_id, "read", read) is not None
            assert await registry.check_key(site_id, "admin", admin) is not None
            assert await registry.check_key(site_id, "admin", read) is None  # a read key is no admin key
            # A site stored before admin keys existed: no key erases for it, not even an empty one.
            site = await registry.get(site_id)
            assert site is not None
            before_admin_keys = msgspec.structs.replace(site, admin_key_sha256="")
            await redis.hset(SITES_KEY, site_id, msgspec.json.encode(before_admin_keys))
            assert await registry.check_key(site_id, "admin", admin) is None
            assert await registry.check_key(site_id, "admin", "") is None
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_a_sites_own_session_gap_reaches_the_workers_windowing(stack: RunningStack) -> None:
    created = json.loads(stack.clickpulse("site", "create", "short-gap", "--session-gap-s", "600"))

    async def windowing() -> tuple[int, int]:
        redis = aioredis.Redis.from_url(stack.settings.redis_url)
        try:
            knobs = SiteSettings(redis)
            await knobs.refresh_if_stale()
            default = Windowing(gap_ms=1_800_000, grace_ms=0, max_len_ms=86_400_000)
            return knobs.windowing(created["site_id"], default).gap_ms, knobs.windowing("other", default).gap_ms
        finally:
            await redis.aclose()

    assert asyncio.run(windowing()) == (600_000, 1_800_000)


def test_while_redis_is_down_known_write_keys_still_work_and_unknown_ones_get_503_with_retry_after(
    tmp_path: Path,
) -> None:
    port = TEST_PORT_BASE + 340
    assert port_free(port)
    server = subprocess.Popen(
        redis_command(Settings(redis_url=f"redis://127.0.0.1:{port}/0", data_dir=tmp_path)), stdout=subprocess.DEVNULL
    )

    async def scenario() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            while port_free(port):
                await asyncio.sleep(0.05)
            created = await SiteRegistry(redis).create("outage-test", [])
            cache = SiteCache(redis)
            await cache.refresh()
            server.terminate()
            server.wait(10)
            assert (await cache.by_write_key(created.write_key)).site_id == created.site_id
            with pytest.raises(RequestRejected) as refused:
                await cache.by_write_key("wk_not_in_memory")
            assert (refused.value.status, refused.value.reason, refused.value.retry_after) == (
                503,
                "site_registry_unavailable",
                5,
            )
        finally:
            await redis.aclose()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 10))
    finally:
        server.kill()
        server.wait(10)
