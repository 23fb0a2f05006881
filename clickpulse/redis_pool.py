"""The Redis client of a service that answers requests (ingest, the API): a burst waits for one of its connections
instead of being refused."""

from __future__ import annotations

import redis.asyncio as aioredis

CONNECTIONS = 100
WAIT_S = 5.0


def request_serving_redis(url: str) -> aioredis.Redis:
    """A plain pool refuses each command past its connections at once (MaxConnectionsError, a RedisError): in ingest a
    flood of forged write keys (a look-up each) took them all, and the rate limiter, reading that as Redis being away,
    let every request through unchecked; in the API a burst of dashboards' live streams ended as they began."""
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=CONNECTIONS, timeout=WAIT_S)
    return aioredis.Redis.from_pool(pool)
