"""The worker's sweep against real Kafka and Redis: an idle session is closed by the sweep, and a worker
restarted on its table re-emits what it holds (the full sweep of a new generation), retractions included, without
writing its rows again."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.ports import KAFKA, REDIS, ports_env
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.local_stack.supervisor import Service, Supervisor, port_open
from clickpulse.records import SESSIONS_TOPIC, EnrichedEvent, Session, session_decoder
from clickpulse.settings import REPO_ROOT, Settings
from clickpulse.topics import ensure_topics
from stream_jobs.sessionizer import session_id
from tests.kafka_records import put_events
from tests.running_stack import TEST_PORT_BASE, wait_until

pytestmark = pytest.mark.integration
BASE = TEST_PORT_BASE + 400
# Sessions close after 1 s of silence, and the sweep looks every second.
TIMERS = {"CLICKPULSE_SESSION_GAP_S": "1", "CLICKPULSE_SESSION_GRACE_S": "0", "CLICKPULSE_SESSION_SWEEP_S": "1"}


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="cp-sweep-"))
    env = {**os.environ, **ports_env(BASE), **TIMERS, "CLICKPULSE_DATA_DIR": str(folder)}
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()
                           if k.startswith("CLICKPULSE_")})  # fmt: skip
    supervisor = Supervisor(folder / "logs", folder / "stack.json", env)
    try:
        supervisor.start(Service("redis", redis_command(settings), lambda: port_open("127.0.0.1", BASE + REDIS)))
        supervisor.start(Service("kafka", broker_command(settings), lambda: port_open("127.0.0.1", BASE + KAFKA)))
        asyncio.run(ensure_topics(settings))
        yield env
    finally:
        supervisor.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(env["CLICKPULSE_DATA_DIR"]) / "logs" / "worker.log", "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen([sys.executable, "-m", "clickpulse.cli", "worker"], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def stop(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def pageview(site: str, visitor: str, ts: int) -> EnrichedEvent:
    now = int(time.time() * 1000)
    return EnrichedEvent(event_id=str(uuid.uuid4()), site_id=site, visitor_id=visitor, type="pageview", ts=ts,
                         received_at=now, path=f"/{ts}")  # fmt: skip


def sessions_of(settings: Settings, site: str) -> list[Session]:
    """Every session record of the site on the sessions topic so far, in the order written (one key, one partition)."""

    async def read() -> list[Session]:
        consumer = AIOKafkaConsumer(settings.topic(SESSIONS_TOPIC), bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", group_id=None)  # fmt: skip
        await consumer.start()
        try:
            out: list[Session] = []
            while batches := await consumer.getmany(timeout_ms=1000):
                for records in batches.values():
                    out += [s for s in map(session_decoder.decode, (r.value for r in records)) if s.site_id == site]
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


def changelog_rows_of(settings: Settings, site: str) -> int:
    """How many records of the site's visitors the table's changelog holds."""

    prefix = f"{site}:".encode()

    async def read() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                    group_id=None)  # fmt: skip
        await consumer.start()
        try:
            consumer.subscribe([t for t in await consumer.topics() if t.endswith("-changelog")])
            n = 0
            while batches := await consumer.getmany(timeout_ms=1000):
                n += sum(1 for records in batches.values() for r in records if (r.key or b"").startswith(prefix))
            return n
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_an_idle_session_closes_by_sweep_and_a_restarted_worker_re_emits_its_retractions(
    services: dict[str, str],
) -> None:
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in services.items()
                           if k.startswith("CLICKPULSE_")})  # fmt: skip
    site, t0 = f"s{uuid.uuid4().hex[:8]}", int(time.time() * 1000) - 60_000
    worker = start_worker(services)
    try:
        put_events(settings, [pageview(site, "v", t0), pageview(site, "v", t0 + 2_000)])  # two sessions, 2 s apart
        absorbed = session_id(site, "v", t0 + 2_000)
        assert wait_until(lambda: {s.session_id for s in sessions_of(settings, site) if s.closed} >= {absorbed}, 60)
        put_events(settings, [pageview(site, "v", t0 + 1_000)])  # within the gap of both: merges them
        merged = session_id(site, "v", t0)

        def merged_and_closed() -> bool:
            latest = {s.session_id: s for s in sessions_of(settings, site)}
            return latest.keys() == {absorbed, merged} and latest[absorbed].deleted and latest[merged].closed

        assert wait_until(merged_and_closed, 30) is True  # the absorbed one retracted, the merged one closed
        before = len(sessions_of(settings, site))
    finally:
        stop(worker)
    rows_before = changelog_rows_of(settings, site)  # the stop sent what it had
    worker = start_worker(services)  # a new process, a new generation: the full sweep re-emits the table
    try:
        wait_until(lambda: len(sessions_of(settings, site)) >= before + 2, 60)
        again = sessions_of(settings, site)[before:]
    finally:
        stop(worker)
    assert sorted((s.session_id, s.deleted) for s in again) == sorted([(absorbed, True), (merged, False)])
    assert changelog_rows_of(settings, site) == rows_before  # re-emitting left the row as it was
