"""A Faust app whose consumer hands one topic's records to a handler a whole batch at a time.

Faust delivers every message on its own: a ConsumerMessage, a task racing its delivery against
flow control, an Event in a channel queue, stream iteration, sensors and an ack, about 150-200 us
of CPU per message, several times the worker's own work. This consumer takes the records of the
batch topic straight from the fetched record lists, hands them to the handler in batches of up to
`size` records (waiting at most `within` seconds to fill one) and, once the batch is finished, acks
their offsets in Faust's own ack books, so Faust's commit machinery (flush the producer, then commit
the offsets) commits only offsets whose outputs are out. Every other topic (table changelogs during recovery,
erasures) takes Faust's ordinary per-message path, except a recovering table partition's changelog records:
they are written into the store a fetched list at a time (stream_jobs.changelog_restore). Group membership,
assignment, rebalances, recovery, tables, timers and commits stay Faust's.

One batch is handled at a time (the semantics of an agent with concurrency=1). The handler returns
what finishes its batch (waiting for Kafka to acknowledge its outputs, say); the next batch is taken
and handled while that runs, and finished only after it, so at most two batches are in flight. A
rebalance or a stop waits for both before Faust commits (wait_empty), and a stop lets them finish
rather than cancel them half-written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from time import monotonic
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from faust.types.transports import TransportT
from faust.types.tuples import ack_lock
from mode import ServiceT
from mode.utils.futures import notify

from clickpulse.kafka_consumer_stop import finish_interrupted_stop
from clickpulse.kafka_group_membership import in_group
from stream_jobs.changelog_restore import restore_directly

# Faust long-polls fetches for 1.5 s, and aiokafka keeps one fetch in flight per broker: while it waits on
# partitions with nothing new (the erasures topic, a drained partition), a partition whose buffer runs dry
# cannot be fetched again, and the worker idles up to 1.5 s with events waiting in Kafka.
FETCH_MAX_WAIT_MS = 50

Batch = Mapping[TP, list[ConsumerRecord]]
# Handles a batch and returns what finishes it; the batch's offsets are acked once that is done.
BatchHandler = Callable[[Batch], Awaitable[Awaitable[None]]]


class BatchRoute:
    def __init__(self, topic: str, handler: BatchHandler, size: int, within_s: float) -> None:
        self.topic = topic
        self.handler = handler
        self.size = size
        self.within_s = within_s


class BatchingApp(faust.App):
    """A Faust app with at most one topic routed to a batch handler (see `batches`)."""

    batch_route: BatchRoute | None = None

    def batches(self, topic: faust.TopicT, *, size: int, within_s: float) -> Callable[[BatchHandler], BatchHandler]:
        """Decorator: `handler` gets the topic's records in batches, per partition in offset order."""

        def register(handler: BatchHandler) -> BatchHandler:
            assert self.batch_route is None, "one batch topic per app"
            (name,) = topic.topics
            self.batch_route = BatchRoute(name, handler, size, within_s)
            self.topics.add(topic)  # the conductor subscribes to it and indexes its partitions
            return handler

        return register

    def _new_transport(self) -> TransportT:
        return BatchingTransport(self.conf.broker_consumer, self)


class ShortPollConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: aiokafka_driver.Transport) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer

    def in_group(self) -> bool:
        return self._consumer is not None and in_group(self._consumer)

    async def on_thread_stop(self) -> None:
        try:
            await super().on_thread_stop()
        except asyncio.CancelledError:
            # Kafka away as the worker stops: the thread died of it without saying it had stopped, and the worker
            # waited 60 s for it, past any supervisor's stop timeout.
            if self._consumer is not None:
                await finish_interrupted_stop(self._consumer)


class BatchingConsumer(aiokafka_driver.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batch: asyncio.Future[None] | None = None
        self._finishing: asyncio.Future[None] | None = None
        self._committing: asyncio.Future[bool] | None = None
        self._commit_again = False
        self.changelog_records_restored = 0  # by changelog_restore, a fetched list at a time

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return ShortPollConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def in_group(self) -> bool:
        thread = self._thread
        return isinstance(thread, ShortPollConsumerThread) and thread.in_group()

    def lag(self, topic: str) -> int:
        """Records of the topic's assigned partitions not yet read (Kafka's high watermark minus the next offset to
        read), for /metrics; partitions whose positions are not known yet count nothing."""
        lag = 0
        for tp in self.assignment():
            if tp.topic != topic:
                continue
            read, committed, highwater = self._read_offset[tp], self._committed_offset[tp], self.highwater(tp)
            position = read + 1 if read is not None else committed
            if highwater is not None and position is not None:
                lag += max(highwater - position, 0)
        return lag

    async def wait_empty(self) -> None:
        """What Faust waits for before it commits on a rebalance or a stop: the batches in flight too."""
        if self._batch is not None and not self._batch.done():
            await asyncio.wait([self._batch])
        if self._finishing is not None and not self._finishing.done():
            await asyncio.wait([self._finishing])
        await super().wait_empty()

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - runs in the worker
        route = self.app.batch_route if isinstance(self.app, BatchingApp) else None
        if route is None:
            return await super()._drain_messages(fetcher)
        stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set  # type: ignore[attr-defined]
        try:
            while not (stopped() or fetcher_stopped()):
                generation = self.app.consumer_generation_id
                batch = await self._fill_batch(route, generation)
                if self._finishing is not None and self._finishing.done():
                    self._finishing.result()  # a batch that failed to finish stops the worker, as one that failed
                # No await between this check and self._batch: a rebalance stops the flow before it waits
                # in wait_empty, so it either sees this batch or this batch is dropped.
                if batch and self._may_go_on(generation):
                    self._batch = asyncio.ensure_future(self._process(route, batch))
                    await asyncio.shield(self._batch)  # a stop cancels this wait, not the batch
        except (asyncio.CancelledError, *self.consumer_stopped_errors):
            if self.transport.app.should_stop:
                return
            raise

    def _commit_in_background(self) -> None:
        """Commit what the batch acked while the next batch is taken and processed: Faust's commit flushes
        the producer first, so what it commits has its outputs out. One commit at a time; a batch acked during one
        is committed right after it, not at Faust's next periodic commit (seconds later: a crash would replay it)."""
        if self._committing is not None and not self._committing.done():
            self._commit_again = True
            return
        self._commit_again = False
        self._committing = asyncio.ensure_future(self.commit())
        self._committing.add_done_callback(self._after_commit)

    def _after_commit(self, commit: asyncio.Future[bool]) -> None:
        if not commit.cancelled() and commit.exception() is not None:
            self.log.error("commit failed: %r", commit.exception())
        if self._commit_again and not self.should_stop:
            self._commit_in_background()

    def _may_go_on(self, generation: int) -> bool:
        return not self.should_stop and self.flow_active and self.app.consumer_generation_id == generation

    async def _fill_batch(self, route: BatchRoute, generation: int) -> dict[TP, list[ConsumerRecord]]:
        """Fetch until the route's topic has `size` records or `within_s` passed since the first of them;
        records of other topics go the per-message way meanwhile. A rebalance drops what was gathered:
        none of it is acked, and Faust seeks back to the committed offsets before the flow resumes."""
        batch: dict[TP, list[ConsumerRecord]] = {}
        n, deadline = 0, 0.0
        while n < route.size:
            timeout = deadline - monotonic() if n else 1.0
            if timeout <= 0:
                break
            records, active = await self._wait_next_records(timeout)
            await self.sleep(0)
            if not self._may_go_on(generation):
                if not self.flow_active and not self.should_stop:
                    await self._seek_after_flow_stop()
                return {}
            for aiotp, fetched in (records or {}).items():
                tp = TP(aiotp.topic, aiotp.partition)
                if active is not None and tp not in active and tp not in self._buffered_partitions:
                    continue
                fresh = await self._unread(tp, fetched)
                if not fresh:
                    continue
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                if tp.topic != route.topic:
                    restored, rest = restore_directly(self.app, tp, fresh)
                    self.changelog_records_restored += restored
                    for record in rest:
                        await self.wait_first(self.callback(self._to_message(tp, record)), self.suspend_flow.wait())
                        if not self._may_go_on(generation):
                            return {}
                    continue
                batch.setdefault(tp, []).extend(fresh)
                if not n:
                    deadline = monotonic() + route.within_s
                n += len(fresh)
        return batch

    async def _unread(self, tp: TP, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """Faust's read-offset rule: records below the read offset were seen already (a seek went back);
        a jump past it is a gap (compaction, transaction markers) that counts as acked."""
        read = self._read_offset[tp]
        if read is not None and records[0].offset < read:
            records = [r for r in records if r.offset >= read]
            if not records:
                return records
        if read and records[0].offset - read > 1 and self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, read + 1, records[0].offset)
        self._read_offset[tp] = records[-1].offset
        return records

    async def _seek_after_flow_stop(self) -> None:
        # As Faust's getmany does when the flow stopped under it (a rebalance).
        try:
            await self.perform_seek()
        except Exception as exc:
            self.log.warning("exception performing seek when flow not active %r", exc)

    async def _process(self, route: BatchRoute, batch: dict[TP, list[ConsumerRecord]]) -> None:
        inbound, now = self.app.monitor.stream_inbound_time, monotonic()
        for tp in batch:
            inbound[tp] = now  # what the livelock detector reads as "this partition's stream moves"
        finish = await route.handler(batch)
        if self._finishing is not None:
            await self._finishing  # the batch before: finished in order, and at most one waits while one is handled
        self._finishing = asyncio.ensure_future(self._finish(finish, batch))

    async def _finish(self, finish: Awaitable[None], batch: dict[TP, list[ConsumerRecord]]) -> None:
        await finish
        self._ack(batch)
        self._commit_in_background()

    def _ack(self, batch: dict[TP, list[ConsumerRecord]]) -> None:
        """Consumer.ack for every record of the batch, one step per partition."""
        with ack_lock:
            for tp, records in batch.items():
                committed = self._committed_offset[tp]
                index = self._acked_index[tp]
                offsets = [
                    r.offset for r in records if (committed is None or r.offset >= committed) and r.offset not in index
                ]
                index.update(offsets)
                self._acked[tp].extend(offsets)
                self._n_acked += len(offsets)
            notify(self._waiting_for_ack)


class BatchingTransport(aiokafka_driver.Transport):
    Consumer = BatchingConsumer
