"""Token buckets per site and per client IP in Redis, shared by every ingest replica, leased in chunks.

A replica takes up to a second of a bucket's rate (at most a tenth of its burst) in one EVALSHA and spends it
locally, so most requests cost no round trip. The bucket in Redis stays the shared truth: a replica only spends
tokens Redis handed it, and drops what it has not spent after LEASE_S, so a client can go past its bucket by at
most one lease per replica. When Redis refuses, the replica remembers how full the bucket can be at most and
refuses further requests it could not pay for without asking again, so a flooding client costs no round trips.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from clickpulse.outage_log import OutageLog
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.rejection import RequestRejected

log = logging.getLogger(__name__)

# How long a lease may be spent, and so how much of a bucket's rate one lease takes.
LEASE_S = 1.0
# A lease never takes more than this share of a bucket's burst, so replicas cannot hoard a small bucket.
LEASE_SHARE_OF_BURST = 0.1
# Past this many buckets held locally, expired ones are forgotten (one per client IP seen lately).
MAX_LOCAL_BUCKETS = 100_000
# Bucket names kept for clients seen lately; a flood of fresh addresses starts the list over.
MAX_NAMED_CLIENTS = 10_000

# KEYS: the buckets to lease from. ARGV: per bucket, the tokens needed, the tokens wanted, rate (tokens/s), burst.
# Takes from every bucket or from none: answers {0, granted...} or {index of the first short bucket, ms to wait,
# its level}. Each grant is at least what was needed and at most what was wanted. Redis' own clock, so replicas
# with drifting clocks share one notion of time.
LEASE_TOKENS_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local levels = {}
local granted = {0}
for i, key in ipairs(KEYS) do
  local need = tonumber(ARGV[4 * i - 3])
  local want = tonumber(ARGV[4 * i - 2])
  local rate = tonumber(ARGV[4 * i - 1])
  local burst = tonumber(ARGV[4 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  if tokens < need then
    return {i, math.ceil((need - tokens) * 1000 / rate), tostring(tokens)}
  end
  local grant = math.min(want, tokens)
  levels[i] = tokens - grant
  granted[i + 1] = tostring(grant)
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[4 * i - 1])
  local burst = tonumber(ARGV[4 * i])
  redis.call('HSET', key, 'tokens', levels[i], 'at', now)
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return granted
"""


class Bucket(NamedTuple):
    key: str
    per_s: float
    burst: float
    reason: str

    @property
    def lease(self) -> float:
        return max(1.0, min(self.per_s * LEASE_S, self.burst * LEASE_SHARE_OF_BURST))


@dataclass(slots=True)
class LocalBucket:
    """What this replica holds of one shared bucket: leased tokens, and how full Redis last said it could be."""

    tokens: float = 0.0
    expires_at: float = 0.0  # monotonic seconds; unspent tokens are dropped then
    refused_level: float = math.inf  # the bucket's level when Redis last refused, at refused_at
    refused_at: float = 0.0
    forget_at: float = 0.0  # past this, neither the lease nor the refusal says anything
    leasing: asyncio.Future[None] | None = None  # the EVALSHA in flight for this bucket, if any

    def at_most(self, per_s: float, now: float) -> float:
        """An upper bound on the shared bucket's level: it refills at per_s and others only take from it."""
        return self.refused_level + (now - self.refused_at) * per_s


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self._script = redis.register_script(LEASE_TOKENS_LUA)
        self._settings = settings
        self._local: dict[str, LocalBucket] = {}
        # (site id, ip) -> (the Site and salt they were named with, the buckets): a hash and two names per request
        # cost 2 us, a tenth of a single event's own work in ingest.
        self._named: dict[tuple[str, str], tuple[Site, str, list[Bucket]]] = {}
        self.unchecked = 0  # requests admitted without a check while Redis was unreachable
        self._outage = OutageLog(log)
        self.round_trips = 0  # EVALSHAs sent: leases taken and refusals confirmed

    def buckets(self, site: Site, ip: str, salt: str) -> list[Bucket]:
        """The site's bucket and the client's; a rate of 0 or less switches one off."""
        named = self._named.get((site.site_id, ip))
        # The site cache swaps in a new Site when its rules change, and the salt rotates daily.
        if named is not None and named[0] is site and named[1] == salt:
            return named[2]
        if len(self._named) >= MAX_NAMED_CLIENTS:
            self._named = {}
        buckets = self._name_buckets(site, ip, salt)
        self._named[(site.site_id, ip)] = (site, salt, buckets)
        return buckets

    def _name_buckets(self, site: Site, ip: str, salt: str) -> list[Bucket]:
        s = self._settings
        site_rate = site.rate_limit_per_s or s.rate_limit_site_per_s
        ip_rate = site.ip_rate_limit_per_s or s.rate_limit_ip_per_s
        # The client's bucket is named by a salted hash: no IP address is written to Redis.
        client = hashlib.blake2b(ip.encode(), key=salt.encode()[:64], digest_size=10).hexdigest()
        candidates = [
            Bucket(f"cp:rl:site:{site.site_id}", site_rate, site_rate * s.rate_limit_burst_s, "rate_limited_site"),
            Bucket(f"cp:rl:ip:{site.site_id}:{client}", ip_rate, ip_rate * s.rate_limit_burst_s, "rate_limited_ip"),
        ]
        return [b for b in candidates if b.per_s > 0]

    async def admit(self, site: Site, ip: str, salt: str, cost: int) -> None:
        """Takes `cost` tokens (events) or refuses the request with a 429, its reason and Retry-After."""
        buckets = self.buckets(site, ip, salt)
        if not buckets:
            return
        cost = max(1, cost)
        while True:
            now = time.monotonic()
            held: list[LocalBucket] = []
            short: list[tuple[Bucket, LocalBucket]] = []
            leasing: asyncio.Future[None] | None = None
            for bucket in buckets:
                local = self._local_bucket(bucket.key, now)
                if local.tokens >= cost:
                    held.append(local)
                elif local.leasing is not None:  # one lease at a time per bucket: wait for it, then look again
                    leasing = local.leasing
                    break
                else:
                    need = min(cost, max(bucket.burst, 1.0)) - local.tokens
                    ceiling = local.at_most(bucket.per_s, now)
                    if ceiling < need:  # Redis cannot have enough yet: refuse without asking
                        raise self._refusal(bucket, math.ceil((need - ceiling) * 1000 / bucket.per_s))
                    short.append((bucket, local))
            if leasing is None:
                break
            await asyncio.shield(leasing)
        for local in held:  # taken before any await, so concurrent requests cannot spend them twice
            local.tokens -= cost
        if not short:
            return
        try:
            await self._lease(short, cost, now)
        except RequestRejected:
            for local in held:
                local.tokens += cost
            raise
        for _, local in short:
            local.tokens = max(0.0, local.tokens - cost)

    async def _lease(self, short: list[tuple[Bucket, LocalBucket]], cost: int, now: float) -> None:
        """One EVALSHA for every bucket this request cannot pay from its lease."""
        leasing = asyncio.get_running_loop().create_future()
        args: list[float] = []
        for bucket, local in short:
            local.leasing = leasing
            burst = max(bucket.burst, 1.0)
            need = max(0.0, min(cost, burst) - local.tokens)
            args += [need, max(need, bucket.lease), bucket.per_s, burst]
        self.round_trips += 1
        try:
            answer = await self._script(keys=[b.key for b, _ in short], args=args)
        except (RedisError, OSError) as exc:
            # Fail open: a Redis outage must not turn accepted traffic into errors and lost events.
            self.unchecked += 1
            self._outage.failed("rate limits unchecked, redis unavailable (%s)", type(exc).__name__)
            for _, local in short:
                local.tokens = float(cost)
            return
        finally:
            for _, local in short:
                local.leasing = None
            leasing.set_result(None)
        empty = int(answer[0])
        if empty:
            bucket, local = short[empty - 1]
            local.refused_level, local.refused_at = float(answer[2]), now
            # Worth remembering until the bucket could be full again.
            local.forget_at = max(local.forget_at, now + (bucket.burst - local.refused_level) / bucket.per_s)
            raise self._refusal(bucket, int(answer[1]))
        expires_at = now + LEASE_S
        for (_, local), grant in zip(short, answer[1:], strict=True):
            local.tokens += float(grant)
            local.expires_at = expires_at
            local.forget_at = max(local.forget_at, expires_at)
            local.refused_level = math.inf

    def _local_bucket(self, key: str, now: float) -> LocalBucket:
        local = self._local.get(key)
        if local is None:
            if len(self._local) >= MAX_LOCAL_BUCKETS:
                self._local = {k: v for k, v in self._local.items() if v.forget_at > now}
                if len(self._local) >= MAX_LOCAL_BUCKETS // 2:
                    # A flood of fresh clients: start over rather than sweep again for every new one. What is lost
                    # is unspent leases (Redis already counted them) and remembered refusals (Redis answers again).
                    self._local = {}
            local = self._local[key] = LocalBucket()
        elif local.expires_at <= now:
            local.tokens = 0.0
        return local

    @staticmethod
    def _refusal(bucket: Bucket, wait_ms: int) -> RequestRejected:
        retry_after = max(1, math.ceil(wait_ms / 1000))
        return RequestRejected(429, bucket.reason, f"{bucket.per_s:g} events/s", retry_after=retry_after)
