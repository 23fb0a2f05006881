"""Kafka to ClickHouse. Offsets are committed only after the rows are written, and every table folds
copies together (events by id, sessions by id and version, signals by id), so a redelivered batch
changes no figure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from clickhouse_connect.driver.client import Client

from clickhouse.rows import (
    EVENT_COLUMNS,
    IDENTITY_COLUMNS,
    SESSION_COLUMNS,
    SIGNAL_COLUMNS,
    event_row,
    identity_row,
    session_row,
    signal_row,
)
from clickpulse.records import (
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
    event_decoder,
    identity_decoder,
    session_decoder,
    signal_decoder,
)
from clickpulse.settings import Settings

log = logging.getLogger(__name__)
LOADER_GROUP = "clickpulse-loader"


@dataclass(frozen=True, slots=True)
class Target:
    table: str
    columns: list[str]
    row: Callable[[ConsumerRecord], list[object]]


class Loader:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client
        db = settings.clickhouse_database
        self.signals_topic = settings.topic(INTENT_TOPIC)
        self.targets: dict[str, Target] = {
            settings.topic(EVENTS_TOPIC): Target(
                f"{db}.events", EVENT_COLUMNS, lambda m: event_row(event_decoder.decode(m.value))
            ),
            settings.topic(SESSIONS_TOPIC): Target(
                f"{db}.sessions", SESSION_COLUMNS, lambda m: session_row(session_decoder.decode(m.value))
            ),
            self.signals_topic: Target(
                f"{db}.intent_signals",
                SIGNAL_COLUMNS,
                lambda m: signal_row(signal_decoder.decode(m.value), m.partition, m.offset),
            ),
            settings.topic(IDENTITIES_TOPIC): Target(
                f"{db}.identity_links", IDENTITY_COLUMNS, lambda m: identity_row(identity_decoder.decode(m.value))
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

    def _new_signals(self, rows: list[list[object]]) -> list[list[object]]:
        """A worker that crashed may emit a signal again at a new offset: keep only ids not yet stored.
        One visitor's signals always land in one partition, which only this loader writes."""
        ids = list({str(r[1]) for r in rows})
        stored = {
            row[0]
            for row in self.client.query(
                f"SELECT id FROM {self.settings.clickhouse_database}.intent_signals WHERE id IN {{ids:Array(String)}}",
                parameters={"ids": ids},
            ).result_rows
        }
        fresh, seen = [], set(stored)
        for row in rows:
            if row[1] not in seen:
                seen.add(row[1])
                fresh.append(row)
        return fresh

    def write(self, messages: list[ConsumerRecord]) -> int:
        """Convert and insert one polled batch; return the row count."""
        rows: dict[str, list[list[object]]] = {topic: [] for topic in self.targets}
        for message in messages:
            try:
                rows[message.topic].append(self.targets[message.topic].row(message))
            except Exception:
                # A record we cannot decode is a producer bug; skip it loudly rather than stall.
                self.failed_records += 1
                log.exception("undecodable record at %s:%s:%s", message.topic, message.partition, message.offset)
        if rows[self.signals_topic]:
            rows[self.signals_topic] = self._new_signals(rows[self.signals_topic])
        written = 0
        for topic, batch in rows.items():
            if batch:
                target = self.targets[topic]
                self.client.insert(target.table, batch, column_names=target.columns)
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
