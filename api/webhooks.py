"""Signed webhooks: each site's new intent signals pushed to its CRM, as pages of the pull feed.

A site with a webhook URL gets POSTed what its intent feed's next page holds (the same JSON as
`GET /v1/sites/{id}/intent`, with the site id), in the feed's order, once its CRM answers 2xx the cursor moves
past it. The cursor lives in Redis, so nothing is skipped across restarts; a CRM that fails or times out gets the
same page again after a growing wait (1 s doubling to 5 minutes), and other sites' deliveries go on meanwhile.
Delivery is at least once (a crash between the CRM's 2xx and the cursor's write sends the page again): CRMs
dedupe by signal id, which is stable. Reading the feed rather than Kafka means an erased visitor's signals
are never pushed, as they are never listed.

How the pushes go is kept in Redis beside the cursor (`GET /v1/sites/{id}/webhook`): signals delivered, the last
success, the last failure and its reason, and the failures since the last success.

Each POST carries `Clickpulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the site's
webhook secret>` (Stripe's scheme: the time in the signed text lets a CRM refuse replays). One API process
pushes a site at a time, under a lease in Redis, so API replicas do not push a page twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time

import httpx
import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.intent_feed import IntentFeed
from clickpulse.outage_log import OutageLog
from clickpulse.sites import Site, SiteRegistry

log = logging.getLogger(__name__)
POLL_S = 1.0
PAGE = 100  # signals per POST
TIMEOUT_S = 10.0
FIRST_RETRY_S = 1.0
LONGEST_RETRY_S = 300.0
LEASE_S = 30.0


def _webhook_key(kind: str, site: Site) -> str:
    """Setting a webhook makes a new secret, so a webhook set again starts from then, not where the last one was,
    and with a status of its own."""
    return f"cp:webhook:{kind}:{site.site_id}:{hashlib.sha256(site.webhook_secret.encode()).hexdigest()[:16]}"


def cursor_key(site: Site) -> str:
    return _webhook_key("cursor", site)


def status_key(site: Site) -> str:
    return _webhook_key("status", site)


class DeliveryStatus(msgspec.Struct, frozen=True):
    """How a site's webhook pushes go, as Redis keeps it (times in Unix ms, 0 for never)."""

    delivered_signals: int = 0
    last_success_at: int = 0
    last_failure_at: int = 0
    last_failure: str = ""
    failures_since_success: int = 0


async def delivery_status(redis: aioredis.Redis, site: Site) -> DeliveryStatus:
    fields = {k.decode(): v.decode() for k, v in (await redis.hgetall(status_key(site))).items()}
    return msgspec.convert(fields, DeliveryStatus, strict=False)


def lease_key(site_id: str) -> str:
    return f"cp:webhook:lease:{site_id}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class SiteDelivery:
    """Where a site's pushes stand in this process: the wait after failures."""

    def __init__(self) -> None:
        self.failures = 0
        self.next_try = 0.0

    def failed(self, now: float) -> None:
        self.failures += 1
        self.next_try = now + min(FIRST_RETRY_S * 2 ** (self.failures - 1), LONGEST_RETRY_S)

    def delivered(self) -> None:
        self.failures, self.next_try = 0, 0.0


class WebhookPusher:
    def __init__(
        self,
        registry: SiteRegistry,
        redis: aioredis.Redis,
        feed: IntentFeed,
    ) -> None:
        self.registry = registry
        self.redis = redis
        self.feed = feed
        self.http = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
        self.owner = secrets.token_hex(8)
        self.deliveries: dict[str, SiteDelivery] = {}
        self._outage = OutageLog(log)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.push_due_sites()
                except RedisError as exc:
                    self._outage.failed("webhooks wait for Redis: %r", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_S)
        finally:
            await self.http.aclose()

    async def push_due_sites(self) -> None:
        """One round: every site with a webhook whose wait is over, side by side, so a slow CRM delays only its own."""
        now = time.monotonic()
        due = []
        for site in await self.registry.all():
            delivery = self.deliveries.setdefault(site.site_id, SiteDelivery())
            if site.webhook_url and not site.revoked and now >= delivery.next_try:
                due.append(self._push_or_wait(site, delivery))
        await asyncio.gather(*due)

    async def _push_or_wait(self, site: Site, delivery: SiteDelivery) -> None:
        try:
            await self.push_site(site, delivery)
        except Exception as exc:  # ClickHouse or Redis away: this site waits and tries again, the others go on
            self._outage.failed("webhook of site %s not pushed: %r", site.site_id, exc)
            delivery.failed(time.monotonic())
            with contextlib.suppress(RedisError):
                await self._record_failure(site, f"signals not read: {exc!r}"[:300])

    async def push_site(self, site: Site, delivery: SiteDelivery) -> None:
        """POST the site's new signals, a page at a time, until none are left or its CRM fails. The lease is
        renewed for each page, so a slow CRM's pages do not outlast it."""
        feed = self.feed
        key = cursor_key(site)
        while await self._hold_lease(site.site_id):
            cursor = await self.redis.get(key)
            if cursor is None:  # a new webhook: signals from now on, not the site's whole history
                await self.redis.set(key, await asyncio.to_thread(feed.end_cursor, site.site_id))
                return
            page = await asyncio.to_thread(feed.page, site.site_id, cursor.decode(), PAGE)
            if not page["signals"]:
                return
            failure = await self._post(site, msgspec.json.encode({"site_id": site.site_id, **page}))
            if failure:
                delivery.failed(time.monotonic())
                await self._record_failure(site, failure)
                return
            delivery.delivered()
            await self._move_past(site, str(page["next_cursor"]), len(page["signals"]))

    async def _move_past(self, site: Site, next_cursor: str, signals: int) -> None:
        """The cursor past a delivered page and the status that counts it, in one round trip."""
        status = status_key(site)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(cursor_key(site), next_cursor)
            pipe.hincrby(status, "delivered_signals", signals)
            pipe.hset(status, mapping={"last_success_at": int(time.time() * 1000), "failures_since_success": 0})
            await pipe.execute()

    async def _record_failure(self, site: Site, reason: str) -> None:
        key = status_key(site)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "failures_since_success", 1)
            pipe.hset(key, mapping={"last_failure_at": int(time.time() * 1000), "last_failure": reason})
            await pipe.execute()

    async def _post(self, site: Site, body: bytes) -> str:
        """Why the CRM did not take the page ("" when it did)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Clickpulse-Webhooks/1",
            "Clickpulse-Signature": signature(site.webhook_secret, int(time.time()), body),
        }
        try:
            answer = await self.http.post(site.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._outage.failed("webhook of site %s not delivered: %r", site.site_id, exc)
            return f"not delivered: {exc!r}"[:300]
        if not answer.is_success:
            self._outage.failed("webhook of site %s answered %d", site.site_id, answer.status_code)
            return f"answered HTTP {answer.status_code}"
        return ""

    async def _hold_lease(self, site_id: str) -> bool:
        """Whether this process may push the site: it takes the lease when free and renews its own."""
        key = lease_key(site_id)
        if await self.redis.set(key, self.owner, nx=True, ex=int(LEASE_S)):
            return True
        if await self.redis.get(key) == self.owner.encode():
            await self.redis.expire(key, int(LEASE_S))
            return True
        return False
