"""The site registry: sites and their keys, kept in Redis.

Write keys are public (they ship in the page), so they are stored as they are and ingest caches
them in memory. Read and admin keys are secrets: only their SHA-256 is stored. A webhook secret is stored as it is,
since the API signs with it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Literal
from urllib.parse import urlsplit

import msgspec
import redis.asyncio as aioredis

SITES_KEY = "cp:sites"
WRITE_KEYS_KEY = "cp:write_keys"
VERSION_KEY = "cp:sites:version"


class Site(msgspec.Struct, omit_defaults=True):
    site_id: str
    name: str
    write_key: str
    read_key_sha256: str
    created_at: int
    admin_key_sha256: str = ""  # erases data (api/auth.py); "" for a site made before admin keys: none can
    origins: list[str] = []
    revoked: bool = False
    session_gap_s: int = 0  # inactivity gap of this site's sessions; 0 = the settings' default
    # Events/s this site, and each client IP on it, may send; 0 = the settings' defaults, below 0 = unlimited.
    rate_limit_per_s: float = 0
    ip_rate_limit_per_s: float = 0
    # Share of visitors kept (by a hash of the visitor id, so a kept visitor's whole journey is kept).
    sample_rate: float = 1.0
    event_types: list[str] = []  # allowed event types; empty = all
    strip_params: list[str] = []  # query parameters removed from stored URLs (tokens, e-mail addresses ...)
    # Overrides of stream_jobs.intent.IntentSettings fields (weights, half-life, threshold ...).
    intent: dict[str, int | float] = {}
    webhook_url: str = ""  # where the API pushes the site's intent signals (api/webhooks.py); empty = nowhere
    webhook_secret: str = ""  # signs each push; a new one each time the webhook is set


RULE_FIELDS = frozenset(
    {"origins", "sample_rate", "event_types", "strip_params", "rate_limit_per_s", "ip_rate_limit_per_s"}
)


class CreatedSite(msgspec.Struct):
    site_id: str
    name: str
    write_key: str
    read_key: str
    admin_key: str
    origins: list[str]


_site_decoder = msgspec.json.Decoder(Site)


KeyKind = Literal["read", "admin"]
KEY_PREFIX: dict[KeyKind, str] = {"read": "rk_", "admin": "ak_"}


def make_key(kind: KeyKind) -> str:
    return f"{KEY_PREFIX[kind]}{secrets.token_urlsafe(24)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class SiteRegistry:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def create(self, name: str, origins: list[str] | None = None, session_gap_s: int = 0) -> CreatedSite:
        site_id = f"s_{secrets.token_hex(6)}"
        write_key = f"wk_{secrets.token_urlsafe(18)}"
        read_key, admin_key = make_key("read"), make_key("admin")
        site = Site(
            site_id=site_id,
            name=name,
            write_key=write_key,
            read_key_sha256=hash_key(read_key),
            admin_key_sha256=hash_key(admin_key),
            created_at=int(time.time()),
            origins=list(origins or []),
            session_gap_s=session_gap_s,
        )
        await self._save(site)
        return CreatedSite(
            site_id=site_id,
            name=name,
            write_key=write_key,
            read_key=read_key,
            admin_key=admin_key,
            origins=site.origins,
        )

    async def _save(self, site: Site) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(SITES_KEY, site.site_id, msgspec.json.encode(site))
            pipe.hset(WRITE_KEYS_KEY, site.write_key, site.site_id)
            pipe.incr(VERSION_KEY)
            await pipe.execute()

    async def get(self, site_id: str) -> Site | None:
        raw = await self._redis.hget(SITES_KEY, site_id)
        return _site_decoder.decode(raw) if raw else None

    async def all(self) -> list[Site]:
        raw = await self._redis.hgetall(SITES_KEY)
        return sorted((_site_decoder.decode(v) for v in raw.values()), key=lambda s: s.created_at)

    async def revoke(self, site_id: str) -> bool:
        site = await self.get(site_id)
        if site is None:
            return False
        site.revoked = True
        await self._save(site)
        return True

    async def tune_intent(self, site_id: str, overrides: dict[str, int | float]) -> Site | None:
        """Per-site intent settings (weights, half-life, threshold); workers pick them up within a minute."""
        site = await self.get(site_id)
        if site is None:
            return None
        site.intent = {**site.intent, **overrides}
        await self._save(site)
        return site

    async def set_webhook(self, site_id: str, url: str) -> Site | None:
        """Push the site's intent signals to url from now on, signed with a new secret; an empty url stops them."""
        site = await self.get(site_id)
        if site is None:
            return None
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"a webhook URL is http:// or https://, not {url!r}")
        site.webhook_url = url
        site.webhook_secret = f"whsec_{secrets.token_urlsafe(24)}" if url else ""
        await self._save(site)
        return site

    async def set_rules(self, site_id: str, changes: dict[str, object]) -> Site | None:
        """Changes some of a site's rules (origins, sampling, event types, stripped parameters, rate limits);
        ingest picks them up within a second."""
        site = await self.get(site_id)
        if site is None:
            return None
        unknown = set(changes) - RULE_FIELDS
        if unknown:
            raise ValueError(f"not a site rule: {', '.join(sorted(unknown))}")
        site = msgspec.convert({**msgspec.to_builtins(site), **changes}, Site)
        if not 0.0 <= site.sample_rate <= 1.0:
            raise ValueError("sample_rate must be between 0 and 1")
        await self._save(site)
        return site

    async def version(self) -> int:
        return int(await self._redis.get(VERSION_KEY) or 0)

    async def check_key(self, site_id: str, kind: KeyKind, key: str) -> Site | None:
        """The site, if key is its current read or admin key and the site is not revoked."""
        site = await self.get(site_id)
        if site is None or site.revoked:
            return None
        stored = site.read_key_sha256 if kind == "read" else site.admin_key_sha256
        if not stored or not secrets.compare_digest(stored, hash_key(key)):
            return None
        return site

    async def new_key(self, site_id: str, kind: KeyKind) -> str | None:
        """A new read or admin key for the site, which replaces the old one at once (the API's cache of checked
        keys lets the old one work up to 30 s more); None when there is no such site."""
        site = await self.get(site_id)
        if site is None:
            return None
        key = make_key(kind)
        if kind == "read":
            site.read_key_sha256 = hash_key(key)
        else:
            site.admin_key_sha256 = hash_key(key)
        await self._save(site)
        return key


async def create_site(redis_url: str, name: str) -> CreatedSite:
    """A new site, over a connection of its own: for tools that hold none (benchmarks, tests)."""
    redis = aioredis.Redis.from_url(redis_url)
    try:
        return await SiteRegistry(redis).create(name)
    finally:
        await redis.aclose()
