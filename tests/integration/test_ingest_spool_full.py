"""Ingest with Kafka unreachable, over HTTP: spooled batches get 202, then a full spool 503; a spool whose disk
fails answers 503 too, at once, instead of leaving the request waiting."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from clickpulse.settings import Settings
from ingest.app import create_app
from tests.running_stack import TEST_PORT_BASE, RunningStack, port_free

pytestmark = pytest.mark.integration
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def batch(write_key: str) -> str:
    event = {"id": str(uuid.uuid4()), "type": "pageview", "ts": int(time.time() * 1000), "url": "https://s.test/"}
    return json.dumps({"write_key": write_key, "visitor_id": "v1", "events": [event]})


def without_kafka(stack: RunningStack, tmp_path: Path, port_offset: int, **settings: object) -> Settings:
    """The stack's settings with a Kafka address nothing listens on, and a spool of the test's own."""
    dead_broker = TEST_PORT_BASE + port_offset
    assert port_free(dead_broker)
    update = {"kafka_bootstrap": f"127.0.0.1:{dead_broker}", "data_dir": tmp_path, "produce_deadline_s": 0.2}
    return stack.settings.model_copy(update={**update, **settings})


def test_while_kafka_is_unreachable_batches_are_spooled_with_202_until_a_full_spool_answers_503(
    stack: RunningStack, tmp_path: Path
) -> None:
    site = stack.create_site("spool-full")
    settings = without_kafka(stack, tmp_path, 341, spool_max_bytes=4096)
    headers = {"User-Agent": BROWSER_UA, "Accept-Language": "en", "Content-Type": "text/plain"}
    with TestClient(create_app(settings), client=("192.0.2.10", 50000)) as client:
        statuses = []
        for _ in range(40):
            response = client.post("/collect", content=batch(site["write_key"]), headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 503:
                break
        assert statuses[0] == 202 and set(statuses[:-1]) == {202}, statuses
        assert statuses[-1] == 503, statuses
        assert response.json() == {"error": "spool_full"}
        assert int(response.headers["Retry-After"]) > 0
        metrics = client.get("/metrics").text
        assert "clickpulse_ingest_kafka_up 0.0" in metrics
        spooled = next(line for line in metrics.splitlines() if line.startswith("clickpulse_ingest_spool_bytes "))
        assert 0 < float(spooled.split()[1]) <= 4096
        assert client.get("/readyz").status_code == 503


@pytest.mark.timeout(60)  # the failure this guards against is a request that never gets an answer
def test_while_kafka_is_unreachable_a_spool_whose_disk_fails_answers_503_spool_unavailable(
    stack: RunningStack, tmp_path: Path
) -> None:
    site = stack.create_site("spool-disk-fails")
    settings = without_kafka(stack, tmp_path, 342)
    headers = {"User-Agent": BROWSER_UA, "Accept-Language": "en", "Content-Type": "text/plain"}
    with TestClient(create_app(settings), client=("192.0.2.11", 50000)) as client:
        # A file where the spool folder was: every spool write fails with an OSError, as on a failing disk.
        shutil.rmtree(tmp_path / "ingest-spool")
        (tmp_path / "ingest-spool").write_bytes(b"")
        response = client.post("/collect", content=batch(site["write_key"]), headers=headers)
        assert response.status_code == 503 and response.json() == {"error": "spool_unavailable"}
        assert int(response.headers["Retry-After"]) > 0
        assert 'clickpulse_ingest_total{what="spool_unavailable"} 1' in client.get("/metrics").text.splitlines()
