"""Names of the Redis keys that hold live state: written by stream_jobs, read by api.

Every key carries its site in a hash tag, so a Redis cluster keeps one site's keys together.
"""

from __future__ import annotations

import msgspec

MINUTE_MS = 60_000
ACTIVE_WINDOW_MS = 5 * MINUTE_MS
LIVE_WINDOW_MINUTES = 30
FEED_LENGTH = 100


def active_visitors(site: str) -> str:
    return f"cp:{{{site}}}:active"


def pageviews_minute(site: str, minute: int) -> str:
    return f"cp:{{{site}}}:pv:{minute}"


def top_minute(site: str, what: str, minute: int) -> str:
    return f"cp:{{{site}}}:top_{what}:{minute}"


def feed(site: str) -> str:
    return f"cp:{{{site}}}:feed"


def late_events(site: str) -> str:
    return f"cp:{{{site}}}:late_events"


def updates_channel(site: str) -> str:
    return f"cp:{{{site}}}:live"


class FeedItem(msgspec.Struct):
    type: str
    path: str
    visitor_id: str
    ts: int
    country: str = ""
    product: str = ""
