"""Stopping an aiokafka consumer while Kafka is away: aiokafka 0.14's Fetcher.close re-raises the cancellation of a
fetch that was backing off after a failed request, so the consumer's stop raises CancelledError half-way, before it
closes its connections, though nothing cancelled the task that called it."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer


async def finish_interrupted_stop(consumer: AIOKafkaConsumer) -> None:
    """Call where the consumer's stop raised CancelledError: re-raise it if the calling task is really being
    cancelled, else do what the stop had left to do after its fetcher."""
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        raise asyncio.CancelledError
    await consumer._client.close()
