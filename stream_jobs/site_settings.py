"""Per-site knobs for the worker (intent weights and thresholds), refreshed from the site registry."""

from __future__ import annotations

import logging
import time

import msgspec
import redis.asyncio as aioredis

from clickpulse.sites import SiteRegistry
from stream_jobs.intent import IntentSettings

log = logging.getLogger(__name__)
REFRESH_S = 30.0


class SiteSettings:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._registry = SiteRegistry(redis)
        self._intent: dict[str, IntentSettings] = {}
        self._loaded_at = 0.0
        self.default = IntentSettings()

    def intent(self, site_id: str) -> IntentSettings:
        return self._intent.get(site_id, self.default)

    async def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at < REFRESH_S:
            return
        self._loaded_at = time.monotonic()
        try:
            sites = await self._registry.all()
        except Exception:  # Redis down: keep what we had; the defaults are sound.
            log.warning("could not refresh site settings", exc_info=True)
            return
        fresh = {}
        for site in sites:
            if site.intent:
                try:
                    fresh[site.site_id] = msgspec.convert(
                        {**msgspec.to_builtins(self.default), **site.intent}, IntentSettings
                    )
                except msgspec.ValidationError:
                    log.warning("ignoring invalid intent settings of site %s", site.site_id)
        self._intent = fresh
