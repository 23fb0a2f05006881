"""Kafka to ClickHouse. Offsets are committed only after the rows are written; the tables are
ReplacingMergeTrees keyed by event id, session id and signal offset, so a redelivered batch
changes no figure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from clickhouse_connect.driver.client import Client

from clickhouse.rows import EVENT_COLUMNS, SESSION_COLUMNS, SIGNAL_COLUMNS, event_row, session_row, signal_row
from clickpulse.records import (
    EVENTS_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
    event_decoder,
    session_decoder,
    signal_decoder,
)
from clickpulse.settings import Settings

log = logging.getLogger(__name__)
LOADER_GROUP = "clickpulse-loader"


class Loader:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client
        db = settings.clickhouse_database
        self.targets: dict[str, tuple[str, list[str], Callable[[ConsumerRecord], list[object]]]] = {
            settings.topic(EVENTS_TOPIC): (
                f"{db}.events",
                EVENT_COLUMNS,
                lambda m: event_row(event_decoder.decode(m.value)),
            ),
            settings.topic(SESSIONS_TOPIC): (
                f"{db}.sessions",
                SESSION_COLUMNS,
                lambda m: session_row(session_decoder.decode(m.value)),
            ),
            settings.topic(INTENT_TOPIC): (
                f"{db}.intent_signals",
                SIGNAL_COLUMNS,
                lambda m: signal_row(signal_decoder.decode(m.value), m.partition, m.offset),
            ),
        }
        self.loaded = 0
        self.failed_records = 0

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.targets,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=LOADER_GROUP,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.loader_batch_size,
            client_id="clickpulse-loader",
        )

    def write(self, messages: list[ConsumerRecord]) -> int:
        """Convert and insert one polled batch; return the row count."""
        rows: dict[str, list[list[object]]] = {topic: [] for topic in self.targets}
        for message in messages:
            try:
                rows[message.topic].append(self.targets[message.topic][2](message))
            except Exception:
                # A record we cannot decode is a producer bug; skip it loudly rather than stall.
                self.failed_records += 1
                log.exception("undecodable record at %s:%s:%s", message.topic, message.partition, message.offset)
        written = 0
        for topic, batch in rows.items():
            if batch:
                table, columns, _ = self.targets[topic]
                self.client.insert(table, batch, column_names=columns)
                written += len(batch)
        return written

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            consumer = self._consumer()
            try:
                await consumer.start()
                while not stop.is_set():
                    polled = await consumer.getmany(
                        timeout_ms=int(self.settings.loader_flush_s * 1000), max_records=self.settings.loader_batch_size
                    )
                    messages = [m for batch in polled.values() for m in batch]
                    if not messages:
                        continue
                    self.loaded += await asyncio.to_thread(self.write, messages)
                    await consumer.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("loader failed; restarting in 2 s")
                await asyncio.sleep(2)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
