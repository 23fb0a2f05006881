"""Names of the Redis keys that hold live state: written by stream_jobs, read by api.

Every key carries its site in a hash tag, so a Redis cluster keeps one site's keys together.
"""

from __future__ import annotations

import msgspec

MINUTE_MS = 60_000
ACTIVE_WINDOW_MS = 5 * MINUTE_MS
LIVE_WINDOW_MINUTES = 30
FEED_LENGTH = 100
SIGNALS_KEPT = 20  # the latest purchase-intent signals, for the dashboard; the CRM feed (ClickHouse) keeps them all
# Pages and products kept per minute bucket, the most viewed: visitors name them (any path, any product id), so a
# flood of made-up ones would otherwise grow Redis and every dashboard's snapshot without bound.
TOP_KEPT_PER_MINUTE = 100


def active_visitors(site: str) -> str:
    return f"cp:{{{site}}}:active"


def pageviews_minute(site: str, minute: int) -> str:
    return f"cp:{{{site}}}:pv:{minute}"


def top_minute(site: str, what: str, minute: int) -> str:
    return f"cp:{{{site}}}:top_{what}:{minute}"


def feed(site: str) -> str:
    return f"cp:{{{site}}}:feed"


def intent_signals(site: str) -> str:
    return f"cp:{{{site}}}:signals"


def late_events(site: str) -> str:
    return f"cp:{{{site}}}:late_events"


def updates_channel(site: str) -> str:
    return f"cp:{{{site}}}:live"


UPDATES_PATTERN = updates_channel("*")


def site_of_updates_channel(channel: str) -> str:
    return channel.removeprefix("cp:{").removesuffix("}:live")


class FeedItem(msgspec.Struct):
    type: str
    path: str
    visitor_id: str
    ts: int
    country: str = ""
    product: str = ""
