"""Per-site knobs for the worker (session gap, intent weights and thresholds), refreshed from the site registry."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import msgspec
import redis.asyncio as aioredis

from clickpulse.sites import Site, SiteRegistry
from stream_jobs.intent import IntentSettings, tuned
from stream_jobs.sessionizer import Windowing

log = logging.getLogger(__name__)
REFRESH_S = 30.0


class SiteSettings:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._registry = SiteRegistry(redis)
        self._intent: dict[str, IntentSettings] = {}
        self._gap_ms: dict[str, int] = {}
        self._loaded_at = 0.0
        self.default = IntentSettings()

    def intent(self, site_id: str) -> IntentSettings:
        return self._intent.get(site_id, self.default)

    def windowing(self, site_id: str, default: Windowing) -> Windowing:
        gap = self._gap_ms.get(site_id)
        return default if gap is None else replace(default, gap_ms=gap)

    async def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at < REFRESH_S:
            return
        self._loaded_at = time.monotonic()
        try:
            sites = await self._registry.all()
        except Exception:  # Redis down: keep what we had; the defaults are sound.
            log.warning("could not refresh site settings", exc_info=True)
            return
        self._gap_ms = {site.site_id: site.session_gap_s * 1000 for site in sites if site.session_gap_s > 0}
        self._intent = intent_settings_of(sites)


def intent_settings_of(sites: list[Site]) -> dict[str, IntentSettings]:
    """The intent settings of the sites that override some. A site whose stored overrides are out of range keeps
    the defaults: a bad value must never reach the model, where it would stop the worker's batches."""
    out = {}
    for site in sites:
        if site.intent:
            try:
                out[site.site_id] = tuned(site.intent)
            except msgspec.ValidationError as exc:
                log.warning("ignoring invalid intent settings of site %s: %s", site.site_id, exc)
    return out
