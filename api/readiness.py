"""The API's /readyz: can it answer queries? ClickHouse (SELECT 1) and Redis (PING: read keys, live state) must
answer; Kafka is not asked, since only erasures need it and reads must not go down with it."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from clickhouse_connect.driver.client import Client
from redis.exceptions import RedisError

# A dependency that does not answer within this is down for the probe (a hung one too, not just a refusing one).
ANSWER_WITHIN_S = 2.0


async def _clickhouse_answers(client: Client | None) -> bool:
    if client is None:  # the app has not opened it (its lifespan has not run)
        return False
    try:
        return await asyncio.wait_for(asyncio.to_thread(client.command, "SELECT 1"), ANSWER_WITHIN_S) == 1
    except Exception:  # any failure to answer is "down" here: which one is in the service's own log
        return False


async def _redis_answers(redis: aioredis.Redis) -> bool:
    try:
        return bool(await asyncio.wait_for(redis.ping(), ANSWER_WITHIN_S))
    except (RedisError, OSError, TimeoutError):
        return False


async def readiness(client: Client | None, redis: aioredis.Redis) -> dict[str, bool]:
    clickhouse, redis_up = await asyncio.gather(_clickhouse_answers(client), _redis_answers(redis))
    return {"ready": clickhouse and redis_up, "clickhouse": clickhouse, "redis": redis_up}
