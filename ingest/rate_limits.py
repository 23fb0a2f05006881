"""Token buckets per site and per client IP in Redis: one EVALSHA per request, shared by every ingest replica."""

from __future__ import annotations

import hashlib
import logging
import math
from typing import NamedTuple

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.rejection import RequestRejected

log = logging.getLogger(__name__)

# KEYS: one bucket each. ARGV: cost, then rate (tokens/s) and burst per bucket.
# Takes the cost from every bucket or from none, and answers {index of the first empty bucket, ms to wait}.
# Redis' own clock, so replicas with drifting clocks share one notion of time.
TOKEN_BUCKETS_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local cost = tonumber(ARGV[1])
local levels = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  local need = math.min(cost, burst)
  if tokens < need then
    return {i, math.ceil((need - tokens) * 1000 / rate)}
  end
  levels[i] = tokens - need
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'tokens', levels[i], 'at', now)
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return {0, 0}
"""


class Bucket(NamedTuple):
    key: str
    per_s: float
    burst: float
    reason: str


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self._script = redis.register_script(TOKEN_BUCKETS_LUA)
        self._settings = settings
        self.unchecked = 0  # requests admitted without a check while Redis was unreachable

    def buckets(self, site: Site, ip: str, salt: str) -> list[Bucket]:
        """The site's bucket and the client's; a rate of 0 or less switches one off."""
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
        args: list[float] = [max(1, cost)]
        for bucket in buckets:
            args += [bucket.per_s, max(bucket.burst, 1.0)]
        try:
            empty, wait_ms = await self._script(keys=[b.key for b in buckets], args=args)
        except (RedisError, OSError) as exc:
            # Fail open: a Redis outage must not turn accepted traffic into errors and lost events.
            self.unchecked += 1
            log.warning("rate limits unchecked, redis unavailable (%s)", type(exc).__name__)
            return
        if empty:
            bucket = buckets[int(empty) - 1]
            retry_after = max(1, math.ceil(int(wait_ms) / 1000))
            raise RequestRejected(429, bucket.reason, f"{bucket.per_s:g} events/s", retry_after=retry_after)
