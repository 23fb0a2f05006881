"""While Redis is unreachable the API answers 503 with Retry-After in its error shape, not a bare 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from clickpulse.local_stack.ports import REDIS
from clickpulse.settings import Settings
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("route", ["stats", "realtime", "intent", "customers/crm-1"])
def test_a_query_while_redis_is_unreachable_answers_503_redis_unavailable_with_retry_after(
    tmp_path: Path, route: str
) -> None:
    redis_port = TEST_PORT_BASE + 820 + REDIS
    assert port_free(redis_port)
    settings = Settings(data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{redis_port}/0")
    # Without its lifespan the app opens no ClickHouse: the read key's check in Redis is what fails first.
    client = TestClient(create_app(settings, run_loader=False), raise_server_exceptions=False)
    response = client.get(f"/v1/sites/s_1/{route}", headers={"Authorization": "Bearer rk_1"})
    assert response.status_code == 503
    assert response.json()["error"] == "redis_unavailable"
    assert int(response.headers["Retry-After"]) > 0
