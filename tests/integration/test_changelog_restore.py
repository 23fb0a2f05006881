"""A worker restarted after a kill -9 rebuilds its visitor table from the changelog against real Kafka: the bulk
way (stream_jobs.changelog_restore) writes the records, and the rebuilt store holds each visitor's last row."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rocksdict import AccessType, Options, Rdict

from clickpulse.records import EnrichedEvent
from clickpulse.settings import Settings
from tests.kafka_and_redis import kafka_and_redis_at, settings_of, start_worker, stop_worker
from tests.kafka_records import put_events, table_changelog
from tests.running_stack import TEST_PORT_BASE, wait_until

pytestmark = pytest.mark.integration
BASE = TEST_PORT_BASE + 440
VISITORS = 3000
FAUST_OFFSET_KEY = b"__faust\x00offset__"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[dict[str, str], Settings]]:
    with kafka_and_redis_at(BASE, "cp-restore-") as env:
        yield env, settings_of(env)


def changelog_rows(settings: Settings) -> tuple[dict[bytes, bytes], int]:
    """The visitor table's changelog as a table (each key's last value), and how many records it has."""
    records = table_changelog(settings)
    rows: dict[bytes, bytes] = {}
    for record in records:
        assert record.key is not None and record.value is not None
        rows[record.key] = record.value
    return rows, len(records)


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
        stop_worker(worker)
    rows, _ = changelog_rows(settings)
    assert len(rows) == VISITORS
    assert store_rows(Path(env["CLICKPULSE_DATA_DIR"])) == rows
