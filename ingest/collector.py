"""Turns one decoded request into Kafka records: request facts, the enrichment pipeline, dead letters."""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import msgspec
import redis.asyncio as aioredis
from starlette.requests import Request

from clickpulse.records import DLQ_TOPIC, EVENTS_TOPIC, DeadLetter, event_encoder
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.client_ip import client_ip
from ingest.dead_letter_contents import dead_letter_contents
from ingest.enrichment import Drop, Pipeline, without_emails
from ingest.geo import GeoLocator
from ingest.incoming import IncomingEvent
from ingest.metrics import Metrics
from ingest.rate_limits import RateLimiter
from ingest.referrers import ReferrerTable
from ingest.rejection import EventRejected, RequestRejected
from ingest.request_context import RequestContext, build_context, with_relayed_ip
from ingest.site_cache import SiteCache
from ingest.spool import Record


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Collector:
    """Turns one decoded request into Kafka records; shared by every endpoint."""

    def __init__(self, settings: Settings, cache: SiteCache, metrics: Metrics, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.cache = cache
        self.metrics = metrics
        # Loaded now: a missing data set stops start-up rather than a request.
        self.pipeline = Pipeline(ReferrerTable.load(settings.referrer_data_path))
        self.limiter = RateLimiter(redis, settings)
        self.geo = GeoLocator(settings)
        self.events_topic = settings.topic(EVENTS_TOPIC)
        self.dlq_topic = settings.topic(DLQ_TOPIC)
        self.trusted = frozenset(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())

    async def site_for(self, write_key: str) -> Site:
        site = await self.cache.by_write_key(write_key)
        if site is None:
            raise RequestRejected(401, "unknown_write_key")
        return site

    def check_origin(self, site: Site, headers: Mapping[str, str], *, browsers_only: bool = False) -> None:
        """Allowed origins per site, from Origin or, when a browser sends none, the Referer's origin.
        An empty list allows any; a request with neither header (a server-side SDK) passes, unless the endpoint
        serves browsers only (the pixel): any page can have its visitors' browsers send one without a Referer
        (<img referrerpolicy="no-referrer">), which passed the allow-list from every origin."""
        origin = headers.get("origin", "")
        if not origin and site.origins:
            referer = urlsplit(headers.get("referer", ""))
            origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else ""
            if not origin and browsers_only:
                raise RequestRejected(403, "origin_not_allowed", "this site's pixel needs a Referer of its origins")
        if site.origins and origin and origin not in site.origins:
            raise RequestRejected(403, "origin_not_allowed", origin[:200])

    def ip_of(self, request: Request, headers: Mapping[str, str]) -> str:
        peer = request.client.host if request.client else ""
        return client_ip(peer, headers, self.trusted)

    async def admit(self, site: Site, ip: str, events: int) -> None:
        """The site's and the client's rate limits: a 429 with Retry-After when either bucket is empty."""
        await self.limiter.admit(site, ip, self.cache.salt, events)

    def dead_letter(self, reason: str, raw: object, site_id: str, endpoint: str, received_at: int) -> Record:
        # A reason may quote what was sent (Segment's "unknown message type 'jane@…'").
        letter = DeadLetter.of(without_emails(reason), dead_letter_contents(raw), site_id, endpoint, received_at)
        return (self.dlq_topic, site_id.encode(), msgspec.json.encode(letter))

    def records_for(
        self,
        headers: Mapping[str, str],
        ip: str,
        site: Site,
        events: list[IncomingEvent],
        bad: list[EventRejected],
        endpoint: str,
    ) -> tuple[list[Record], int, list[str]]:
        """The request's records for Kafka (its enriched events, then a dead letter for each rejected one), how
        many events were accepted, and why the others were rejected. Events a site rule leaves out are neither."""
        received = now_ms()
        location = self.geo.locate(ip, headers)
        agent = headers.get("user-agent", "")
        ctx = build_context(site, received, ip, agent, location, self.cache.salt, headers)
        records: list[Record] = []
        reasons = [b.reason for b in bad]
        dlq = [self.dead_letter(b.reason, b.raw, site.site_id, endpoint, received) for b in bad]
        relayed: dict[str, RequestContext] = {}
        for incoming in events:
            event_ctx = ctx
            if ctx.server_side and incoming.ip:
                if incoming.ip not in relayed:
                    relayed[incoming.ip] = with_relayed_ip(ctx, incoming.ip, self.geo.locate(incoming.ip, {}))
                event_ctx = relayed[incoming.ip]
            result = self.pipeline.run(incoming, event_ctx)
            if isinstance(result, Drop):
                if result.rejected:
                    reasons.append(result.reason)
                    dlq.append(
                        self.dead_letter(result.reason, msgspec.to_builtins(incoming), site.site_id, endpoint, received)
                    )
                else:
                    self.metrics.leave_out(result.reason)
                continue
            records.append((self.events_topic, result.key, event_encoder.encode(result)))
        for reason in reasons:
            self.metrics.reject(reason)
        accepted = len(records)
        records += dlq
        return records, accepted, reasons
