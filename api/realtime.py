"""Reads the live state stream_jobs keeps in Redis: "now" answers without touching ClickHouse."""

from __future__ import annotations

import time

import msgspec
import redis.asyncio as aioredis

from api.intent_feed import signal_answer
from api.time_range import utc_iso_ms
from clickpulse import live_keys as keys
from clickpulse.live_keys import FeedItem
from clickpulse.records import IntentSignal

TOP_N = 10
feed_item_decoder = msgspec.json.Decoder(FeedItem)
signal_decoder = msgspec.json.Decoder(IntentSignal)


class RealtimeReader:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def snapshot(self, site_id: str) -> dict[str, object]:
        now = int(time.time() * 1000)
        this_minute = now // keys.MINUTE_MS
        minutes = list(range(this_minute - keys.LIVE_WINDOW_MINUTES + 1, this_minute + 1))
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcount(keys.active_visitors(site_id), now - keys.ACTIVE_WINDOW_MS, "+inf")
        pipe.mget([keys.pageviews_minute(site_id, m) for m in minutes])
        for what in ("pages", "products"):
            for m in minutes:
                pipe.zrange(keys.top_minute(site_id, what, m), 0, -1, withscores=True)
        pipe.lrange(keys.feed(site_id), 0, 19)
        pipe.lrange(keys.intent_signals(site_id), 0, keys.SIGNALS_KEPT - 1)
        pipe.get(keys.late_events(site_id))
        results = await pipe.execute()
        active, per_minute = results[0], results[1]
        tops = results[2 : 2 + 2 * len(minutes)]
        feed, signals, late = results[-3:]
        return {
            "site_id": site_id,
            "at": utc_iso_ms(now),
            "active_visitors": int(active),
            "pageviews_per_minute": [
                {"minute": utc_iso_ms(m * keys.MINUTE_MS), "pageviews": int(v or 0)}
                for m, v in zip(minutes, per_minute, strict=True)
            ],
            "pageviews_last_30_min": sum(int(v or 0) for v in per_minute),
            "top_pages": _top(tops[: len(minutes)]),
            "top_products": _top(tops[len(minutes) :]),
            "recent_events": [_feed_event(item) for item in feed],
            "intent_signals": _signals(signals),
            "late_events": int(late or 0),
        }


def _top(buckets: list[list[tuple[bytes, float]]]) -> list[dict[str, object]]:
    totals: dict[str, float] = {}
    for bucket in buckets:
        for member, score in bucket:
            name = member.decode()
            totals[name] = totals.get(name, 0) + score
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    return [{"name": name, "count": int(count)} for name, count in ranked]


def _feed_event(item: bytes) -> dict[str, object]:
    """A feed item as the API answers it: its time in ISO 8601 like every route's, not the worker's epoch ms."""
    event = msgspec.structs.asdict(feed_item_decoder.decode(item))
    event["ts"] = utc_iso_ms(event["ts"])
    return event


def _signals(items: list[bytes]) -> list[dict[str, object]]:
    """The latest signals as the intent feed answers them. A worker that crashed after sending a batch's signals
    raises them again with the same ids: each is listed once."""
    listed: dict[str, dict[str, object]] = {}
    for item in items:
        signal = signal_decoder.decode(item)
        if signal.id not in listed:
            listed[signal.id] = signal_answer(signal)
    return list(listed.values())
