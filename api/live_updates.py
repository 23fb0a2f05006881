"""One Redis subscription per API process wakes every open live stream: the stream workers publish a tick on a
site's channel after each batch, and each stream of that site is woken. A subscription per stream held one of the
connection pool's 100 for as long as a dashboard stayed open: past about 94 open dashboards, of all sites together,
every new stream ended as soon as it began and the webhooks could not reach Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from clickpulse import live_keys as keys
from clickpulse.outage_log import OutageLog

log = logging.getLogger(__name__)
RESUBSCRIBE_S = 1.0


class LiveUpdates:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._outage = OutageLog(log)

    @contextlib.contextmanager
    def watch(self, site_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the site's live state changes, for as long as the block runs."""
        tick = asyncio.Event()
        self._waiting.setdefault(site_id, set()).add(tick)
        try:
            yield tick
        finally:
            waiting = self._waiting[site_id]
            waiting.discard(tick)
            if not waiting:
                del self._waiting[site_id]

    async def run(self, stop: asyncio.Event) -> None:
        """Reads every site's channel until stop; while Redis is away it subscribes again each second (the streams
        meanwhile end on their own snapshot's Redis error, and browsers reconnect)."""
        while not stop.is_set():
            try:
                await self._relay(stop)
            except RedisError as exc:
                self._outage.failed("live updates wait for Redis: %r", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RESUBSCRIBE_S)

    async def _relay(self, stop: asyncio.Event) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.psubscribe(keys.UPDATES_PATTERN)
            while not stop.is_set():
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    for tick in self._waiting.get(keys.site_of_updates_channel(message["channel"].decode()), ()):
                        tick.set()
        finally:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()
