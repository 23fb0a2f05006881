"""Ingest's /metrics over HTTP against the real Redis and Kafka: each rejected event is counted once."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ingest.app import create_app
from tests.running_stack import RunningStack

pytestmark = pytest.mark.integration
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def test_one_event_of_an_unknown_type_shows_as_one_rejection_in_the_metrics(
    stack: RunningStack, tmp_path: Path
) -> None:
    site = stack.create_site("metrics-once")
    event = {"id": str(uuid.uuid4()), "type": "teleport", "ts": int(time.time() * 1000), "url": "https://s.test/"}
    body = json.dumps({"write_key": site["write_key"], "visitor_id": "v1", "events": [event]})
    headers = {"User-Agent": BROWSER_UA, "Accept-Language": "en", "Content-Type": "text/plain"}
    with TestClient(create_app(stack.settings.model_copy(update={"data_dir": tmp_path}))) as client:
        response = client.post("/collect", content=body, headers=headers)
        assert response.status_code == 400 and response.json()["errors"] == ["unknown_event_type"]
        lines = client.get("/metrics").text.splitlines()
    assert 'clickpulse_ingest_rejected_total{reason="unknown_event_type"} 1' in lines
