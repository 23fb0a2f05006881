"""Forgetting a visitor on request: their rows leave every table, their live state leaves Redis, and
an erasure record tells the workers to drop what they hold for them."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from clickpulse import live_keys
from clickpulse.records import ERASURES_TOPIC, Erasure, event_encoder
from clickpulse.settings import Settings

TABLES = ("events", "sessions", "intent_signals", "identity_links")


def delete_rows(client: Client, database: str, site_id: str, visitor_id: str) -> None:
    for table in TABLES:
        client.command(
            f"DELETE FROM {database}.{table} WHERE site_id = {{site:String}} AND visitor_id = {{visitor:String}}",
            parameters={"site": site_id, "visitor": visitor_id},
        )


async def tell_workers(settings: Settings, site_id: str, visitor_id: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        record = Erasure(site_id=site_id, visitor_id=visitor_id, requested_at=int(time.time() * 1000))
        key = f"{site_id}:{visitor_id}".encode()
        await producer.send_and_wait(settings.topic(ERASURES_TOPIC), event_encoder.encode(record), key=key)
    finally:
        await producer.stop()


async def forget_live(redis: aioredis.Redis, site_id: str, visitor_id: str) -> None:
    await redis.zrem(live_keys.active_visitors(site_id), visitor_id)
