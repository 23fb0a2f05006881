"""Records to ClickHouse rows: one column list and one converter per table."""

from __future__ import annotations

import datetime as dt

import msgspec

from clickpulse.records import EnrichedEvent, IdentityLink, IntentSignal, Session

UTC = dt.UTC

EVENT_COLUMNS = [
    "site_id", "event_id", "visitor_id", "customer_id", "type", "name", "ts", "received_at", "url", "host",
    "path", "title", "referrer", "source", "medium", "campaign", "channel", "browser", "os", "device",
    "country", "region", "city", "ip", "is_bot", "bot_reason", "engaged_ms", "scroll_pct", "revenue",
    "currency", "order_id", "product_ids", "props",
]  # fmt: skip

SESSION_COLUMNS = [
    "site_id", "session_id", "visitor_id", "customer_id", "start", "end", "engaged_ms", "pageviews", "events",
    "entry_page", "exit_page", "bounce", "source", "medium", "campaign", "channel", "device", "browser", "os",
    "country", "converted", "revenue", "revenue_by_currency", "is_bot", "closed", "version", "deleted",
]  # fmt: skip

SIGNAL_COLUMNS = [
    "site_id", "id", "kind", "visitor_id", "customer_id", "score", "reasons", "products", "at",
    "kafka_partition", "kafka_offset",
]  # fmt: skip


def timestamp(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def event_row(e: EnrichedEvent) -> list[object]:
    return [
        e.site_id, e.event_id, e.visitor_id, e.customer_id, e.type, e.name, timestamp(e.ts), timestamp(e.received_at),
        e.url, e.host, e.path, e.title, e.referrer, e.source, e.medium, e.campaign, e.channel, e.browser, e.os,
        e.device, e.country, e.region, e.city, e.ip, int(e.is_bot), e.bot_reason, min(e.engaged_ms, 2**32 - 1),
        e.scroll_pct, e.revenue, e.currency, e.order_id, [p.product_id for p in e.products],
        msgspec.json.encode(e.props).decode() if e.props else "",
    ]  # fmt: skip


def session_row(s: Session) -> list[object]:
    return [
        s.site_id, s.session_id, s.visitor_id, s.customer_id, timestamp(s.start), timestamp(s.end), s.engaged_ms,
        s.pageviews, s.events, s.entry_page, s.exit_page, int(s.bounce), s.source, s.medium, s.campaign,
        s.channel, s.device, s.browser, s.os, s.country, int(s.converted), s.revenue, s.revenue_by_currency,
        int(s.is_bot), int(s.closed), s.version, int(s.deleted),
    ]  # fmt: skip


def signal_row(s: IntentSignal, partition: int, offset: int) -> list[object]:
    return [
        s.site_id, s.id, s.kind, s.visitor_id, s.customer_id, s.score, s.reasons, s.products, timestamp(s.at),
        partition, offset,
    ]  # fmt: skip


IDENTITY_COLUMNS = ["site_id", "visitor_id", "customer_id", "at"]


def identity_row(link: IdentityLink) -> list[object]:
    return [link.site_id, link.visitor_id, link.customer_id, timestamp(link.at)]
