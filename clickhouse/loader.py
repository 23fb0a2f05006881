"""Kafka to ClickHouse. Offsets are committed only after the rows are written, and every table folds
copies together (events by id, sessions by id and version, signals by Kafka position, and a signal
emitted again at a new position is not written), so a redelivered batch changes no figure. Records of
an erased visitor gathered before their erasure are never written (clickhouse/erasures.py);
a visitor found linked to an erased customer is forgotten by the workers too."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from clickhouse.erasures import ErasedVisitors, delete_rows
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
from clickpulse.kafka_consumer_stop import finish_interrupted_stop
from clickpulse.outage_log import OutageLog
from clickpulse.records import (
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
    Erasure,
    event_decoder,
    identity_decoder,
    session_decoder,
    signal_decoder,
)
from clickpulse.settings import Settings
from clickpulse.worker_erasures import tell_workers

log = logging.getLogger(__name__)
LOADER_GROUP = "clickpulse-loader"
# While nothing arrives the loader asks ClickHouse this often whether it answers, for its /readyz.
PING_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class Target:
    table: str
    columns: list[str]
    decode: Callable[[bytes], Any]
    row: Callable[[Any, ConsumerRecord], list[object]]
    # When a record's data was gathered: an erasure requested at or after it covers the record.
    gathered_at: Callable[[Any], int]


class Loader:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client
        db = settings.clickhouse_database
        self.signals_topic = settings.topic(INTENT_TOPIC)
        self.targets: dict[str, Target] = {
            settings.topic(EVENTS_TOPIC): Target(
                f"{db}.events", EVENT_COLUMNS, event_decoder.decode, lambda e, _: event_row(e), lambda e: e.received_at
            ),
            settings.topic(SESSIONS_TOPIC): Target(
                f"{db}.sessions",
                SESSION_COLUMNS,
                session_decoder.decode,
                lambda s, _: session_row(s),
                lambda s: s.start,
            ),
            self.signals_topic: Target(
                f"{db}.intent_signals",
                SIGNAL_COLUMNS,
                signal_decoder.decode,
                lambda s, m: signal_row(s, m.partition, m.offset),
                lambda s: s.at,
            ),
            settings.topic(IDENTITIES_TOPIC): Target(
                f"{db}.identity_links",
                IDENTITY_COLUMNS,
                identity_decoder.decode,
                lambda link, _: identity_row(link),
                lambda link: link.at,
            ),
        }
        self.erased = ErasedVisitors(client, db)
        self.loaded = 0
        self.rows: Counter[str] = Counter()  # per table, without the database
        self.failed_records = 0
        self.erased_records = 0
        self.batches = 0
        self.last_flush_at = 0.0  # epoch s of the last committed batch
        # Whether ClickHouse answered the last write or ping (None: not asked yet).
        self.clickhouse_answered: bool | None = None
        self._asked_clickhouse_at = 0.0
        # The running consumer and the next offset per partition it has loaded up to, for readiness and lag.
        self.consumer: AIOKafkaConsumer | None = None
        self.next_offsets: dict[TopicPartition, int] = {}
        self._outage = OutageLog(log)
        # Visitors (and erasure times) whose rows this process has deleted after skipping their records: their
        # later skipped records, the usual tail of an erasure, need no further delete.
        self._swept: set[tuple[str, str, int]] = set()

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
        self.erased.refresh()
        rows: dict[str, list[list[object]]] = {topic: [] for topic in self.targets}
        visitors: set[tuple[str, str]] = set()
        covered: set[tuple[str, str]] = set()
        linked_to_erased: set[tuple[str, str]] = set()
        for message in messages:
            target = self.targets[message.topic]
            try:
                record = target.decode(message.value)
                gathered_at = target.gathered_at(record)
                # A link to an erased customer that was still in Kafka when the API looked up their visitors.
                customer_erased_at = self.erased.customer_erased_at(record.site_id, record.customer_id, gathered_at)
                if customer_erased_at is not None and self.erased.erase(
                    record.site_id, record.visitor_id, customer_erased_at
                ):
                    linked_to_erased.add((record.site_id, record.visitor_id))
                if self.erased.covers(record.site_id, record.visitor_id, gathered_at):
                    self.erased_records += 1
                    covered.add((record.site_id, record.visitor_id))
                    continue
                rows[message.topic].append(target.row(record, message))
                visitors.add((record.site_id, record.visitor_id))
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
                self.rows[target.table.rpartition(".")[2]] += len(batch)
                written += len(batch)
        # An erasure recorded while this batch was on its way may have deleted before these rows were in; a visitor
        # found linked to an erased customer has rows from earlier batches, and maybe from this one; and a record
        # skipped as erased may be a replay of one an attempt that crashed before its delete had inserted (once
        # per process is enough: this process's own attempts delete before they commit).
        erased_at = self.erased.requested_at
        replayed = {(s, v) for s, v in covered if (s, v, erased_at[(s, v)]) not in self._swept}
        for site_id, visitor_id in (self.erased.refresh() & visitors) | linked_to_erased | replayed:
            requested_at = erased_at[(site_id, visitor_id)]
            delete_rows(self.client, self.settings.clickhouse_database, site_id, [visitor_id], requested_at)
            self._swept.add((site_id, visitor_id, requested_at))
        return written

    async def forget_found(self) -> None:
        """The workers forget the visitors this batch found linked to an erased customer, then the erasures are
        logged: a loader that crashes before either finds the links again on replay and does both again."""
        found = self.erased.found()
        await tell_workers(self.settings, [Erasure(site_id=s, visitor_id=v, requested_at=at) for s, v, at in found])
        if found:
            await asyncio.to_thread(self.erased.log_found)

    async def _write(self, messages: list[ConsumerRecord]) -> int:
        try:
            written = await asyncio.to_thread(self.write, messages)
        except ClickHouseError:
            self._heard_from_clickhouse(False)
            raise
        self._heard_from_clickhouse(True)
        return written

    async def _ping_when_idle(self) -> None:
        if time.monotonic() - self._asked_clickhouse_at >= PING_EVERY_S:
            self._heard_from_clickhouse(await asyncio.to_thread(self.client.ping))

    def _heard_from_clickhouse(self, answered: bool) -> None:
        self.clickhouse_answered = answered
        self._asked_clickhouse_at = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            consumer = self.consumer = self._consumer()
            self.next_offsets.clear()
            try:
                await consumer.start()
                while not stop.is_set():
                    polled = await consumer.getmany(
                        timeout_ms=int(self.settings.loader_flush_s * 1000), max_records=self.settings.loader_batch_size
                    )
                    messages = [m for batch in polled.values() for m in batch]
                    if not messages:
                        await self._ping_when_idle()
                        continue
                    self.loaded += await self._write(messages)
                    await self.forget_found()
                    await consumer.commit()
                    self.batches += 1
                    self.last_flush_at = time.time()
                    self.next_offsets.update({tp: batch[-1].offset + 1 for tp, batch in polled.items() if batch})
            except asyncio.CancelledError:
                raise
            except KafkaConnectionError as exc:  # Kafka not up yet, or away: expected, and it comes back
                self._outage.failed("loader waits for kafka at %s: %s", self.settings.kafka_bootstrap, exc)
                await asyncio.sleep(2)
            except Exception:
                log.exception("loader failed; restarting in 2 s")
                await asyncio.sleep(2)
            finally:
                try:
                    await consumer.stop()
                except asyncio.CancelledError:  # Kafka away as the loader stops: `clickpulse loader` died of it
                    await finish_interrupted_stop(consumer)
                except Exception:  # a stop that fails leaves nothing to do: a new consumer starts, or we are done
                    log.debug("loader's consumer did not stop cleanly", exc_info=True)
