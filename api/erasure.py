"""Forgetting a visitor on request: the erasure is recorded and their rows leave every table
(clickhouse/erasures.py), and an erasure record tells the workers to drop their state and live presence."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from clickpulse.records import ERASURES_TOPIC, Erasure, event_encoder
from clickpulse.settings import Settings


async def tell_workers(settings: Settings, site_id: str, visitor_ids: list[str], requested_at: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for visitor_id in visitor_ids:
            record = Erasure(site_id=site_id, visitor_id=visitor_id, requested_at=requested_at)
            key = f"{site_id}:{visitor_id}".encode()
            await producer.send_and_wait(settings.topic(ERASURES_TOPIC), event_encoder.encode(record), key=key)
    finally:
        await producer.stop()
