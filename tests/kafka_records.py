"""Records put on a test's Kafka topics directly, past ingest: what the workers and the loader read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from clickpulse.records import EVENTS_TOPIC, EnrichedEvent, event_encoder
from clickpulse.settings import Settings


def put_records(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    """Send each (topic, key, value) in order, each acknowledged before the next goes."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for topic, key, value in records:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(send())


def put_events(settings: Settings, events: Iterable[EnrichedEvent]) -> None:
    """Enriched events on the settings' events topic, keyed as ingest keys them."""
    put_records(
        settings.kafka_bootstrap, ((settings.topic(EVENTS_TOPIC), e.key, event_encoder.encode(e)) for e in events)
    )
