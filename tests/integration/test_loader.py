"""The loader against real Kafka and embedded chDB: redelivered records change no figure, and an erased
visitor's records still in Kafka are never written, nor are those of a visitor they link to an erased customer
(whom the workers are told to forget too)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from clickhouse_connect.driver.client import Client

from api.queries import StatsQueries
from clickhouse.client import connect
from clickhouse.erasures import ErasedVisitors, delete_rows, erase_customer, erase_visitors, log_erasures
from clickhouse.loader import Loader
from clickhouse.loader_probes import run_with_probes
from clickhouse.migrate import apply_migrations
from clickhouse.rows import EVENT_COLUMNS, event_row
from clickpulse.records import (
    ERASURES_TOPIC,
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    SESSIONS_TOPIC,
    EnrichedEvent,
    Erasure,
    IdentityLink,
    Session,
    erasure_decoder,
    event_encoder,
)
from clickpulse.settings import Settings
from clickpulse.topics import ensure_topics
from tests.kafka_records import put_records
from tests.running_stack import TEST_PORT_BASE, RunningStack

pytestmark = pytest.mark.integration
NOW = 1_790_000_000_000
PROBE_PORT = TEST_PORT_BASE + 601


def events() -> list[EnrichedEvent]:
    return [
        EnrichedEvent(
            event_id=f"e{i}",
            site_id="s",
            visitor_id=f"v{i % 3}",
            type="pageview",
            ts=NOW + i,
            received_at=NOW,
            ip="203.0.113.0",
        )
        for i in range(10)
    ]


def sessions() -> list[Session]:
    common = {"site_id": "s", "visitor_id": "v0", "start": NOW, "end": NOW + 5000}
    return [
        Session(session_id="a", version=1, pageviews=1, **common),
        Session(session_id="a", version=3, pageviews=4, bounce=False, **common),
        Session(session_id="b", version=2, pageviews=1, **common),
        Session(session_id="b", version=5, pageviews=1, deleted=True, **common),  # merged into "a"
    ]


def produce(settings: Settings, records: list[tuple[str, bytes]]) -> None:
    put_records(settings.kafka_bootstrap, [(topic, b"s:v", value) for topic, value in records])


async def consume_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    """(key, value) of every record on the topic so far."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        polled = await consumer.getmany(timeout_ms=3000)
        return [(m.key, m.value) for batch in polled.values() for m in batch]
    finally:
        await consumer.stop()


def fresh_pipeline(stack: RunningStack, tmp_path: Path) -> tuple[Settings, Client, str]:
    """Topics of the test's own on the running Kafka, and an empty warehouse in tmp_path."""
    settings = stack.settings.model_copy(
        update={"topic_prefix": f"it-{uuid.uuid4().hex[:8]}-", "clickhouse_dsn": f"chdb://{tmp_path / 'ch'}"}
    )
    client = connect(settings)
    apply_migrations(client, settings.clickhouse_database)
    asyncio.run(ensure_topics(settings))
    return settings, client, settings.clickhouse_database


async def load_until(loader: Loader, records: int) -> None:
    """Run the loader until it has taken this many records from Kafka, written or dropped as erased."""
    stop = asyncio.Event()
    task = asyncio.create_task(loader.run(stop))
    for _ in range(300):
        if loader.loaded + loader.erased_records >= records:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 30)


def test_redelivered_events_and_session_versions_count_once(stack: RunningStack, tmp_path: Path) -> None:
    settings, client, _ = fresh_pipeline(stack, tmp_path)
    ev_topic, s_topic = settings.topic(EVENTS_TOPIC), settings.topic(SESSIONS_TOPIC)
    records = [(ev_topic, event_encoder.encode(e)) for e in events()]
    records += [(s_topic, event_encoder.encode(s)) for s in sessions()]
    produce(settings, records)
    asyncio.run(load_until(Loader(settings, client), records=14))
    # The same records again, as after a crash between insert and offset commit.
    produce(settings, records)
    second = Loader(settings, client)
    asyncio.run(load_until(second, records=14))
    assert second.loaded == 14

    frm, to = dt.datetime.fromtimestamp(NOW / 1000 - 60, dt.UTC), dt.datetime.fromtimestamp(NOW / 1000 + 60, dt.UTC)
    stats = StatsQueries(client, settings.clickhouse_database).stats("s", frm, to, include_bots=False)
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (10, 3, 1)
    assert stats["bounce_rate"] == 0.0
    networks = client.query(f"SELECT DISTINCT ip FROM {settings.clickhouse_database}.events").result_rows
    assert networks == [("203.0.113.0",)]


def test_an_erased_visitors_records_still_in_kafka_are_not_written_but_later_ones_are(
    stack: RunningStack, tmp_path: Path
) -> None:
    settings, client, db = fresh_pipeline(stack, tmp_path)
    ev_topic, s_topic = settings.topic(EVENTS_TOPIC), settings.topic(SESSIONS_TOPIC)
    # v0's events and session were gathered by NOW; the visitor asks to be forgotten at NOW, before the loader runs.
    erase_visitors(client, db, "s", ["v0"], requested_at=NOW)
    after = EnrichedEvent(
        event_id="late", site_id="s", visitor_id="v0", type="pageview", ts=NOW + 9, received_at=NOW + 1
    )
    records = [(ev_topic, event_encoder.encode(e)) for e in [*events(), after]]
    records += [(s_topic, event_encoder.encode(s)) for s in sessions()]
    produce(settings, records)
    loader = Loader(settings, client)
    asyncio.run(load_until(loader, records=15))

    assert loader.loaded == 7 and loader.erased_records == 8  # v0: 4 events and 4 session versions
    v0_events = client.query(f"SELECT event_id FROM {db}.events WHERE visitor_id = 'v0'").result_rows
    assert v0_events == [("late",)]
    assert client.query(f"SELECT count() FROM {db}.sessions").result_rows == [(0,)]


def test_rows_a_crashed_load_inserted_for_a_visitor_erased_meanwhile_are_deleted_when_it_is_replayed(
    stack: RunningStack, tmp_path: Path
) -> None:
    settings, client, db = fresh_pipeline(stack, tmp_path)
    records = [(settings.topic(EVENTS_TOPIC), event_encoder.encode(e)) for e in events()]
    produce(settings, records)
    asyncio.run(load_until(Loader(settings, client), records=10))
    # v0 was erased while that load was under way: the API's delete ran before its insert landed, and the load
    # crashed before its own delete and its offset commit. Only the erasure log says v0 is gone.
    log_erasures(client, db, [("s", "v0", NOW)])
    produce(settings, records)  # redelivered after the crash
    replay = Loader(settings, client)
    asyncio.run(load_until(replay, records=10))

    assert replay.erased_records == 4
    left = client.query(f"SELECT DISTINCT visitor_id FROM {db}.events ORDER BY visitor_id").result_rows
    assert left == [("v1",), ("v2",)]


def test_a_visitor_whom_an_identify_still_in_kafka_links_to_an_erased_customer_is_forgotten_with_earlier_rows(
    stack: RunningStack, tmp_path: Path
) -> None:
    settings, client, db = fresh_pipeline(stack, tmp_path)

    def pageview(event_id: str, visitor_id: str, received_at: int) -> EnrichedEvent:
        return EnrichedEvent(
            event_id=event_id, site_id="s", visitor_id=visitor_id, type="pageview", ts=received_at,
            received_at=received_at,
        )  # fmt: skip

    # v5 browsed anonymously and is in the warehouse; the identify naming them as c1 is still in Kafka when c1
    # asks to be forgotten, so the API finds no visitor of c1.
    loaded_before = [pageview("old", "v5", NOW - 5000), pageview("other", "v6", NOW - 5000)]
    client.insert(f"{db}.events", [event_row(e) for e in loaded_before], column_names=EVENT_COLUMNS)
    assert erase_customer(client, db, "s", "c1", requested_at=NOW) == []
    in_kafka = [
        (settings.topic(EVENTS_TOPIC), pageview("before-link", "v5", NOW - 600)),
        (settings.topic(IDENTITIES_TOPIC), IdentityLink(site_id="s", visitor_id="v5", customer_id="c1", at=NOW - 500)),
        (settings.topic(EVENTS_TOPIC), pageview("after-link", "v5", NOW - 400)),
        (settings.topic(EVENTS_TOPIC), pageview("next-visit", "v5", NOW + 100)),  # after the erasure: kept
        (settings.topic(EVENTS_TOPIC), pageview("v6-later", "v6", NOW - 300)),
    ]
    produce(settings, [(topic, event_encoder.encode(record)) for topic, record in in_kafka])
    loader = Loader(settings, client)
    asyncio.run(load_until(loader, records=5))

    # The link is dropped; v5's events on either side of it in Kafka are dropped or deleted, as their topic's
    # batch comes before or after the link's.
    assert loader.erased_records >= 1
    left = client.query(f"SELECT visitor_id, event_id FROM {db}.events ORDER BY event_id").result_rows
    assert left == [("v5", "next-visit"), ("v6", "other"), ("v6", "v6-later")]
    assert client.query(f"SELECT count() FROM {db}.identity_links").result_rows == [(0,)]
    erased = ErasedVisitors(client, db)
    erased.refresh()
    assert erased.covers("s", "v5", NOW) and not erased.covers("s", "v5", NOW + 1)
    # The workers hear of it on the erasures topic, keyed like v5's events, and drop their state for v5.
    told = asyncio.run(consume_all(settings, settings.topic(ERASURES_TOPIC)))
    assert [(key, erasure_decoder.decode(value)) for key, value in told] == [
        (b"s:v5", Erasure(site_id="s", visitor_id="v5", requested_at=NOW))
    ]


def test_the_loader_learns_each_erasure_once_as_news_and_then_covers_what_was_gathered_before_it(
    tmp_path: Path,
) -> None:
    settings = Settings(clickhouse_dsn=f"chdb://{tmp_path / 'ch'}", data_dir=tmp_path)
    client, db = connect(settings), settings.clickhouse_database
    apply_migrations(client, db)
    erased = ErasedVisitors(client, db)
    assert erased.refresh() == set()
    erase_visitors(client, db, "s", ["v0"], requested_at=NOW)
    assert erased.refresh() == {("s", "v0")}
    assert erased.refresh() == set()  # news once: the loader deletes what it inserted only for new erasures
    assert erased.covers("s", "v0", NOW) and not erased.covers("s", "v0", NOW + 1)
    assert not erased.covers("s", "v1", NOW)
    erase_visitors(client, db, "s", ["v0"], requested_at=NOW + 5000)  # asked again later
    assert erased.refresh() == {("s", "v0")} and erased.covers("s", "v0", NOW + 1)


def test_rows_an_erasure_covers_are_deleted_and_those_gathered_after_it_stay(tmp_path: Path) -> None:
    settings = Settings(clickhouse_dsn=f"chdb://{tmp_path / 'ch'}", data_dir=tmp_path)
    client, db = connect(settings), settings.clickhouse_database
    apply_migrations(client, db)
    rows = [event_row(e) for e in events()]  # all received at NOW
    rows.append(event_row(EnrichedEvent(event_id="later", site_id="s", visitor_id="v0", type="pageview", ts=NOW,
                                        received_at=NOW + 10)))  # fmt: skip
    client.insert(f"{db}.events", rows, column_names=EVENT_COLUMNS)
    delete_rows(client, db, "s", ["v0", "v1"], gathered_by=NOW + 5)
    left = client.query(f"SELECT visitor_id, event_id FROM {db}.events ORDER BY event_id").result_rows
    assert sorted({v for v, _ in left}) == ["v0", "v2"] and ("v0", "later") in left and len(left) == 4


def test_the_loaders_readyz_goes_from_503_to_200_once_assigned_and_its_metrics_count_rows_per_table(
    stack: RunningStack, tmp_path: Path
) -> None:
    settings, client, _ = fresh_pipeline(stack, tmp_path)
    settings = settings.model_copy(update={"loader_http_port": PROBE_PORT})
    produce(settings, [(settings.topic(EVENTS_TOPIC), event_encoder.encode(e)) for e in events()])
    base = f"http://127.0.0.1:{PROBE_PORT}"

    async def probe() -> tuple[list[tuple[int, dict[str, object]]], str]:
        loader, stop = Loader(settings, client), asyncio.Event()
        task = asyncio.create_task(run_with_probes(loader, settings, stop))
        answers: list[tuple[int, dict[str, object]]] = []
        page = ""
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(600):
                await asyncio.sleep(0.05)
                try:
                    response = await http.get(f"{base}/readyz")
                except httpx.TransportError:
                    continue
                answers.append((response.status_code, response.json()))
                if response.status_code == 200 and loader.loaded >= 10:
                    page = (await http.get(f"{base}/metrics")).text
                    break
        stop.set()
        await asyncio.wait_for(task, 30)
        return answers, page

    try:
        answers, page = asyncio.run(probe())
    finally:
        client.close()  # an open chDB handle keeps its engine, and a process can hold one engine path only
    assert answers[0][0] == 503 and answers[0][1]["ready"] is False
    assert answers[-1] == (200, {"ready": True, "member": True, "assigned_partitions": 4 * settings.topic_partitions,
                                 "clickhouse": True})  # fmt: skip
    assert 'clickpulse_loader_rows_total{table="events"} 10' in page
    assert "clickpulse_loader_failed_records_total 0" in page
    assert "clickpulse_loader_ready 1" in page
    with pytest.raises(httpx.ConnectError):  # the probes stopped with the loader
        httpx.get(f"{base}/healthz", timeout=1)


def test_the_api_is_ready_and_serves_its_embedded_loaders_metrics(stack: RunningStack) -> None:
    assert httpx.get(f"{stack.api}/readyz", timeout=5).json() == {"ready": True, "clickhouse": True, "redis": True}
    page = httpx.get(f"{stack.api}/metrics", timeout=5)
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE clickpulse_loader_rows_total counter" in page.text
