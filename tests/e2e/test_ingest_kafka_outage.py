"""Kafka stopped for 30 s under steady load: ingest answers 202 from its spool meanwhile, replays it when
Kafka is back, and every accepted event lands in `events` exactly once, in order per visitor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.ports import INGEST, REDIS
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.local_stack.supervisor import Service, Supervisor, http_ok, port_open
from clickpulse.records import EVENTS_TOPIC, event_decoder
from clickpulse.settings import Settings
from clickpulse.sites import create_site
from clickpulse.topics import ensure_topics
from tests.running_stack import TEST_PORT_BASE, send_batch, stack_env, wait_until

BASE = TEST_PORT_BASE + 300
OUTAGE_S = 30
BATCHES_PER_S = 20
VISITORS = 10


def java_partition(key: bytes, partitions: list[int]) -> int:
    """Where Java's and aiokafka's default partitioner put a key (murmur2), as the other producers do."""
    return int(DefaultPartitioner()(key, partitions, partitions))


class Broker:
    """The Kafka broker as a process of its own, so the test can stop it and start it again on its data."""

    def __init__(self, settings: Settings, env: dict[str, str], log: Path) -> None:
        self.command = broker_command(settings)
        self.env = env
        self.log = log
        self.port = int(settings.kafka_bootstrap.rsplit(":", 1)[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip
        assert wait_until(lambda: port_open("127.0.0.1", self.port), timeout_s=90, every_s=0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture()
def ingest_and_broker(tmp_path: Path) -> Iterator[tuple[Settings, Broker, str]]:
    env = {**os.environ, **stack_env(BASE), "CLICKPULSE_DATA_DIR": str(tmp_path)}
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()
                           if k.startswith("CLICKPULSE_")})  # fmt: skip
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json", env)
    broker = Broker(settings, env, tmp_path / "logs" / "kafka.log")
    try:
        supervisor.start(Service("redis", redis_command(settings), lambda: port_open("127.0.0.1", BASE + REDIS)))
        broker.start()
        asyncio.run(ensure_topics(settings))
        ingest = f"http://127.0.0.1:{BASE + INGEST}"
        supervisor.start(Service("ingest", [sys.executable, "-m", "clickpulse.cli", "ingest"],
                                 lambda: http_ok(f"{ingest}/healthz")))  # fmt: skip
        yield settings, broker, ingest
    finally:
        supervisor.request_stop()
        supervisor.stop_all()
        broker.stop()


Seen = tuple[str, str, bool]  # visitor, event id, whether it sits in the partition Java's partitioner picks


async def events_of(settings: Settings, site_id: str, expected: int, timeout_s: float) -> list[Seen]:
    """The site's events in `events`, in partition order, once `expected` are there."""
    consumer = AIOKafkaConsumer(settings.topic(EVENTS_TOPIC), bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    partitions = sorted(consumer.partitions_for_topic(settings.topic(EVENTS_TOPIC)) or [])

    def seen_as(message: ConsumerRecord[bytes, bytes]) -> Seen:
        event = event_decoder.decode(message.value)
        return event.visitor_id, event.event_id, java_partition(message.key, partitions) == message.partition

    seen: list[Seen] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                seen += [seen_as(m) for m in messages if m.key.startswith(site_id.encode() + b":")]
        # Anything beyond `expected` would be a duplicate: give it a moment to show up.
        for messages in (await consumer.getmany(timeout_ms=2000)).values():
            seen += [seen_as(m) for m in messages if m.key.startswith(site_id.encode() + b":")]
    finally:
        await consumer.stop()
    return seen


def metric(ingest: str, what: str) -> float:
    for line in httpx.get(f"{ingest}/metrics").text.splitlines():
        if line.startswith(what + " ") or line.startswith(f'clickpulse_ingest_total{{what="{what}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_kafka_down_30_s_under_steady_load_loses_and_duplicates_nothing_and_keeps_visitor_order(
    ingest_and_broker: tuple[Settings, Broker, str],
) -> None:
    settings, broker, ingest = ingest_and_broker
    created = asyncio.run(create_site(settings.redis_url, "outage"))
    site = {"site_id": created.site_id, "write_key": created.write_key}
    sent: dict[str, list[str]] = {f"visitor-{n}": [] for n in range(VISITORS)}
    statuses: list[int] = []
    stop = threading.Event()

    def steady_load() -> None:
        n = 0
        while not stop.is_set():
            visitor = f"visitor-{n % VISITORS}"
            events = [{"id": str(uuid.uuid4()), "type": "pageview", "url": f"https://shop.test/{n}"} for _ in range(3)]
            statuses.append(send_batch(ingest, site, visitor, events))
            sent[visitor] += [e["id"] for e in events]
            n += 1
            time.sleep(1 / BATCHES_PER_S)

    sender = threading.Thread(target=steady_load)
    sender.start()
    try:
        time.sleep(3)
        broker.stop()
        time.sleep(OUTAGE_S)
        spooled_during_outage = metric(ingest, "spooled_records")
        broker.start()
        time.sleep(3)
    finally:
        stop.set()
        sender.join(timeout=60)

    assert spooled_during_outage > 0 and 202 in statuses
    assert set(statuses) <= {200, 202}
    assert wait_until(lambda: metric(ingest, "clickpulse_ingest_spool_bytes") == 0, timeout_s=60, every_s=0.5)
    total = sum(len(ids) for ids in sent.values())
    seen = asyncio.run(events_of(settings, site["site_id"], total, timeout_s=30))
    ids = [event_id for _, event_id, _ in seen]
    assert len(ids) == len(set(ids)) == total
    assert all(where_java_puts_it for _, _, where_java_puts_it in seen)
    by_visitor: dict[str, list[str]] = {}
    for visitor, event_id, _ in seen:
        by_visitor.setdefault(visitor, []).append(event_id)
    assert sorted(by_visitor.values()) == sorted(sent.values())
