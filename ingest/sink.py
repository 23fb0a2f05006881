"""Where accepted records go: Kafka first, the local spool when Kafka is down or too slow.

The endpoint knows nothing of Kafka: it hands records to EventSink.publish and learns whether
they are in Kafka (200) or safely spooled (202).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from enum import Enum

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from clickpulse.settings import Settings
from ingest.metrics import Metrics
from ingest.spool import Record, Spool, SpoolFull

log = logging.getLogger(__name__)


class Outcome(Enum):
    PUBLISHED = "published"
    SPOOLED = "spooled"


class EventSink:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.spool = Spool(settings.data_dir / "ingest-spool", settings.spool_max_bytes)
        self._producer: AIOKafkaProducer | None = None
        self._replayer: asyncio.Task[None] | None = None
        self._kafka_ok = asyncio.Event()

    async def start(self) -> None:
        self._replayer = asyncio.create_task(self._replay_forever())

    async def stop(self) -> None:
        if self._replayer:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        if self._producer:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 10)

    @property
    def ready(self) -> bool:
        return self._producer is not None and self._kafka_ok.is_set()

    async def _connect(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=2,
                request_timeout_ms=15000,
                client_id="clickpulse-ingest",
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def publish(self, records: list[Record]) -> Outcome:
        if not records:
            return Outcome.PUBLISHED
        # While spooled batches wait, new ones queue behind them so order per visitor holds.
        if not self.spool.has_pending:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(self._send(records), self.settings.produce_deadline_s)
                self.metrics.observe_produce(time.perf_counter() - started)
                self._kafka_ok.set()
                return Outcome.PUBLISHED
            except (TimeoutError, KafkaError, OSError) as exc:
                log.warning("kafka unavailable (%s); spooling %d records", type(exc).__name__, len(records))
                self._kafka_ok.clear()
        try:
            self.spool.append(records)
        except SpoolFull:
            self.metrics.inc("spool_full")
            raise
        self.metrics.inc("spooled_records", len(records))
        return Outcome.SPOOLED

    async def _send(self, records: list[Record]) -> None:
        producer = await self._connect()
        futures = [await producer.send(topic, value=value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)

    async def _replay_forever(self) -> None:
        while True:
            pending = self.spool.pending()
            if not pending:
                if self._producer is None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self._connect(), 5)
                        self._kafka_ok.set()
                await asyncio.sleep(0.5)
                continue
            for path in pending:
                try:
                    records = self.spool.read(path)
                    await asyncio.wait_for(self._send(records), 30)
                except (TimeoutError, KafkaError, OSError) as exc:
                    log.info("spool replay waits for kafka (%s)", type(exc).__name__)
                    await asyncio.sleep(1.0)
                    break
                self.spool.remove(path)
                self.metrics.inc("replayed_records", len(records))
            else:
                self._kafka_ok.set()
