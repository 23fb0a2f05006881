"""A worker restarted after a kill -9 rebuilds its visitor table from the changelog against real Kafka: the bulk
way (stream_jobs.changelog_restore) writes the records, and the rebuilt store holds each visitor's last row."""

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

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from rocksdict import AccessType, Options, Rdict

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.ports import KAFKA, REDIS, ports_env
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.local_stack.supervisor import Service, Supervisor, port_open
from clickpulse.records import EnrichedEvent
from clickpulse.settings import REPO_ROOT, Settings
from clickpulse.topics import ensure_topics
from tests.kafka_records import put_events
from tests.running_stack import TEST_PORT_BASE, wait_until

pytestmark = pytest.mark.integration
BASE = TEST_PORT_BASE + 440
VISITORS = 3000
FAUST_OFFSET_KEY = b"__faust\x00offset__"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[dict[str, str], Settings]]:
    folder = Path(tempfile.mkdtemp(prefix="cp-restore-"))
    env = {**os.environ, **ports_env(BASE), "CLICKPULSE_DATA_DIR": str(folder)}
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()
                           if k.startswith("CLICKPULSE_")})  # fmt: skip
    supervisor = Supervisor(folder / "logs", folder / "stack.json", env)
    try:
        supervisor.start(Service("redis", redis_command(settings), lambda: port_open("127.0.0.1", BASE + REDIS)))
        supervisor.start(Service("kafka", broker_command(settings), lambda: port_open("127.0.0.1", BASE + KAFKA)))
        asyncio.run(ensure_topics(settings))
        yield env, settings
    finally:
        supervisor.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(env["CLICKPULSE_DATA_DIR"]) / "logs" / "worker.log", "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen([sys.executable, "-m", "clickpulse.cli", "worker"], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def changelog_rows(settings: Settings) -> tuple[dict[bytes, bytes], int]:
    """The visitor table's changelog as a table (each key's last value) and how many records it has, once the
    worker has created it."""

    async def read() -> tuple[dict[bytes, bytes], int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                    group_id=None)  # fmt: skip
        await consumer.start()
        try:
            topics = [t for t in await consumer.topics() if t.endswith("-changelog")]
            if not topics:  # the worker has not created it yet
                return {}, 0
            assert len(topics) == 1, topics
            consumer.subscribe(topics)
            rows: dict[bytes, bytes] = {}
            records = 0
            while batches := await consumer.getmany(timeout_ms=2000):
                for fetched in batches.values():
                    for record in fetched:
                        assert record.key is not None and record.value is not None
                        rows[record.key] = record.value
                        records += 1
            return rows, records
        finally:
            await consumer.stop()

    return asyncio.run(read())


def store_rows(data_dir: Path) -> dict[bytes, bytes]:
    """Every row of the worker's RocksDB partition databases, read once the worker has stopped."""
    rows: dict[bytes, bytes] = {}
    databases = sorted((data_dir / "worker").rglob("*.db"))
    assert databases, sorted(p.name for p in (data_dir / "worker").rglob("*"))
    for path in databases:
        options = Options(raw_mode=True)
        db = Rdict(str(path), options=options, access_type=AccessType.read_only())
        try:
            rows.update((key, value) for key, value in db.items() if key != FAUST_OFFSET_KEY)
        finally:
            db.close()
    return rows


def restored_total(settings: Settings) -> float:
    text = httpx.get(f"http://127.0.0.1:{settings.worker_http_port}/metrics", timeout=5).text
    (line,) = [x for x in text.splitlines() if x.startswith("clickpulse_worker_changelog_records_restored_total ")]
    return float(line.split()[1])


def ready(settings: Settings) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{settings.worker_http_port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_worker_killed_with_9_rebuilds_every_visitors_last_row_from_the_changelog_in_bulk(
    stack: tuple[dict[str, str], Settings],
) -> None:
    env, settings = stack
    now = int(time.time() * 1000)
    events = [
        EnrichedEvent(event_id=str(uuid.uuid4()), site_id="restore", visitor_id=f"v{n}", type="pageview",
                      ts=now + step, received_at=now, path=f"/{step}")
        for step in range(2) for n in range(VISITORS)
    ]  # fmt: skip
    put_events(settings, events)
    worker = start_worker(env)
    try:
        assert wait_until(lambda: len(changelog_rows(settings)[0]) == VISITORS, timeout_s=120)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        worker = start_worker(env)
        assert wait_until(lambda: ready(settings), timeout_s=120)
        _, records = changelog_rows(settings)
        # Only each partition's last record, and what comes while another waits in Faust's queue, go Faust's way.
        assert restored_total(settings) >= records / 2
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
    rows, _ = changelog_rows(settings)
    assert len(rows) == VISITORS
    assert store_rows(Path(env["CLICKPULSE_DATA_DIR"])) == rows
