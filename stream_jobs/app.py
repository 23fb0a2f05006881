"""The Faust app: topics, the visitor table, the batch handler of the events and the agents, wired to
the pure logic modules.

One table row per visitor (key = the events' key, site:visitor) holds their sessions and intent
state, written once per batch with its changelog record, which goes to Kafka only once the batch's outputs
(sessions, signals, identity links) are there: a row that says a signal was sent must never outlive a crash that
lost the signal. The events skip Faust's per-message
delivery (stream_jobs.batch_consumer): the consumer hands them over a batch at a time (up to
worker_batch_size events, waiting at most worker_batch_within_s to fill one), one batch in flight,
and acks the batch's offsets once its outputs, table writes and live counters are out; Faust
flushes the producer before it commits those offsets. Group membership, rebalances, the table's
changelog and RocksDB store, recovery, commits, the erasure agent and the sweep timer are Faust's.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import faust
import msgspec
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from faust.types import TP

from clickpulse.garbage_collection import freeze_start_up_objects
from clickpulse.records import (
    DLQ_TOPIC,
    ERASURES_TOPIC,
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
    DeadLetter,
    EnrichedEvent,
    IdentityLink,
    IntentSignal,
    Session,
    erasure_decoder,
    event_decoder,
    event_encoder,
    visitor_key,
)
from clickpulse.settings import Settings, get_settings
from stream_jobs import intent
from stream_jobs.batch_consumer import Batch, BatchingApp
from stream_jobs.kafka_partitioner import partition_of
from stream_jobs.live_state import LiveState
from stream_jobs.partition_batches import PartitionBatches, SentBatch
from stream_jobs.rocksdb_store import held_rows, persist_offset, read_row, write_row  # registers the table store
from stream_jobs.sessionizer import (
    VisitorState,
    Windowing,
    apply,
    forget,
    intent_visitor,
    state_decoder,
    state_encoder,
)
from stream_jobs.site_settings import SiteSettings
from stream_jobs.sweep import sweep_due, sweep_visitor
from stream_jobs.worker_metrics import WorkerMetrics

# The sweep takes rows this many at a time, each chunk's outputs and changelog records together, and lets the
# loop run between chunks.
ROWS_PER_TURN = 500


def windowing(settings: Settings) -> Windowing:
    return Windowing(settings.session_gap_s * 1000, settings.session_grace_s * 1000, settings.session_max_s * 1000)


class RowHandOffs:
    """The rows' changelog records of each batch, sweep and erasure, handed to Kafka once it has their outputs and
    after every earlier hand-off's, so no path queues a row's older value after a newer one."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def after(
        self, outputs: list[asyncio.Future[RecordMetadata]], send_rows: Callable[[], Awaitable[None]]
    ) -> asyncio.Future[None]:
        before = self._last

        async def hand_off() -> None:
            if outputs:
                await asyncio.gather(*outputs)
            if before is not None:
                await before
            await send_rows()

        self._last = asyncio.ensure_future(hand_off())
        return self._last

    def settled(self) -> bool:
        """Every row written locally has its changelog record queued (what a clean stop's checkpoint vouches for)."""
        last = self._last
        return last is None or (last.done() and not last.cancelled() and last.exception() is None)


def create_app(settings: Settings, metrics: WorkerMetrics, hand_offs: RowHandOffs) -> BatchingApp:
    datadir = settings.data_dir / "worker" / settings.worker_instance
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = BatchingApp(
        settings.worker_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.worker_store,
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        # The table's changelog topic, which Faust creates, is as safe as the topics ensure_topics creates.
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        # Batches of a few KB stall the producer a round trip each (aiokafka waits when a partition's batch
        # is full); big batches and a short linger carry a whole input batch's outputs in a few requests.
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=2 * 1024 * 1024,
        producer_linger=0.005,
        broker_commit_every=settings.worker_batch_size,
        broker_max_poll_records=settings.worker_batch_size,
        # A worker that dies is noticed in seconds, not the minute Faust waits by default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
    )

    def topic(name: str) -> faust.TopicT:
        return app.topic(settings.topic(name), key_type=bytes, value_type=bytes, partitions=settings.topic_partitions)

    events_topic, sessions_topic, intent_topic, identities_topic = (
        topic(EVENTS_TOPIC),
        topic(SESSIONS_TOPIC),
        topic(INTENT_TOPIC),
        topic(IDENTITIES_TOPIC),
    )
    erasures_topic = topic(ERASURES_TOPIC)
    # Keyed by the events' own key; use_partitioner puts each key in the changelog partition the
    # default partitioner gives it, which is the partition the key's events arrive on.
    visitors = app.Table(
        "visitors",
        default=None,
        partitions=settings.topic_partitions,
        use_partitioner=True,
        key_type=bytes,
        value_type=bytes,
    )
    # A Redis that hangs rather than refuses must not hold a batch for ever: live state is best-effort.
    redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
    live = LiveState(redis)
    site_settings = SiteSettings(redis)
    w = windowing(settings)
    swept_generation = [-1]  # the consumer generation whose full sweep is done
    # When the sweep has something to do for each of this worker's visitors that has something open
    # (stream_jobs.sweep.sweep_due): the batch path and the sweep set it as they leave a row, a full sweep rebuilds it.
    # It follows the site's settings of that moment: a gap shortened later reaches a visitor at their next row change.
    due_at: dict[bytes, int] = {}

    def schedule_sweep(key: bytes, state: VisitorState, windowing: Windowing, tuning: intent.IntentSettings) -> None:
        due = sweep_due(state, windowing, tuning)
        if due is None:
            due_at.pop(key, None)
        else:
            due_at[key] = due

    # Held by every path that changes rows (batches, the sweep, erasures) from its first row write until its
    # changelog hand-off is in line (outputs_then_rows), so no path queues a row's older value after a newer one.
    rows_lock = asyncio.Lock()
    Change = tuple[bytes, bytes, int]  # a row written locally (key, value, partition), its changelog record to go

    def kafka_producer() -> AIOKafkaProducer:
        return app.producer._ensure_producer()  # the aiokafka client under Faust's producer

    async def emit(
        sessions: list[Session], signals: list[IntentSignal], links: list[IdentityLink]
    ) -> list[asyncio.Future[RecordMetadata]]:
        """Queue the records straight into the Kafka client, a partition's batch at a time, without Faust's
        one-message-at-a-time send buffer; the futures settle once Kafka has them."""
        metrics.records_emitted(len(sessions), len(signals), len(links))
        batches = PartitionBatches(kafka_producer())
        for records, out in ((sessions, sessions_topic), (signals, intent_topic), (links, identities_topic)):
            if not records:
                continue
            encoded = [(visitor_key(r.site_id, r.visitor_id), event_encoder.encode(r)) for r in records]
            await batches.add_keyed(out.get_topic_name(), encoded)
        return [sent.acked for sent in await batches.send()]

    def outputs_then_rows(outputs: list[asyncio.Future[RecordMetadata]], changes: list[Change]) -> asyncio.Future[None]:
        """The rows' changelog records go once Kafka has the outputs, and after every earlier hand-off's. A crash
        before then restores the rows as they were, so the events are applied again and their outputs sent again
        under the same ids, which everything downstream folds together; the other order could restore rows whose
        signals never left. Faust flushes the producer before it commits the batch's offsets, which are acked only
        once this is done, so nothing is acknowledged before both are out."""

        async def send_rows() -> None:
            batches = PartitionBatches(kafka_producer())
            for key, value, partition in changes:
                batches.add(changelog, partition, key, value)
            last = {sent.partition: sent for sent in await batches.send()}  # a partition's batches settle in order
            for sent in last.values():
                sent.acked.add_done_callback(functools.partial(persist_changelog_offset, sent))

        return hand_offs.after(outputs, send_rows)

    changelog = visitors.changelog_topic.get_topic_name()

    def persist_changelog_offset(sent: SentBatch, acked: asyncio.Future[RecordMetadata]) -> None:
        if not acked.cancelled() and acked.exception() is None:
            persist_offset(visitors.data, TP(changelog, sent.partition), sent.last_offset())

    def write(key: bytes, state: VisitorState, partition: int) -> Change:
        """The local table write; its changelog record goes with outputs_then_rows."""
        value = state_encoder.encode(state)
        write_row(visitors.data, partition, key, value)
        return key, value, partition

    dlq = settings.topic(DLQ_TOPIC)

    async def dead_letter(value: bytes | None, key: bytes | None, reason: str) -> None:
        site_id = (key or b"").split(b":", 1)[0].decode("latin-1")
        letter = DeadLetter.of(reason, value or b"", site_id, "worker", int(time.time() * 1000))
        metrics.dead_letters += 1
        await app.producer.send(dlq, key, msgspec.json.encode(letter), None, None, None)

    def load(partition: int, key: bytes, first: EnrichedEvent) -> VisitorState:
        raw = read_row(visitors.data, partition, key)
        return state_decoder.decode(raw) if raw else VisitorState(site_id=first.site_id, visitor_id=first.visitor_id)

    @app.batches(events_topic, size=settings.worker_batch_size, within_s=settings.worker_batch_within_s)
    async def process(batch: Batch) -> Awaitable[None]:
        """Apply the batch and queue its outputs; what it returns finishes the batch (see finish), which the
        consumer runs while it takes and applies the next one: waiting for Kafka's acks no longer stalls the
        worker."""
        started = time.perf_counter()
        async with rows_lock:
            return await apply_batch(batch, started)

    async def apply_batch(batch: Batch, started: float) -> Awaitable[None]:
        await site_settings.refresh_if_stale()
        wall = int(time.time() * 1000)
        per_visitor: dict[bytes, list[tuple[int, EnrichedEvent]]] = {}
        partition_of_key: dict[bytes, int] = {}
        decode = event_decoder.decode
        for tp, messages in batch.items():
            for message in messages:
                try:
                    record = decode(message.value)
                except msgspec.DecodeError as exc:
                    # One bad record must not stop its partition (a restart would meet it again): it goes
                    # to the dead letters with its reason, as ingest's rejects do.
                    await dead_letter(message.value, message.key, f"undecodable_event: {str(exc)[:120]}")
                    continue
                items = per_visitor.get(message.key)
                if items is None:
                    items = per_visitor[message.key] = []
                    partition_of_key[message.key] = tp.partition
                items.append((message.offset, record))
        late: Counter[str] = Counter()
        sessions: list[Session] = []
        signals: list[IntentSignal] = []
        links: list[IdentityLink] = []
        # Only what the sessionizer applied counts as live: a retry, a replay or a redelivered batch is a
        # duplicate there, and late or erased events are not "now".
        applied: list[EnrichedEvent] = []
        changes: list[Change] = []
        for key, items in per_visitor.items():
            partition = partition_of_key[key]
            state = load(partition, key, items[0][1])
            site_windowing = site_settings.windowing(state.site_id, w)
            result = apply(state, items, site_windowing, wall)
            tuning = site_settings.intent(state.site_id)
            for event, session_index in result.applied:
                applied.append(event)
                if not event.is_bot:
                    signals += intent.observe(state.intent, event, intent_visitor(state, session_index), tuning)
            links += result.links
            changes.append(write(key, state, partition))
            schedule_sweep(key, state, site_windowing, tuning)
            sessions += result.emitted
            if result.late:
                late[state.site_id] += result.late
        hand_off = outputs_then_rows(await emit(sessions, signals, links), changes)
        events = sum(len(messages) for messages in batch.values())
        return finish(hand_off, applied, signals, late, wall, events, started)

    async def finish(
        hand_off: Awaitable[None],
        applied: list[EnrichedEvent],
        signals: list[IntentSignal],
        late: Counter[str],
        wall: int,
        events: int,
        started: float,
    ) -> None:
        """Live state counts what Kafka has: a crash before this re-applies the batch, which then counts."""
        await hand_off
        await live.record(applied, late, wall, signals)
        metrics.batch_done(events, len(applied), sum(late.values()), time.perf_counter() - started, time.time())

    @app.task
    async def tune_garbage_collector() -> None:
        freeze_start_up_objects()

    @app.agent(erasures_topic, concurrency=1)
    async def erase(stream: faust.StreamT) -> None:
        """A visitor asked to be forgotten: their sessions and intent state leave the table, and so do their live
        presence, feed items and signals. The row keeps when they asked, so their events still in Kafka are skipped
        too."""
        async for event in stream.events():
            key, partition = event.message.key, event.message.partition
            try:
                erasure = erasure_decoder.decode(event.message.value)
            except msgspec.DecodeError as exc:
                await dead_letter(event.message.value, key, f"undecodable_erasure: {str(exc)[:120]}")
                continue
            async with rows_lock:
                raw = read_row(visitors.data, partition, key)
                state = state_decoder.decode(raw) if raw else VisitorState(erasure.site_id, erasure.visitor_id)
                await outputs_then_rows([], [write(key, forget(state, erasure.requested_at), partition)])
            await live.forget(erasure.site_id, erasure.visitor_id)
            metrics.erasures += 1

    async def sweep_rows(rows: list[tuple[bytes, int]], generation: int, wall: int) -> bool:
        """Sweep these rows (key, partition); False if a rebalance or the app's stop began, which stops at the row it
        meets (what was swept is sent)."""
        closed: list[Session] = []
        signals: list[IntentSignal] = []
        changes: list[Change] = []
        went_on = True
        for key, partition in rows:
            # A stopping app closes the table's stores before it cancels this timer: a row read then would open its
            # partition's RocksDB again, fail on the lock this process holds, and crash the stop (the store rebuilt).
            if app.should_stop or app.rebalancing or app.consumer_generation_id != generation:
                went_on = False
                break
            raw = read_row(visitors.data, partition, key)
            if raw is None:
                due_at.pop(key, None)
                continue
            state = state_decoder.decode(raw)
            site_windowing, tuning = site_settings.windowing(state.site_id, w), site_settings.intent(state.site_id)
            ended, raised = sweep_visitor(state, site_windowing, tuning, wall)
            schedule_sweep(key, state, site_windowing, tuning)
            if ended or raised:
                changes.append(write(key, state, partition))
                closed += ended
                signals += raised
        if changes:  # a row changes exactly when the sweep ended a session or raised a signal
            await outputs_then_rows(await emit(closed, signals, []), changes)
            if signals:
                await live.record([], Counter(), wall, signals)
        return went_on

    @app.timer(interval=settings.session_sweep_s)
    async def sweep() -> None:
        """Close idle sessions and flag abandoned carts: of the visitors due, or of all after a start or rebalance."""
        wall = int(time.time() * 1000)
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return
        generation = app.consumer_generation_id
        # A new generation may have brought partitions whose visitors need sweeping and taken others: the full sweep
        # visits every row this worker now holds and rebuilds due_at. It sends nothing again: a row's changelog
        # record goes only once Kafka has its outputs (outputs_then_rows), and a store no clean stop vouches for is
        # rebuilt from the changelog (store_checkpoint), so no row this worker holds says more than Kafka got.
        if generation != swept_generation[0]:
            due_at.clear()
            rows = held_rows(visitors.data)
        else:
            # The partition the key's events arrive on, which use_partitioner makes its changelog's.
            n = settings.topic_partitions
            rows = iter([(key, partition_of(key, n)) for key, due in due_at.items() if due <= wall])
        # A turn of the loop between chunks of rows, so heartbeats and batches go on while it reads millions.
        while chunk := list(itertools.islice(rows, ROWS_PER_TURN)):
            async with rows_lock:
                went_on = await sweep_rows(chunk, generation, wall)
            if not went_on:
                return  # these rows may be another worker's now; the next sweep starts over
            await asyncio.sleep(0)
        swept_generation[0] = generation

    return app


metrics = WorkerMetrics()
hand_offs = RowHandOffs()
app = create_app(get_settings(), metrics, hand_offs)
