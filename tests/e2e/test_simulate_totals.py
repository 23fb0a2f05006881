"""`clickpulse simulate` ends with its totals: the events it reports sent are the events ingest accepted (its last
line was the progress of up to half a second before the end, so the last shoppers' events were missing)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clickpulse.local_stack.ports import INGEST, KAFKA, REDIS, ports_env
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.settings import Settings
from clickpulse.sites import create_site
from tests.running_stack import TEST_PORT_BASE, port_free, wait_until

pytestmark = pytest.mark.e2e
BASE = TEST_PORT_BASE + 800


def accepted_events(ingest: str) -> int:
    metrics = httpx.get(f"{ingest}/metrics").text
    return int(re.search(r'what="accepted_events"} (\d+)', metrics)[1])  # type: ignore[index]


def test_the_events_simulate_reports_sent_are_the_events_ingest_accepted(tmp_path: Path) -> None:
    assert all(port_free(BASE + offset) for offset in (INGEST, KAFKA, REDIS))
    # No Kafka: ingest answers each batch from its spool after the produce deadline, so requests end late.
    env = {**os.environ, **ports_env(BASE), "CLICKPULSE_DATA_DIR": str(tmp_path)}
    env["CLICKPULSE_PRODUCE_DEADLINE_S"] = "0.3"
    settings = Settings(redis_url=env["CLICKPULSE_REDIS_URL"], data_dir=tmp_path)
    redis = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)
    ingest = None
    try:
        assert wait_until(lambda: not port_free(BASE + REDIS), timeout_s=10, every_s=0.1)
        site = asyncio.run(create_site(settings.redis_url, "simulated"))
        ingest = subprocess.Popen(
            [sys.executable, "-m", "clickpulse.cli", "ingest"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{BASE + INGEST}"
        assert wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, timeout_s=30, every_s=0.2)
        done = subprocess.run(
            [sys.executable, "-m", "clickpulse.cli", "simulate", site.write_key, "--visitors", "3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        reported = int(re.findall(r"events (\d+)", done.stdout)[-1])  # the last progress line
        assert reported == accepted_events(url) > 0
    finally:
        if ingest is not None:
            ingest.terminate()
            ingest.wait(30)
        redis.terminate()
        redis.wait(10)
