"""Ingest's in-memory copy of the site registry, so checking a write key costs no network round trip."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from clickpulse.dependency_wait import wait_for_dependency
from clickpulse.outage_log import OutageLog
from clickpulse.sites import WRITE_KEYS_KEY, Site, SiteRegistry
from ingest.rejection import RequestRejected

log = logging.getLogger(__name__)
SALT_KEY = "cp:cookieless_salt:{day}"
UNKNOWN_KEY_TTL_S = 5.0
UNKNOWN_KEYS_MAX = 100_000


async def wait_for_redis(redis_url: str, timeout_s: float = 60.0) -> None:
    """Ingest cannot tell a write key from a forged one without the registry, so before it listens (a load balancer
    sends it nothing meanwhile) it waits for Redis instead of exiting at the first refused connection."""
    redis = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2.0)
    url = urlsplit(redis_url)
    where = f"{url.hostname}:{url.port or 6379}"  # the URL may carry a password: never log it
    try:
        await wait_for_dependency("Redis", where, "CLICKPULSE_REDIS_URL", redis.ping, (RedisError,), timeout_s)
    finally:
        await redis.aclose()


class SiteCache:
    def __init__(self, redis: aioredis.Redis, refresh_s: float = 1.0) -> None:
        self._redis = redis
        self._registry = SiteRegistry(redis)
        self._refresh_s = refresh_s
        self._outage = OutageLog(log)
        self._by_write_key: dict[str, Site] = {}
        self._unknown: dict[str, float] = {}
        self._version = -1
        self._salt_day = ""
        self.salt = ""
        self._task: asyncio.Task[None] | None = None

    async def by_write_key(self, write_key: str) -> Site | None:
        """In memory for known keys; an unknown key costs one Redis look-up, then is remembered as unknown
        for a while, so a flood of bad keys cannot turn into a flood of look-ups. While Redis is unreachable
        a key not in memory can be neither accepted nor refused: 503 with Retry-After, so senders keep the events."""
        site = self._by_write_key.get(write_key)
        if site is not None:
            return site
        now = time.monotonic()
        if self._unknown.get(write_key, 0.0) > now:
            return None
        try:
            if await self._redis.hexists(WRITE_KEYS_KEY, write_key):
                await self.refresh()
                site = self._by_write_key.get(write_key)
        except RedisError as exc:
            raise RequestRejected(503, "site_registry_unavailable", retry_after=5) from exc
        if site is None:
            if len(self._unknown) > UNKNOWN_KEYS_MAX:
                self._unknown.clear()
            self._unknown[write_key] = now + UNKNOWN_KEY_TTL_S
        return site

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        version = await self._registry.version()
        if version != self._version:
            sites = await self._registry.all()
            self._by_write_key = {s.write_key: s for s in sites if not s.revoked}
            self._version = version
        await self._refresh_salt()

    async def _refresh_salt(self) -> None:
        """One random salt per UTC day, shared by every ingest replica, forgotten after two days."""
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        if day == self._salt_day:
            return
        key = SALT_KEY.format(day=day)
        await self._redis.set(key, secrets.token_hex(16), nx=True, ex=2 * 86400)
        self.salt = (await self._redis.get(key)).decode()
        self._salt_day = day

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except RedisError as exc:  # Redis hiccups must not stop ingest; the cached copy stays valid.
                self._outage.failed("site registry not refreshed, redis unavailable: %r", exc)
            except Exception:
                log.warning("site registry refresh failed", exc_info=True)
