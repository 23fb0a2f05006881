"""Telling the stream workers to forget visitors: one Erasure record per visitor on the erasures topic, keyed
like the visitor's events so that it reaches the worker holding their state. The API sends them when a visitor
or customer is forgotten on request; the loader for a visitor it finds linked to an erased customer."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from clickpulse.records import ERASURES_TOPIC, Erasure, event_encoder
from clickpulse.settings import Settings


async def tell_workers(settings: Settings, erasures: list[Erasure]) -> None:
    """Returns once Kafka holds every record (acks=all); raises when it does not."""
    if not erasures:
        return
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        topic = settings.topic(ERASURES_TOPIC)
        sent = [await producer.send(topic, event_encoder.encode(e), key=e.key) for e in erasures]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
