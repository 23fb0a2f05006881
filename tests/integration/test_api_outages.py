"""While Redis or Kafka is unreachable the API answers 503 with Retry-After in its error shape, not a bare 500 and a
traceback: Redis holds the read keys and the live state, Kafka carries erasures to the stream workers."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.intent_feed import encode_cursor
from clickpulse.local_stack.ports import KAFKA, REDIS
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.settings import Settings
from clickpulse.sites import create_site
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration
REDIS_PORT = TEST_PORT_BASE + 820 + REDIS
KAFKA_PORT = TEST_PORT_BASE + 820 + KAFKA


@pytest.mark.parametrize("route", ["stats", "realtime", "intent", "customers/crm-1"])
def test_a_query_while_redis_is_unreachable_answers_503_redis_unavailable_with_retry_after(
    tmp_path: Path, route: str
) -> None:
    assert port_free(REDIS_PORT)
    settings = Settings(data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0")
    # Without its lifespan the app opens no ClickHouse: the read key's check in Redis is what fails first.
    client = TestClient(create_app(settings, run_loader=False), raise_server_exceptions=False)
    response = client.get(f"/v1/sites/s_1/{route}", headers={"Authorization": "Bearer rk_1"})
    assert response.status_code == 503
    assert response.json()["error"] == "redis_unavailable"
    assert int(response.headers["Retry-After"]) > 0


@pytest.fixture
def redis_without_kafka(tmp_path: Path) -> Iterator[Settings]:
    """Settings of a stack whose Redis runs and whose Kafka is unreachable."""
    assert port_free(REDIS_PORT) and port_free(KAFKA_PORT)
    settings = Settings(
        data_dir=tmp_path,
        redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0",
        kafka_bootstrap=f"127.0.0.1:{KAFKA_PORT}",
        clickhouse_dsn=f"chdb://{tmp_path / 'ch'}",
    )
    redis = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)
    try:
        while port_free(REDIS_PORT):
            subprocess.run(["sleep", "0.05"], check=True)
        yield settings
    finally:
        redis.terminate()
        redis.wait(10)


def test_an_erasure_while_kafka_is_unreachable_answers_503_kafka_unavailable_with_retry_after(
    redis_without_kafka: Settings,
) -> None:
    settings = redis_without_kafka
    site = asyncio.run(create_site(settings.redis_url, "erasures-without-kafka"))
    with TestClient(create_app(settings, run_loader=False), raise_server_exceptions=False) as client:
        response = client.delete(
            f"/v1/sites/{site.site_id}/visitors/v_1", headers={"Authorization": f"Bearer {site.admin_key}"}
        )
    assert response.status_code == 503
    assert response.json()["error"] == "kafka_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_the_intent_feed_while_kafka_is_unreachable_answers_a_cursor_503_and_a_first_page_200(
    redis_without_kafka: Settings,
) -> None:
    # A cursor is checked against where Kafka's partitions end: unchecked, one past an end would skip signals.
    settings = redis_without_kafka
    site = asyncio.run(create_site(settings.redis_url, "intent-without-kafka"))
    path, headers = f"/v1/sites/{site.site_id}/intent", {"Authorization": f"Bearer {site.read_key}"}
    with TestClient(create_app(settings, run_loader=False), raise_server_exceptions=False) as client:
        first = client.get(path, headers=headers)
        later = client.get(path, params={"cursor": encode_cursor(site.site_id, {0: 41})}, headers=headers)
    assert (first.status_code, first.json()["signals"]) == (200, [])
    assert (later.status_code, later.json()["error"]) == (503, "kafka_unavailable")
    assert int(later.headers["Retry-After"]) > 0


def test_readyz_answers_503_naming_redis_while_it_is_unreachable_and_200_once_it_is_back(tmp_path: Path) -> None:
    assert port_free(REDIS_PORT)
    settings = Settings(
        data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0", clickhouse_dsn=f"chdb://{tmp_path / 'ch'}"
    )
    with TestClient(create_app(settings, run_loader=False), raise_server_exceptions=False) as client:
        down = client.get("/readyz")
        assert client.get("/healthz").status_code == 200  # liveness asks no dependency
        redis = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)
        try:
            while port_free(REDIS_PORT):
                subprocess.run(["sleep", "0.05"], check=True)
            up = client.get("/readyz")
        finally:
            redis.terminate()
            redis.wait(10)
    assert (down.status_code, down.json()) == (503, {"ready": False, "clickhouse": True, "redis": False})
    assert (up.status_code, up.json()) == (200, {"ready": True, "clickhouse": True, "redis": True})


def test_a_live_stream_open_when_redis_goes_away_ends_cleanly(tmp_path: Path) -> None:
    # It raised once its response had begun: an ERROR with a traceback per open dashboard, and a broken chunked body.
    assert port_free(REDIS_PORT)
    settings = Settings(data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0")
    redis = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)
    try:
        while port_free(REDIS_PORT):
            subprocess.run(["sleep", "0.05"], check=True)
        site = asyncio.run(create_site(settings.redis_url, "live-without-redis"))
        threading.Timer(2.0, redis.kill).start()  # while the stream waits for its next update
        client = TestClient(create_app(settings, run_loader=False))  # raises what the app raises
        response = client.get(f"/v1/sites/{site.site_id}/live", headers={"Authorization": f"Bearer {site.read_key}"})
    finally:
        redis.kill()
        redis.wait(10)
    assert response.status_code == 200
    assert response.text.startswith("data: {") and response.text.endswith("\n\n")
