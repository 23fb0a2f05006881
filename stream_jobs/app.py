"""The Faust app: topics, the visitor table, and the agents wired to the pure logic modules."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import faust
import redis.asyncio as aioredis
from faust.types import EventT

from clickpulse.records import (
    EVENTS_TOPIC,
    SESSIONS_TOPIC,
    EnrichedEvent,
    Session,
    event_decoder,
    event_encoder,
)
from clickpulse.settings import Settings, get_settings
from stream_jobs.live_state import LiveState
from stream_jobs.sessionizer import (
    VisitorState,
    Windowing,
    apply,
    close_idle,
    current_records,
    state_decoder,
    state_encoder,
)

HEARTBEAT_KEY = "cp:worker:{worker}:heartbeat"


def windowing(settings: Settings) -> Windowing:
    return Windowing(settings.session_gap_s * 1000, settings.session_grace_s * 1000, settings.session_max_s * 1000)


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "worker"),
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        producer_acks=-1,
        broker_commit_every=settings.worker_batch_size,
    )
    events_topic = app.topic(
        settings.topic(EVENTS_TOPIC), key_type=bytes, value_type=bytes, partitions=settings.topic_partitions
    )
    sessions_topic = app.topic(
        settings.topic(SESSIONS_TOPIC), key_type=bytes, value_type=bytes, partitions=settings.topic_partitions
    )
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
    redis = aioredis.Redis.from_url(settings.redis_url)
    live = LiveState(redis)
    w = windowing(settings)
    reemitted_generation = [-1]

    async def emit(records: list[Session]) -> None:
        for record in records:
            key = f"{record.site_id}:{record.visitor_id}".encode()
            await sessions_topic.send(key=key, value=event_encoder.encode(record))

    def load(key: bytes, first: EnrichedEvent) -> VisitorState:
        raw = visitors.get(key)
        return state_decoder.decode(raw) if raw else VisitorState(site_id=first.site_id, visitor_id=first.visitor_id)

    @app.agent(events_topic, concurrency=1)
    async def sessionize(stream: faust.StreamT) -> None:
        batch: list[EventT]
        async for batch in stream.take_events(settings.worker_batch_size, within=settings.worker_batch_within_s):
            wall = int(time.time() * 1000)
            per_visitor: dict[bytes, list[tuple[int, EnrichedEvent]]] = defaultdict(list)
            decoded: list[EnrichedEvent] = []
            for event in batch:
                record = event_decoder.decode(event.message.value)
                decoded.append(record)
                per_visitor[event.message.key].append((event.message.offset, record))
            late: Counter[str] = Counter()
            out: list[Session] = []
            for key, items in per_visitor.items():
                state = load(key, items[0][1])
                result = apply(state, items, w, wall)
                visitors[key] = state_encoder.encode(state)
                out.extend(result.emitted)
                if result.late:
                    late[state.site_id] += result.late
            await emit(out)
            await live.record(decoded, late, wall)

    @app.timer(interval=settings.session_sweep_s)
    async def close_sessions() -> None:
        wall = int(time.time() * 1000)
        await redis.set(HEARTBEAT_KEY.format(worker=settings.worker_id), wall, ex=30)
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return
        # After a restart or rebalance, re-emit what the table holds: a crash may have lost the
        # last batch's outputs while its table writes survived. Same versions, so it is idempotent.
        reemit = app.consumer_generation_id != reemitted_generation[0]
        for key, raw in list(visitors.items()):
            if raw is None:
                continue
            state = state_decoder.decode(raw)
            if reemit:
                await emit(current_records(state))
            closed = close_idle(state, w, wall)
            if closed:
                await emit(closed)
                visitors[key] = state_encoder.encode(state)
        reemitted_generation[0] = app.consumer_generation_id

    return app


app = create_app(get_settings())
