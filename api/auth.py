"""Read keys: `Authorization: Bearer rk_...`, checked against the hashed key of the site."""

from __future__ import annotations

import time

from fastapi import Request

from api.errors import ApiError
from clickpulse.sites import Site, SiteRegistry

CACHE_S = 30.0


class ReadKeyAuth:
    """Caches successful checks briefly so a dashboard's requests do not each hit Redis."""

    def __init__(self, registry: SiteRegistry) -> None:
        self.registry = registry
        self._ok: dict[tuple[str, str], tuple[float, Site]] = {}

    async def site(self, request: Request, site_id: str, *, key_in_query: bool = False) -> Site:
        """key_in_query: also take ?key= (only for EventSource, which cannot send headers; a key in a URL ends
        up in proxies' logs)."""
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not key and key_in_query:
            key = request.query_params.get("key", "")
        if not key:
            raise ApiError(401, "missing_read_key", "send Authorization: Bearer <read key>")
        cached = self._ok.get((site_id, key))
        if cached and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        site = await self.registry.check_read_key(site_id, key)
        if site is None:
            raise ApiError(403, "invalid_read_key", "no site has this id and read key")
        self._ok[(site_id, key)] = (time.monotonic(), site)
        return site
