"""Whether an aiokafka consumer takes part in its group: the worker's and the loader's readiness."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer


def in_group(consumer: AIOKafkaConsumer) -> bool:
    """A member id and a known group coordinator. With Kafka away the consumer keeps its last assignment, but it
    has marked the coordinator dead; once the group has dropped it (a missed session) its member id is gone too."""
    coordinator = consumer._coordinator
    return bool(getattr(coordinator, "member_id", "")) and getattr(coordinator, "coordinator_id", None) is not None
