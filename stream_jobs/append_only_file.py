"""Erased feed items and signals out of Redis's append-only file, not only out of its memory.

An erasure removes the visitor's feed items and latest signals from Redis's memory, but its append-only file keeps
the commands that wrote them until Redis rewrites the file, which by default waits until the file has doubled past
64 MB: on a quiet site, never. After an erasure the worker asks Redis for a rewrite (BGREWRITEAOF), at most once per
interval, so what an erasure removed leaves Redis's disk within about that long. A Redis without an
append-only file is left alone: a rewrite would create one.
"""

from __future__ import annotations

import asyncio
import logging
import math

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from clickpulse.outage_log import OutageLog

log = logging.getLogger(__name__)
REWRITE_INTERVAL_S = 60.0
# A rewrite already running may have forked before the erasure's cleanup, so its file can still hold the items.
BUSY_RETRY_S = 5.0


class AppendOnlyFileRewrite:
    def __init__(self, redis: aioredis.Redis, interval_s: float = REWRITE_INTERVAL_S) -> None:
        self.redis = redis
        self.interval_s = interval_s
        self.rewrites = 0
        self._last = -math.inf
        self._due: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None
        self._refused = False
        self._outage = OutageLog(log)

    def after_erasure(self) -> None:
        """Called once an erasure's cleanup is in Redis: a rewrite that starts later holds none of what it removed."""
        if self._refused or self._due is not None:
            return
        loop = asyncio.get_running_loop()
        self._due = loop.call_later(max(0.0, self._last + self.interval_s - loop.time()), self._start)

    def _start(self) -> None:
        self._due = None
        self._running = asyncio.get_running_loop().create_task(self._rewrite())

    async def _rewrite(self) -> None:
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        try:
            persistence = await self.redis.info("persistence")
            if not persistence.get("aof_enabled"):
                return
            await self.redis.bgrewriteaof()
            self.rewrites += 1
        except ResponseError as exc:
            if "in progress" in str(exc):
                self._due = loop.call_later(BUSY_RETRY_S, self._start)
                return
            # Managed Redis services often disable the command; README says what that leaves on their disks.
            self._refused = True
            log.warning("Redis refused BGREWRITEAOF (%s): erased feed items stay in its append-only file until "
                        "Redis rewrites it on its own", exc)  # fmt: skip
        except RedisError as exc:
            self._outage.failed("Redis's append-only file not rewritten after an erasure: %r", exc)
            self.after_erasure()
