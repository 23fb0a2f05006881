"""A site's keys on the API: `Authorization: Bearer <key>`, checked against the site's hashed keys.

The read key reads (dashboards, CRMs, the intent feed); it is handed around and ends up in dashboard links. Erasing
a visitor or a customer takes the admin key, which only the site's owner holds, as Segment's and GA4's deletion
APIs take a privileged credential rather than the one their tracking and reporting use.
"""

from __future__ import annotations

import time

from fastapi import Request

from api.errors import ApiError
from clickpulse.sites import KeyKind, Site, SiteRegistry


class SiteKeyAuth:
    """Caches successful checks briefly so a dashboard's requests do not each hit Redis."""

    def __init__(self, registry: SiteRegistry, cache_s: float) -> None:
        self.registry = registry
        self.cache_s = cache_s
        self._ok: dict[tuple[str, KeyKind, str], tuple[float, Site]] = {}

    async def site(self, request: Request, site_id: str, *, kind: KeyKind = "read") -> Site:
        """The site whose `kind` key the request's Authorization header carries (never a URL: a key in one ends up
        in proxies' and CDNs' logs)."""
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not key:
            raise ApiError(401, f"missing_{kind}_key", f"send Authorization: Bearer <{kind} key>")
        cached = self._ok.get((site_id, kind, key))
        if cached and time.monotonic() - cached[0] < self.cache_s:
            return cached[1]
        site = await self.registry.check_key(site_id, kind, key)
        if site is None:
            detail = f"no site has this id and {kind} key"
            if kind == "admin":
                detail += " (a site made before admin keys has none: `clickpulse site new-key ID admin`)"
            raise ApiError(403, f"invalid_{kind}_key", detail)
        self._ok[(site_id, kind, key)] = (time.monotonic(), site)
        return site
