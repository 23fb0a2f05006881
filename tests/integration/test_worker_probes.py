"""A stream worker's probes against the real Kafka and Redis of the shared stack: /healthz answers while it starts,
/readyz answers 503 saying why until its group has assigned it the events' partitions and its table is recovered,
then 200, and /metrics counts the events it handled, in the Prometheus text format."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from clickpulse.records import EnrichedEvent
from clickpulse.settings import REPO_ROOT
from tests.kafka_records import put_events
from tests.running_stack import TEST_PORT_BASE, RunningStack, wait_until

pytestmark = pytest.mark.integration
PROBE_PORT = TEST_PORT_BASE + 600


def metric(text: str, name: str) -> float | None:
    """The value of an unlabelled sample of a Prometheus text page."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def pageview(visitor: str, n: int) -> EnrichedEvent:
    now = int(time.time() * 1000)
    return EnrichedEvent(event_id=uuid.uuid4().hex, site_id="probe", visitor_id=visitor, type="pageview", ts=now + n,
                         received_at=now, path=f"/{n}")  # fmt: skip


def test_readyz_goes_from_503_to_200_once_partitions_are_assigned_and_metrics_count_the_events(
    stack: RunningStack, tmp_path: Path
) -> None:
    own = uuid.uuid4().hex[:8]
    env = {
        **stack.env,
        # Topics and a consumer group of its own on the stack's Kafka, next to the stack's worker.
        "CLICKPULSE_TOPIC_PREFIX": f"probe-{own}-",
        "CLICKPULSE_WORKER_ID": f"probe-{own}",
        "CLICKPULSE_WORKER_INSTANCE": "probe",
        "CLICKPULSE_WORKER_HTTP_PORT": str(PROBE_PORT),
        "CLICKPULSE_DATA_DIR": str(tmp_path),
    }
    settings = stack.settings.model_copy(update={"topic_prefix": f"probe-{own}-"})
    base = f"http://127.0.0.1:{PROBE_PORT}"
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "clickpulse.cli", "worker"], cwd=REPO_ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        answers: list[tuple[int, dict[str, object]]] = []

        def ready() -> bool:
            response = httpx.get(f"{base}/readyz", timeout=2)
            answers.append((response.status_code, response.json()))
            return response.status_code == 200

        assert wait_until(ready, timeout_s=90, every_s=0.05), (tmp_path / "worker.log").read_text()[-3000:]
        status, first = answers[0]
        assert status == 503 and first["ready"] is False
        assert {"member", "assigned_partitions", "rebalancing", "recovered"} <= first.keys()
        assert answers[-1][1] == {"ready": True, "member": True, "assigned_partitions": settings.topic_partitions,
                                  "rebalancing": False, "recovered": True}  # fmt: skip
        assert httpx.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"}

        put_events(settings, [pageview(f"v{i % 5}", i) for i in range(30)])

        def counted() -> str | None:
            page = httpx.get(f"{base}/metrics", timeout=2)
            return page.text if metric(page.text, "clickpulse_worker_events_total") == 30 else None

        page = wait_until(counted, timeout_s=30, every_s=0.2)
        assert page, httpx.get(f"{base}/metrics", timeout=2).text
        assert "# TYPE clickpulse_worker_events_total counter" in page
        assert metric(page, "clickpulse_worker_events_applied_total") == 30
        assert metric(page, "clickpulse_worker_batches_total")
        assert metric(page, "clickpulse_worker_assigned_partitions") == settings.topic_partitions
        assert metric(page, "clickpulse_worker_ready") == 1
        assert 'clickpulse_worker_records_emitted_total{topic="sessions"} ' in page
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        log.close()
