"""Creates the topics the stages exchange records through (idempotent)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from clickpulse.records import (
    DLQ_TOPIC,
    ERASURES_TOPIC,
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
)
from clickpulse.settings import Settings


async def ensure_topics(settings: Settings, timeout_s: float = 60.0) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="clickpulse-admin")
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(name),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )
            for name in (EVENTS_TOPIC, DLQ_TOPIC, SESSIONS_TOPIC, INTENT_TOPIC, IDENTITIES_TOPIC, ERASURES_TOPIC)
            if settings.topic(name) not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()
