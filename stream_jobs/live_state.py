"""Live state in Redis: what the dashboard shows as "now", written once per batch.

Keys are per site so a Redis cluster can shard them. Minute buckets expire on their own. The counters are
best-effort: a Redis error is logged (at most once a minute) and the worker goes on, since sessions, signals
and the warehouse must not wait for Redis. An erasure's cleanup is the exception: the event feed and the latest
signals have no expiry, so forget waits for Redis, and then has Redis rewrite its append-only file
(stream_jobs/append_only_file.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from clickpulse import live_keys as keys
from clickpulse.live_keys import FeedItem
from clickpulse.outage_log import OutageLog
from clickpulse.records import EnrichedEvent, IntentSignal
from stream_jobs.append_only_file import AppendOnlyFileRewrite

BUCKET_TTL_S = 2 * 3600
LIVE_WINDOW_MS = keys.LIVE_WINDOW_MINUTES * keys.MINUTE_MS
FORGET_RETRY_S = 1.0
log = logging.getLogger(__name__)


class Whose(msgspec.Struct):
    """The visitor a feed item or a signal is about: all an erasure reads of either."""

    visitor_id: str


whose_decoder = msgspec.json.Decoder(Whose)


class LiveState:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.file_rewrite = AppendOnlyFileRewrite(redis)
        self._outage = OutageLog(log)

    async def record(
        self, events: list[EnrichedEvent], late: Counter[str], wall_ms: int, signals: list[IntentSignal]
    ) -> None:
        """Fold one batch (or one sweep's signals) into the live keys with one round trip."""
        try:
            await self._record(events, late, wall_ms, signals)
        except RedisError as exc:
            self._redis_failed("record a batch", exc)

    async def forget(self, site_id: str, visitor_id: str) -> None:
        """An erased visitor leaves the live state: their presence, their items in the feed and their signals.
        Unlike the counters this is not best-effort (those lists keep no expiry): while Redis is down it tries
        again, and the erasures behind it wait."""
        while True:
            try:
                await self._forget(site_id, visitor_id)
                self.file_rewrite.after_erasure()
                return
            except RedisError as exc:
                self._redis_failed("forget a visitor", exc)
                await asyncio.sleep(FORGET_RETRY_S)

    def _redis_failed(self, doing: str, exc: RedisError) -> None:
        self._outage.failed("live state in Redis not updated (last failed write: %s): %r", doing, exc)

    async def _record(
        self, events: list[EnrichedEvent], late: Counter[str], wall_ms: int, signals: list[IntentSignal]
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        last_seen: dict[str, dict[str, int]] = defaultdict(dict)
        pageviews: Counter[tuple[str, int]] = Counter()
        pages: Counter[tuple[str, int, str]] = Counter()
        products: Counter[tuple[str, int, str]] = Counter()
        feed: dict[str, list[bytes]] = defaultdict(list)
        for e in events:
            if e.is_bot or e.ts < wall_ms - LIVE_WINDOW_MS:
                continue
            minute = e.ts // keys.MINUTE_MS
            seen = last_seen[e.site_id]
            seen[e.visitor_id] = max(seen.get(e.visitor_id, 0), min(e.ts, wall_ms))
            if e.type == "pageview":
                pageviews[(e.site_id, minute)] += 1
                pages[(e.site_id, minute, e.path)] += 1
            elif e.type == "product_view" and e.products:
                products[(e.site_id, minute, e.products[0].product_id)] += 1
            if e.type in ("pageview", "product_view", "add_to_cart", "purchase", "identify"):
                item = FeedItem(
                    e.type, e.path, e.visitor_id, e.ts, e.country, e.products[0].product_id if e.products else ""
                )
                feed[e.site_id].append(msgspec.json.encode(item))
        for site, seen in last_seen.items():
            pipe.zadd(keys.active_visitors(site), seen, gt=True)
            pipe.zremrangebyscore(keys.active_visitors(site), 0, wall_ms - LIVE_WINDOW_MS)
        for (site, minute), n in pageviews.items():
            pipe.incrby(keys.pageviews_minute(site, minute), n)
            pipe.expire(keys.pageviews_minute(site, minute), BUCKET_TTL_S)
        for what, counts in (("pages", pages), ("products", products)):
            buckets = set()
            for (site, minute, member), n in counts.items():
                pipe.zincrby(keys.top_minute(site, what, minute), n, member)
                buckets.add(keys.top_minute(site, what, minute))
            for bucket in buckets:
                pipe.expire(bucket, BUCKET_TTL_S)
                pipe.zremrangebyrank(bucket, 0, -keys.TOP_KEPT_PER_MINUTE - 1)
        raised: dict[str, list[bytes]] = defaultdict(list)
        for signal in signals:
            raised[signal.site_id].append(msgspec.json.encode(signal))
        for key_of, lists, kept in (
            (keys.feed, feed, keys.FEED_LENGTH),
            (keys.intent_signals, raised, keys.SIGNALS_KEPT),
        ):
            for site, items in lists.items():
                pipe.lpush(key_of(site), *items[-kept:])
                pipe.ltrim(key_of(site), 0, kept - 1)
        for site in feed.keys() | raised.keys():
            pipe.publish(keys.updates_channel(site), b"tick")
        for site, n in late.items():
            pipe.incrby(keys.late_events(site), n)
        if len(pipe):
            await pipe.execute()

    async def _forget(self, site_id: str, visitor_id: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(keys.active_visitors(site_id), visitor_id)
        for key in (keys.feed(site_id), keys.intent_signals(site_id)):
            for item in await self.redis.lrange(key, 0, -1):
                if whose_decoder.decode(item).visitor_id == visitor_id:
                    pipe.lrem(key, 0, item)  # by value: items pushed meanwhile stay
        pipe.publish(keys.updates_channel(site_id), b"tick")
        await pipe.execute()
